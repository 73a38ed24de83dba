//! Flags every service takes. Each flag has an environment variable; services flatten these into
//! their own `clap` settings.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use crate::clock::{SharedClock, SystemClock};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable, for terminals.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Telemetry and clock flags shared by every service.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Log format.
    #[arg(long, env = "KOKEILU_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "KOKEILU_LOG", default_value = "info")]
    pub log: String,

    /// OTLP/gRPC endpoint for traces, e.g. http://127.0.0.1:4317. Export is off when unset.
    #[arg(long, env = "KOKEILU_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Start the service clock at this instant (RFC 3339) and let it run; for demos and training.
    /// Unset: the machine's clock.
    #[arg(long, env = "KOKEILU_CLOCK_START")]
    pub clock_start: Option<DateTime<Utc>>,

    /// The real instant (RFC 3339) at which the service clock read `--clock-start`. Give every
    /// process of a stack the same pair: they share one timeline, and a restarted process
    /// continues on it. Unset: the process's own start.
    #[arg(long, env = "KOKEILU_CLOCK_ANCHOR", requires = "clock_start")]
    pub clock_anchor: Option<DateTime<Utc>>,
}

impl CommonArgs {
    /// The clock these flags ask for.
    pub fn clock(&self) -> SharedClock {
        match (self.clock_start, self.clock_anchor) {
            (Some(start), Some(anchor)) => SystemClock::simulated(start, anchor).shared(),
            (Some(start), None) => SystemClock::starting_at(start).shared(),
            (None, _) => SystemClock::new().shared(),
        }
    }
}

/// Where a service listens and what it connects to.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// NATS server URL(s), comma separated (the client connects to any and fails over).
    #[arg(
        long,
        env = "KOKEILU_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,

    /// NATS user (deploy/nats/accounts.conf): te-office, area-<slug> or avi. Unset: no
    /// authentication (a local server).
    #[arg(long, env = "KOKEILU_NATS_USER")]
    pub nats_user: Option<String>,

    /// Password of the NATS user.
    #[arg(long, env = "KOKEILU_NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,

    /// CA certificate (PEM) of the NATS servers: TLS is then required and verified against it.
    #[arg(long, env = "KOKEILU_NATS_CA")]
    pub nats_ca: Option<std::path::PathBuf>,

    /// JetStream replicas the provisioned streams must have (1 on one machine, 3 in a cluster);
    /// the service refuses to start when they differ (`kokeilu nats provision`).
    #[arg(long, env = "KOKEILU_STREAM_REPLICAS", default_value_t = 1)]
    pub stream_replicas: usize,

    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(long, env = "KOKEILU_DATABASE_URL")]
    pub database_url: String,

    /// Largest number of database connections.
    #[arg(long, env = "KOKEILU_DATABASE_MAX_CONNECTIONS", default_value_t = 8)]
    pub database_max_connections: u32,

    /// gRPC listen address.
    #[arg(long, env = "KOKEILU_GRPC_LISTEN", default_value = "127.0.0.1:50051")]
    pub grpc_listen: SocketAddr,

    /// This service's certificate (PEM), naming its identity (`kokeilu://te-office`,
    /// `kokeilu://area/<slug>` or `kokeilu://avi`). The gRPC port is mutual TLS only.
    #[arg(long, env = "KOKEILU_TLS_CERT")]
    pub tls_cert: std::path::PathBuf,

    /// The private key (PEM) of `--tls-cert`; readable by the service's user only.
    #[arg(long, env = "KOKEILU_TLS_KEY")]
    pub tls_key: std::path::PathBuf,

    /// The Kokeilu CA certificate (PEM): clients must present a certificate it issued.
    #[arg(long, env = "KOKEILU_TLS_CA")]
    pub tls_ca: std::path::PathBuf,

    /// Largest request message, in bytes.
    #[arg(long, env = "KOKEILU_MAX_MESSAGE_BYTES", default_value_t = 256 * 1024)]
    pub max_message_bytes: usize,

    /// Most gRPC calls served at once; more are refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "KOKEILU_MAX_CONCURRENT_REQUESTS", default_value_t = 256)]
    pub max_concurrent_requests: usize,

    /// Server-side deadline of one call, in seconds (DEADLINE_EXCEEDED after it).
    #[arg(long, env = "KOKEILU_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Most open watch/subscribe streams per authenticated identity.
    #[arg(long, env = "KOKEILU_MAX_STREAMS_PER_IDENTITY", default_value_t = 16)]
    pub max_streams_per_identity: usize,

    /// Admin HTTP listen address: `/metrics` (Prometheus), `/healthz` and plaintext
    /// `grpc.health.v1` for probes (nothing else is served without TLS).
    #[arg(long, env = "KOKEILU_ADMIN_LISTEN", default_value = "127.0.0.1:9464")]
    pub admin_listen: SocketAddr,

    /// Longest time, in seconds, the ordered shutdown may take after SIGINT/SIGTERM (consumers,
    /// gRPC, relay, database, NATS); what is still running then is abandoned.
    #[arg(long, env = "KOKEILU_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<secret>"
        })
    }
}

/// What a service connects to and where it listens, as validated values.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub database_url: String,
    pub database_max_connections: u32,
    pub nats_url: String,
    /// NATS user and password; `None` connects without authentication.
    pub nats_user: Option<(String, Secret)>,
    /// CA of the NATS servers; `None`: the system roots (and TLS only for `tls://` URLs).
    pub nats_ca: Option<std::path::PathBuf>,
    pub stream_replicas: usize,
    pub grpc_listen: SocketAddr,
    /// Admin HTTP listen address (metrics, health).
    pub admin_listen: SocketAddr,
    /// The service's certificate, key and the CA for mutual TLS on the gRPC port.
    pub tls: crate::tls::TlsFiles,
    /// Bounds on calls.
    pub limits: crate::limits::Limits,
    /// Bound of the whole ordered shutdown.
    pub shutdown_timeout: std::time::Duration,
    /// Parallel message handlers per consumer.
    pub consumer_workers: usize,
    /// Key for client pseudonyms: te-office's only (its `--pseudonym-key-file`); `None` in every
    /// other service, which never holds it.
    pub pseudonym_key: Option<crate::privacy::PseudonymKey>,
}

impl ServiceConfig {
    /// The TE office's pseudonymizer, or a clear error when the key is missing.
    pub fn pseudonymizer(&self) -> anyhow::Result<crate::privacy::Pseudonymizer> {
        self.pseudonym_key
            .as_ref()
            .map(crate::privacy::Pseudonymizer::new)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no pseudonym key: te-office needs --pseudonym-key-file \
                     (KOKEILU_PSEUDONYM_KEY_FILE) and --pseudonym-key-id (KOKEILU_PSEUDONYM_KEY_ID)"
                )
            })
    }

    /// A configuration on loopback with OS-chosen ports (tests, local runs).
    pub fn local(database_url: &str, nats_url: &str, tls: crate::tls::TlsFiles) -> Self {
        Self {
            database_url: database_url.to_owned(),
            database_max_connections: 8,
            nats_url: nats_url.to_owned(),
            nats_user: None,
            nats_ca: None,
            stream_replicas: 1,
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls,
            limits: crate::limits::Limits::default(),
            shutdown_timeout: std::time::Duration::from_secs(10),
            consumer_workers: 4,
            pseudonym_key: None,
        }
    }
}

impl ConnectionArgs {
    pub fn to_config(&self, consumer_workers: usize) -> ServiceConfig {
        ServiceConfig {
            database_url: self.database_url.clone(),
            database_max_connections: self.database_max_connections,
            nats_url: self.nats_url.clone(),
            nats_user: self.nats_user.clone().map(|u| {
                (
                    u,
                    Secret::new(self.nats_password.clone().unwrap_or_default()),
                )
            }),
            nats_ca: self.nats_ca.clone(),
            stream_replicas: self.stream_replicas,
            grpc_listen: self.grpc_listen,
            admin_listen: self.admin_listen,
            tls: crate::tls::TlsFiles {
                cert: self.tls_cert.clone(),
                key: self.tls_key.clone(),
                ca: self.tls_ca.clone(),
            },
            limits: crate::limits::Limits {
                max_message_bytes: self.max_message_bytes,
                max_concurrent_requests: self.max_concurrent_requests,
                request_timeout: std::time::Duration::from_secs(self.request_timeout_secs),
                max_streams_per_identity: self.max_streams_per_identity,
                ..crate::limits::Limits::default()
            },
            shutdown_timeout: std::time::Duration::from_secs(self.shutdown_timeout_secs),
            consumer_workers,
            pseudonym_key: None,
        }
    }
}
