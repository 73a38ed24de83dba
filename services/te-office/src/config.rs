//! te-office's command-line flags, each with an environment variable.

use clap::Parser;
use kokeilu_platform::config::{CommonArgs, ConnectionArgs, ServiceConfig};

/// te-office: issues referrals to the trial areas and tracks them.
#[derive(Debug, Clone, Parser)]
#[command(name = "te-office", version)]
pub struct Settings {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Parallel handlers of the areas' answers.
    #[arg(long, env = "KOKEILU_CONSUMER_WORKERS", default_value_t = 4)]
    pub consumer_workers: usize,
}

impl Settings {
    pub fn service_config(&self) -> ServiceConfig {
        self.connection.to_config(self.consumer_workers)
    }
}
