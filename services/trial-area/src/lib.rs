//! trial-area: one municipal employment trial area's side of Kokeilu (one deployment per area).
//!
//! It consumes the referrals the TE office addresses to its area into its own database, confirms
//! receipt (the area's competence starts then, 1269/2020 24 §), and lets the area's municipal
//! systems list them and acknowledge or reject each client; answers go back through the outbox.
//!
//! - [`config`]: flags and environment variables.
//! - [`startup`]: [`startup::Application`], used by `main` and by tests alike.
//! - [`grpc`]: the `TrialAreaService` API (thin).
//! - [`desk`]: the use cases, one transaction each.
//! - [`domain`]: statuses and kinds, the decisions on referrals and clients, area checks.
//! - [`store`]: all of the service's SQL (SQLite or PostgreSQL), in domain types.
//! - [`events`]: the consumer of the area's referral subject.
//! - [`supervision`]: facts for AVI, service events, statements, AVI's actions and answers.
//! - [`error`]: one error type and its gRPC mapping.
//! - [`units`]: the area's internal units (`--units-file`).

pub mod config;
pub mod desk;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod startup;
pub mod store;
pub mod supervision;
pub mod units;

pub use startup::{Application, run};
