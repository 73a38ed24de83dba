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

use std::time::Duration;

use kokeilu_platform::telemetry::TelemetryGuard;

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
