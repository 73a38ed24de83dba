//! `kokeilu dlq`: list dead-lettered messages and replay them to their original subject.
//!
//! A replayed message keeps its envelope (and so its message id, which the consumer's inbox
//! checks) but gets a new `Nats-Msg-Id`, so JetStream does not drop it as a duplicate of the
//! first delivery.

use async_nats::jetstream;
use clap::{Args, Subcommand};
use kokeilu_bus::consumer::{
    DLQ_CONSUMER, DLQ_DELIVERIES, DLQ_REASON, DLQ_SECURITY_EVENT, DLQ_SUBJECT,
};
use kokeilu_proto::subjects;

#[derive(Debug, Args)]
pub struct NatsTarget {
    /// NATS URL (default: the stack started by `kokeilu up`).
    #[arg(long, env = "KOKEILU_NATS_URL")]
    nats_url: Option<String>,
    /// NATS user (the `operator` user of deploy/nats/accounts.conf in production).
    #[arg(long, env = "KOKEILU_NATS_USER")]
    nats_user: Option<String>,
    #[arg(long, env = "KOKEILU_NATS_PASSWORD", hide_env_values = true)]
    nats_password: Option<String>,
    /// CA certificate (PEM) of the NATS servers.
    #[arg(long, env = "KOKEILU_NATS_CA")]
    nats_ca: Option<std::path::PathBuf>,
    #[arg(long, env = "KOKEILU_DATA_DIR", default_value = ".kokeilu")]
    data_dir: std::path::PathBuf,
}

impl NatsTarget {
    async fn connect(&self) -> anyhow::Result<jetstream::Context> {
        self.connect_as("kokeilu-dlq").await
    }

    /// Connects as the configured user, naming the connection `name`.
    pub(crate) async fn connect_as(&self, name: &str) -> anyhow::Result<jetstream::Context> {
        let url = match &self.nats_url {
            Some(u) => u.clone(),
            None => crate::stack::StackInfo::load(&self.data_dir)?.nats_url,
        };
        let login = kokeilu_bus::nats::Login {
            urls: url,
            user: self.nats_user.clone().map(|u| {
                (
                    u,
                    kokeilu_platform::config::Secret::new(
                        self.nats_password.clone().unwrap_or_default(),
                    ),
                )
            }),
            ca: self.nats_ca.clone(),
        };
        let client = kokeilu_bus::nats::connect(&login, name, std::time::Duration::ZERO).await?;
        Ok(jetstream::new(client))
    }
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters.
    List(NatsTarget),
    /// Republish one dead letter (by its DLQ stream sequence) to its original subject.
    Replay {
        #[command(flatten)]
        target: NatsTarget,
        sequence: u64,
    },
}

pub async fn run(cmd: DlqCommand) -> anyhow::Result<()> {
    match cmd {
        DlqCommand::List(target) => {
            let js = target.connect().await?;
            let mut stream = js.get_stream(subjects::DEAD_LETTER_STREAM).await?;
            let info = stream.info().await?;
            let mut letters = Vec::new();
            if info.state.messages == 0 {
                if crate::output::json() {
                    crate::output::document(&serde_json::json!({ "dead_letters": letters }));
                } else {
                    println!("no dead letters");
                }
                return Ok(());
            }
            for seq in info.state.first_sequence..=info.state.last_sequence {
                let Ok(msg) = stream.get_raw_message(seq).await else {
                    continue;
                };
                let h = |k: &str| {
                    msg.headers
                        .get(k)
                        .map(|v| v.as_str().to_owned())
                        .unwrap_or_default()
                };
                if crate::output::json() {
                    letters.push(serde_json::json!({
                        "sequence": seq,
                        "subject": h(DLQ_SUBJECT),
                        "consumer": h(DLQ_CONSUMER),
                        "deliveries": h(DLQ_DELIVERIES).parse::<u64>().ok(),
                        "reason": h(DLQ_REASON),
                        "security_event": h(DLQ_SECURITY_EVENT) == "true",
                    }));
                    continue;
                }
                println!(
                    "{seq:>6}  {}  consumer {}  deliveries {}  {}reason: {}",
                    h(DLQ_SUBJECT),
                    h(DLQ_CONSUMER),
                    h(DLQ_DELIVERIES),
                    if h(DLQ_SECURITY_EVENT) == "true" {
                        "SECURITY EVENT  "
                    } else {
                        ""
                    },
                    h(DLQ_REASON)
                );
            }
            if crate::output::json() {
                crate::output::document(&serde_json::json!({ "dead_letters": letters }));
            }
            Ok(())
        }
        DlqCommand::Replay { target, sequence } => {
            let js = target.connect().await?;
            let stream = js.get_stream(subjects::DEAD_LETTER_STREAM).await?;
            let msg = stream.get_raw_message(sequence).await?;
            let subject = msg
                .headers
                .get(DLQ_SUBJECT)
                .map(|v| v.as_str().to_owned())
                .ok_or_else(|| anyhow::anyhow!("dead letter {sequence} has no original subject"))?;
            let mut headers = async_nats::HeaderMap::new();
            for key in ["traceparent", "tracestate"] {
                if let Some(v) = msg.headers.get(key) {
                    headers.insert(key, v.as_str());
                }
            }
            let publish = jetstream::message::PublishMessage::build()
                .payload(msg.payload.clone())
                .headers(headers)
                .message_id(format!(
                    "replay:{}:{sequence}",
                    subjects::DEAD_LETTER_STREAM
                ));
            js.send_publish(subject.clone(), publish).await?.await?;
            if crate::output::json() {
                crate::output::document(&serde_json::json!({
                    "sequence": sequence,
                    "subject": subject,
                }));
            } else {
                println!("replayed dead letter {sequence} to {subject}");
            }
            Ok(())
        }
    }
}
