//! Tools for running Kokeilu on a developer's machine and in tests, never linked by a service:
//! this crate owns finding, installing and running a local `nats-server` ([`nats_server`]), which
//! `kokeilu up`, `kokeilu install-nats` and the test harness use, and a local PKI ([`pki`]) for
//! mutual TLS. Production deployments run
//! their NATS cluster themselves (`deploy/`).

pub mod nats_server;
pub mod pki;
