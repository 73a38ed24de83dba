//! Mechanism every Kokeilu service links and shares, and nothing of any one service's domain:
//! this crate owns configuration, the clock, telemetry and metrics, trace propagation, gRPC
//! serving helpers, signal handling and privacy helpers. Running processes (the application
//! runtime) is `kokeilu-runtime`'s; a local nats-server is `kokeilu-devtools`'s.
//!
//! - [`config`]: the flags common to every service (each with its environment variable).
//! - [`clock`]: an injectable clock, so deadlines and timestamps can be driven in tests.
//! - [`telemetry`]: logs (pretty or JSON) and OpenTelemetry tracing with optional OTLP export.
//! - [`propagation`]: W3C trace context in gRPC metadata and NATS headers.
//! - [`grpc`]: serving a tonic service with health, reflection and a tracing span per call, and
//!   field-level `INVALID_ARGUMENT` errors.
//! - [`metrics`]: the Prometheus recorder, the admin port (`/metrics`, `/healthz`) and the list of
//!   every metric a service exports.
//! - [`identity`], [`authz`], [`tls`], [`limits`]: who calls (from the client certificate), what
//!   each identity may call (one table), mutual TLS files, and the bounds on every call.
//! - [`shutdown`]: SIGINT/SIGTERM handling.
//! - [`privacy`]: client pseudonyms for supervision traffic; finding identity codes in data.

pub mod authz;
pub mod clock;
pub mod config;
pub mod grpc;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod privacy;
pub mod propagation;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
