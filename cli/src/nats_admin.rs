//! `kokeilu nats provision`: the operator step that creates every Kokeilu stream with its exact
//! configuration (`kokeilu_bus::streams`), or brings a drifted one back to it. Services only check
//! the streams at start and refuse to run when they differ; their NATS users cannot create them.
//!
//! Run it as the `operator` user of deploy/nats/accounts.conf before the services start, and
//! again after upgrading Kokeilu (deploy/k8s/nats/nats-provision-job.yaml does this in Kubernetes;
//! `kokeilu up` does it against its local server).

use clap::{Args, Subcommand};
use kokeilu_bus::streams::{self, Outcome};

use crate::dlq::NatsTarget;

#[derive(Debug, Subcommand)]
pub enum NatsCommand {
    /// Create every JetStream stream, or bring a drifted one back to Kokeilu's configuration
    /// (as the NATS operator user). Safe to run again: it reports what it changed.
    Provision(ProvisionArgs),
}

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    #[command(flatten)]
    target: NatsTarget,
    /// Replicas of every stream: 1 on one server, 3 in the production cluster (the services'
    /// --stream-replicas must say the same).
    #[arg(long, env = "KOKEILU_STREAM_REPLICAS", default_value_t = 1)]
    replicas: usize,
}

pub async fn run(cmd: NatsCommand) -> anyhow::Result<()> {
    match cmd {
        NatsCommand::Provision(args) => {
            let js = args.target.connect_as("kokeilu-nats-provision").await?;
            let done = streams::provision(&js, args.replicas).await?;
            report(&done);
            Ok(())
        }
    }
}

/// Provisions the streams of the single local server `kokeilu up` runs (no users, one replica).
pub async fn provision_local(nats_url: &str) -> anyhow::Result<()> {
    let login = kokeilu_bus::nats::Login {
        urls: nats_url.to_owned(),
        user: None,
        ca: None,
    };
    let client = kokeilu_bus::nats::connect(
        &login,
        "kokeilu-nats-provision",
        std::time::Duration::from_secs(30),
    )
    .await?;
    let js = kokeilu_bus::nats::jetstream(client);
    let done = streams::provision(&js, 1)
        .await
        .map_err(|e| anyhow::anyhow!("provisioning the local NATS streams: {e}"))?;
    for (stream, outcome) in &done {
        if let Outcome::Updated(changes) = outcome {
            eprintln!(
                "kokeilu: stream {stream} updated to Kokeilu's configuration ({})",
                describe(changes)
            );
        }
    }
    Ok(())
}

fn describe(changes: &[streams::Mismatch]) -> String {
    changes
        .iter()
        .map(|m| format!("{} {} -> {}", m.field, m.actual, m.expected))
        .collect::<Vec<_>>()
        .join(", ")
}

fn report(done: &[(String, Outcome)]) {
    if crate::output::json() {
        let streams: Vec<serde_json::Value> = done
            .iter()
            .map(|(stream, outcome)| {
                let (result, changes) = match outcome {
                    Outcome::Created => ("created", Vec::new()),
                    Outcome::Unchanged => ("unchanged", Vec::new()),
                    Outcome::Updated(changes) => ("updated", changes.clone()),
                };
                serde_json::json!({
                    "stream": stream,
                    "result": result,
                    "changes": changes
                        .iter()
                        .map(|m| serde_json::json!({
                            "field": m.field,
                            "from": m.actual,
                            "to": m.expected,
                        }))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        crate::output::document(&serde_json::json!({ "streams": streams }));
        return;
    }
    for (stream, outcome) in done {
        match outcome {
            Outcome::Created => crate::output::text(&format!("{stream:<20} created")),
            Outcome::Unchanged => crate::output::text(&format!("{stream:<20} unchanged")),
            Outcome::Updated(changes) => {
                crate::output::text(&format!("{stream:<20} updated: {}", describe(changes)))
            }
        }
    }
}
