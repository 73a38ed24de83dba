//! trial-area's command-line flags, each with an environment variable.

use clap::Parser;
use kokeilu_platform::config::{CommonArgs, ConnectionArgs, ServiceConfig};

/// trial-area: one municipal employment trial area's service.
#[derive(Debug, Clone, Parser)]
#[command(name = "trial-area", version)]
pub struct Settings {
    /// The trial area this deployment serves (slug, e.g. kainuu).
    #[arg(long, env = "KOKEILU_AREA")]
    pub area: String,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Parallel handlers of incoming referrals.
    #[arg(long, env = "KOKEILU_CONSUMER_WORKERS", default_value_t = 4)]
    pub consumer_workers: usize,
    /// TOML file mapping the area's internal units to their member municipalities, e.g.
    /// deploy/units/kainuu.toml (optional; checked at start against the registry).
    #[arg(long, env = "KOKEILU_UNITS_FILE")]
    pub units_file: Option<std::path::PathBuf>,
}

impl Settings {
    pub fn service_config(&self) -> ServiceConfig {
        self.connection.to_config(self.consumer_workers)
    }
}
