//! Prometheus metrics of a Kokeilu service, served on its admin port.
//!
//! [`install`] sets up the process's recorder (the `metrics` facade with a Prometheus exporter,
//! every series labelled `service_name`), [`serve_admin`] serves `GET /metrics` (Prometheus text
//! format) and `GET /healthz` (`ok`), and [`RpcMetricsLayer`] (added by
//! [`crate::grpc::serve`]) times every gRPC call. The bus records its own metrics in the outbox
//! relay and the consumers; until [`install`] runs, recording does nothing.
//!
//! Names follow the OpenTelemetry semantic conventions with dots written as underscores,
//! `_seconds` for durations and `_total` for counters. Every series also has the label
//! `service_name`, the name the service passes to [`install`].
//!
//! | Name | Type | Labels | Meaning |
//! |---|---|---|---|
//! | `rpc_server_call_duration_seconds` | histogram | `rpc_system="grpc"`, `rpc_service`, `rpc_method`, `rpc_grpc_status_code` | Duration of each gRPC call handled, from request to the final status (a server stream: until it ends). Its `_count` is the call rate; a non-zero `rpc_grpc_status_code` an error. Calls answered `UNIMPLEMENTED` (12) are labelled `_OTHER`, so arbitrary paths sent by a client do not become series. |
//! | `messaging_client_sent_messages_total` | counter | `messaging_system="nats"`, `messaging_destination_name` | Outbox messages the relay published and JetStream acknowledged, per subject. |
//! | `kokeilu_outbox_backlog` | gauge | | Outbox rows not yet acknowledged by JetStream. Refreshed about once a second, also while NATS is unreachable. Replicas sharing a database report the same rows (aggregate with `max`). |
//! | `kokeilu_outbox_oldest_age_seconds` | gauge | | Age of the oldest unsent outbox row (0 when the outbox is empty): a relay that is stalled makes it grow. |
//! | `messaging_client_consumed_messages_total` | counter | `messaging_consumer_group_name`, `outcome` | Messages a durable consumer finished with: `ok` (applied), `duplicate` (already in the inbox, skipped), `retry` (transient failure, redelivered later), `dead_letter`, `security` (refused: the sender is not who the subject allows; also dead-lettered). |
//! | `messaging_process_duration_seconds` | histogram | `messaging_consumer_group_name` | Time to process one delivered message, from receipt to ack. |
//! | `kokeilu_consumer_lag` | gauge | `messaging_consumer_group_name` | Messages in the stream not yet delivered to the consumer (JetStream `num_pending`), refreshed every few seconds. |
//! | `kokeilu_consumer_redeliveries_total` | counter | `messaging_consumer_group_name` | Deliveries of a message JetStream had delivered before (`delivered > 1`). |
//! | `kokeilu_dead_letters_total` | counter | `messaging_consumer_group_name` | Messages moved to the consumer's dead-letter subject. |
//! | `kokeilu_deadline_sweeps_total` | counter | | Deadline sweeps the supervisor ran (supervisor only). |
//! | `kokeilu_deadline_sweep_duration_seconds` | histogram | | Duration of one deadline sweep (supervisor only). |
//! | `kokeilu_compliance_events_total` | counter | `kind`, `area` | Compliance events raised by the supervisor, per kind and trial area (supervisor only). |
//!
//! Histograms of `_seconds` metrics have the buckets [`DURATION_BUCKETS`].

mod rpc;

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

pub use rpc::{MeteredBody, RpcMetrics, RpcMetricsLayer};

/// `rpc_server_call_duration_seconds`: histogram per gRPC method and status code.
pub const RPC_SERVER_CALL_DURATION: &str = "rpc_server_call_duration_seconds";
/// `messaging_client_sent_messages_total`: counter of relay publishes per subject.
pub const MESSAGING_SENT: &str = "messaging_client_sent_messages_total";
/// `messaging_client_consumed_messages_total`: counter per consumer and outcome.
pub const MESSAGING_CONSUMED: &str = "messaging_client_consumed_messages_total";
/// `messaging_process_duration_seconds`: histogram per consumer.
pub const MESSAGING_PROCESS_DURATION: &str = "messaging_process_duration_seconds";
/// `kokeilu_outbox_backlog`: gauge of unsent outbox rows.
pub const OUTBOX_BACKLOG: &str = "kokeilu_outbox_backlog";
/// `kokeilu_outbox_oldest_age_seconds`: gauge, age of the oldest unsent row.
pub const OUTBOX_OLDEST_AGE: &str = "kokeilu_outbox_oldest_age_seconds";
/// `kokeilu_consumer_lag`: gauge per consumer (JetStream `num_pending`).
pub const CONSUMER_LAG: &str = "kokeilu_consumer_lag";
/// `kokeilu_consumer_redeliveries_total`: counter per consumer.
pub const CONSUMER_REDELIVERIES: &str = "kokeilu_consumer_redeliveries_total";
/// `kokeilu_dead_letters_total`: counter per consumer.
pub const DEAD_LETTERS: &str = "kokeilu_dead_letters_total";
/// `kokeilu_deadline_sweeps_total`: counter (supervisor).
pub const DEADLINE_SWEEPS: &str = "kokeilu_deadline_sweeps_total";
/// `kokeilu_deadline_sweep_duration_seconds`: histogram (supervisor).
pub const DEADLINE_SWEEP_DURATION: &str = "kokeilu_deadline_sweep_duration_seconds";
/// `kokeilu_compliance_events_total`: counter per `kind` and `area` (supervisor).
pub const COMPLIANCE_EVENTS: &str = "kokeilu_compliance_events_total";
/// `kokeilu_security_events_total`: counter per `kind`: `permission_denied` (a gRPC call the
/// authorisation table refused) and `message_refused` (a message not bound to the party NATS
/// authenticated, dead-lettered; labelled with its consumer too).
pub const SECURITY_EVENTS: &str = "kokeilu_security_events_total";
/// `kokeilu_requests_shed_total`: counter of calls and streams refused at a limit.
pub const REQUESTS_SHED: &str = "kokeilu_requests_shed_total";

/// Label naming a durable consumer.
pub const CONSUMER_GROUP: &str = "messaging_consumer_group_name";

/// Bucket bounds (seconds) of every `_seconds` histogram: from a millisecond for quick calls to a
/// minute for a deadline sweep.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How often histograms are folded in when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's metrics recorder with the global label `service_name`, once; later
/// calls (with any name) return the first call's handle.
///
/// If another recorder was installed first, the returned handle renders nothing and a warning is
/// logged.
pub fn install(service_name: &str) -> PrometheusHandle {
    HANDLE
        .get_or_init(|| install_recorder(service_name))
        .clone()
}

fn install_recorder(service_name: &str) -> PrometheusHandle {
    let base = || PrometheusBuilder::new().add_global_label("service_name", service_name);
    // Fails only for an empty bucket list.
    let builder = base()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "histogram buckets not set; histograms become summaries");
            base()
        });
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(e) = metrics::set_global_recorder(recorder) {
        tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
    }
    describe();
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread; histograms fold in on scrape");
    }
    handle
}

/// The installed recorder's handle, if [`install`] has run.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}

/// Serves `GET /metrics` (the text exposition format; empty before [`install`]) and
/// `GET /healthz` (`ok`) on `listener` until `shutdown` resolves, and `grpc.health.v1` in
/// plaintext for probes, answering what `health` reports for the mutual-TLS port.
pub async fn serve_admin(
    listener: TcpListener,
    health: tonic_health::server::HealthReporter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Plaintext gRPC health (HTTP/2 without TLS) for probes: health only, nothing else.
    let grpc_health =
        tonic::service::Routes::new(crate::grpc::health_server(&health)).into_axum_router();
    let app = Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(|| async { "ok" }))
        .merge(grpc_health);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn render() -> impl IntoResponse {
    let body = HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// `# HELP` lines, so a scrape explains itself.
fn describe() {
    metrics::describe_histogram!(
        RPC_SERVER_CALL_DURATION,
        Unit::Seconds,
        "Duration of gRPC calls handled, per method and status code"
    );
    metrics::describe_counter!(
        MESSAGING_SENT,
        Unit::Count,
        "Outbox messages published and acknowledged by JetStream"
    );
    metrics::describe_counter!(
        MESSAGING_CONSUMED,
        Unit::Count,
        "Messages a consumer finished with, per outcome"
    );
    metrics::describe_histogram!(
        MESSAGING_PROCESS_DURATION,
        Unit::Seconds,
        "Time to process one delivered message"
    );
    metrics::describe_gauge!(
        OUTBOX_BACKLOG,
        Unit::Count,
        "Outbox rows not yet acknowledged by JetStream"
    );
    metrics::describe_gauge!(
        OUTBOX_OLDEST_AGE,
        Unit::Seconds,
        "Age of the oldest unsent outbox row (0 when empty)"
    );
    metrics::describe_gauge!(
        CONSUMER_LAG,
        Unit::Count,
        "Messages not yet delivered to the consumer (JetStream num_pending)"
    );
    metrics::describe_counter!(
        CONSUMER_REDELIVERIES,
        Unit::Count,
        "Deliveries of messages delivered before"
    );
    metrics::describe_counter!(
        DEAD_LETTERS,
        Unit::Count,
        "Messages moved to the dead-letter subject"
    );
    metrics::describe_counter!(DEADLINE_SWEEPS, Unit::Count, "Deadline sweeps run");
    metrics::describe_counter!(
        SECURITY_EVENTS,
        Unit::Count,
        "Security events: calls refused by the authorisation table, messages refused for their sender"
    );
    metrics::describe_counter!(
        REQUESTS_SHED,
        Unit::Count,
        "Calls and streams refused at the concurrency or open-stream limit"
    );
    metrics::describe_histogram!(
        DEADLINE_SWEEP_DURATION,
        Unit::Seconds,
        "Duration of one deadline sweep"
    );
    metrics::describe_counter!(
        COMPLIANCE_EVENTS,
        Unit::Count,
        "Compliance events raised, per kind and trial area"
    );
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn one_recorder_per_process_served_on_the_admin_port() {
        let first = install("test-service");
        let again = install("another-name");
        metrics::counter!(DEAD_LETTERS, CONSUMER_GROUP => "c").increment(2);
        let line = again
            .render()
            .lines()
            .find(|l| l.starts_with(DEAD_LETTERS))
            .map(str::to_owned)
            .unwrap();
        assert!(line.contains("service_name=\"test-service\""), "{line}");
        assert!(
            line.contains("messaging_consumer_group_name=\"c\""),
            "{line}"
        );
        assert!(line.ends_with(" 2"), "{line}");
        assert_eq!(first.render(), again.render());

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let reporter = tonic_health::server::HealthReporter::new();
        reporter
            .set_service_status("kokeilu.test.Probe", tonic_health::ServingStatus::Serving)
            .await;
        let server = tokio::spawn(serve_admin(listener, reporter, async move {
            let _ = stopped.await;
        }));
        // Probes: gRPC health in plaintext (HTTP/2 without TLS) answers what the reporter says.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut probe = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let answer = probe
            .check(tonic_health::pb::HealthCheckRequest {
                service: "kokeilu.test.Probe".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            answer.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
        // Nothing but health is served without TLS: reflection is not there.
        let mut reflection =
            tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
                channel,
            );
        let refused = reflection
            .server_reflection_info(tokio_stream::iter([
                tonic_reflection::pb::v1::ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(
                        tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                            String::new(),
                        ),
                    ),
                },
            ]))
            .await;
        assert!(refused.is_err(), "reflection answered in plaintext");
        let health = get(addr, "/healthz").await;
        assert!(
            health.starts_with("HTTP/1.1 200") && health.ends_with("ok"),
            "{health}"
        );
        let scrape = get(addr, "/metrics").await;
        assert!(scrape.contains(&line), "{scrape}");
        assert!(
            scrape.contains("# HELP kokeilu_dead_letters_total"),
            "{scrape}"
        );
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
