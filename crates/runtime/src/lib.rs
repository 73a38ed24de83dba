//! The application runtime of a Kokeilu service process: this crate owns connecting a service
//! to its database and NATS ([`Node::connect`]), binding its gRPC and admin ports
//! ([`Listeners`]), running its consumers, outbox relay, gRPC server, admin port and its own
//! background jobs as supervised tasks ([`Node::run`]), and the ordered shutdown that follows a
//! signal or the failure of any task, every step of it bounded by the configured shutdown
//! timeout. What a message, an outbox row or a consumer *is* stays in `kokeilu-bus`.
//!
//! ```text
//! SIGINT/SIGTERM or a failed task ─► "shutting down"
//!   1. consumers and jobs stop taking work; in-flight messages finish and ack
//!   2. gRPC stops (server streams end; in-flight calls finish)
//!   3. the relay publishes what is left in the outbox
//!   4. the admin port stops, the database closes, NATS is flushed
//!   5. telemetry is flushed ([`flush_telemetry`])
//! ```
//!
//! Each step waits at most until the shutdown deadline; a step still running then is abandoned
//! with a warning, so a process whose NATS or database is gone still exits.

mod node;
mod task;

pub use node::{Listeners, Node};
pub use task::Task;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kokeilu_platform::config::CommonArgs;
use kokeilu_platform::telemetry::TelemetryGuard;

/// Resolves when the process is asked to stop (SIGINT or SIGTERM).
pub type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The life of one service process, the same for every service: telemetry as `name`, then
/// `serve` until SIGINT/SIGTERM, then a bounded telemetry flush. Each service's
/// `run(Settings)` is this call with its own application; its binary and `kokeilu serve` call
/// that.
pub async fn run_process<F, Fut>(common: &CommonArgs, name: &str, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(ShutdownSignal) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    kokeilu_platform::tls::install_crypto_provider();
    let telemetry = kokeilu_platform::telemetry::init(common, name)?;
    let result = serve(Box::pin(kokeilu_platform::shutdown::signal())).await;
    flush_telemetry(telemetry).await;
    result
}

/// Longest wait for the trace pipeline to flush at exit.
pub const TELEMETRY_FLUSH_BOUND: Duration = Duration::from_secs(3);

/// Flushes and stops telemetry, waiting at most [`TELEMETRY_FLUSH_BOUND`] (an unreachable OTLP
/// collector must not hold the process open).
pub async fn flush_telemetry(guard: TelemetryGuard) {
    let (done, flushed) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        drop(guard);
        let _ = done.send(());
    });
    if tokio::time::timeout(TELEMETRY_FLUSH_BOUND, flushed)
        .await
        .is_err()
    {
        eprintln!("telemetry not flushed within {TELEMETRY_FLUSH_BOUND:?}; exiting anyway");
    }
}
