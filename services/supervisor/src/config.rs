//! The supervisor's command-line flags, each with an environment variable.

use std::net::SocketAddr;

use clap::Parser;
use kokeilu_platform::config::{CommonArgs, ConnectionArgs, ServiceConfig};

/// supervisor: Länsi- ja Sisä-Suomen AVI's supervision of the trials.
#[derive(Debug, Clone, Parser)]
#[command(name = "supervisor", version)]
pub struct Settings {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Parallel handlers of service facts.
    #[arg(long, env = "KOKEILU_CONSUMER_WORKERS", default_value_t = 4)]
    pub consumer_workers: usize,
    /// Operational deadline for acknowledging a referral, in working days.
    #[arg(long, env = "KOKEILU_ACK_WORKING_DAYS", default_value_t = 2)]
    pub ack_working_days: u32,
    /// How long after a due day ends (Finnish time) before the sweep reports the deadline
    /// missed, in hours: facts dated on time that are still in transport then raise nothing.
    #[arg(long, env = "KOKEILU_SWEEP_WATERMARK_HOURS", default_value_t = 24)]
    pub sweep_watermark_hours: u32,
    /// How often to look for missed deadlines, in seconds.
    #[arg(long, env = "KOKEILU_SWEEP_INTERVAL_SECS", default_value_t = 60)]
    pub sweep_interval_secs: u64,
    /// Listen address of the open statistics (plain HTTP).
    #[arg(long, env = "KOKEILU_STATS_LISTEN", default_value = "127.0.0.1:8080")]
    pub stats_listen: SocketAddr,
}

/// Supervisor-specific settings.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    pub service: ServiceConfig,
    pub ack_working_days: u32,
    pub sweep_interval: std::time::Duration,
    /// How long after a due day ends before a deadline is missed.
    pub sweep_watermark: chrono::Duration,
    pub stats_listen: SocketAddr,
}

impl SupervisorConfig {
    /// Loopback with OS-chosen ports (tests, local runs).
    pub fn local(database_url: &str, nats_url: &str, tls: kokeilu_platform::tls::TlsFiles) -> Self {
        Self {
            service: ServiceConfig::local(database_url, nats_url, tls),
            ack_working_days: 2,
            sweep_interval: std::time::Duration::from_secs(60),
            // Tests sweep on their own clock and say when: no watermark unless they set one.
            sweep_watermark: chrono::Duration::zero(),
            stats_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl Settings {
    pub fn config(&self) -> SupervisorConfig {
        SupervisorConfig {
            service: self.connection.to_config(self.consumer_workers),
            ack_working_days: self.ack_working_days,
            sweep_interval: std::time::Duration::from_secs(self.sweep_interval_secs.max(1)),
            sweep_watermark: chrono::Duration::hours(i64::from(self.sweep_watermark_hours)),
            stats_listen: self.stats_listen,
        }
    }
}
