//! te-office binary: flags, then [`te_office::run`] (telemetry → application → until SIGINT/SIGTERM).

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    te_office::run(te_office::config::Settings::parse()).await
}
