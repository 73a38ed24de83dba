//! supervisor: the supervising agency's (Länsi- ja Sisä-Suomen AVI) side of Kokeilu.
//!
//! It consumes the pseudonymised service facts the TE office and the trial areas publish, tracks
//! the statutory and operational deadlines with the rules crate's effective-dated rules and an
//! injectable clock, derives compliance events (deadline missed, met late, wrong area, statement
//! outside competence), serves them to subscribers resumably, issues AVI's actions (information
//! requests, orders, remarks, suspensions and their lifting), tracks complaints, tells the
//! ministry which procedures are under way, and publishes open monitoring statistics.
//!
//! - [`config`], [`startup`]: flags and the application (shared by `main` and tests).
//! - [`domain`]: deadline kinds and state rules; what a fact or a missed deadline decides.
//! - [`store`]: all of the service's SQL, in domain types.
//! - [`ledger`]: facts → cases, deadlines and events (load, decide, write); the sweep for missed
//!   deadlines.
//! - [`reports`]: the event feed, summaries, monthly statistics.
//! - [`actions`]: supervisory actions and answers to information requests.
//! - [`complaints`]: complaints (kantelu) and the notice to the ministry of procedures under way.
//! - [`events`]: consumers; [`grpc`]: the API; [`stats_http`]: open statistics over HTTP, from
//!   closed-month snapshots protected by [`suppression`].

pub mod actions;
pub mod complaints;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod ledger;
pub mod reports;
pub mod startup;
pub mod stats_http;
pub mod store;
pub mod suppression;

pub use startup::{Application, run};
