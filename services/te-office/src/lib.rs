//! te-office: the state employment office's side of Kokeilu.
//!
//! Its client system submits jobseekers; te-office validates them, decides which trial area is
//! competent for the home municipality, issues the referral through its outbox and follows it to
//! acknowledgement or rejection.
//!
//! - [`config`]: flags and environment variables.
//! - [`startup`]: [`startup::Application`], used by `main` and by tests alike.
//! - [`grpc`]: the `TeOfficeService` API (thin).
//! - [`referrals`]: the use cases, one transaction each.
//! - [`domain`]: validation, routing, the referral and the rule for answers, free of wire and
//!   storage types.
//! - [`store`]: all of the service's SQL (SQLite or PostgreSQL), in domain types.
//! - [`events`]: the consumer of the areas' answers.
//! - [`supervision`]: facts for AVI and AVI's suspensions.
//! - [`error`]: one error type and its gRPC mapping.

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod referrals;
pub mod startup;
pub mod store;
pub mod supervision;

pub use startup::{Application, run};
