//! supervisor binary: flags, then [`supervisor::run`] (telemetry → application → until SIGINT/SIGTERM).

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    supervisor::run(supervisor::config::Settings::parse()).await
}
