//! trial-area binary: flags, then [`trial_area::run`] (telemetry → application → until SIGINT/SIGTERM).

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    trial_area::run(trial_area::config::Settings::parse()).await
}
