//! supervisor binary: flags → telemetry → application → run until SIGINT/SIGTERM.

use clap::Parser;
use supervisor::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let _telemetry = kokeilu_platform::telemetry::init(&settings.common, "supervisor")?;
    let app = supervisor::Application::build(&settings.config(), settings.common.clock()).await?;
    app.run_until(kokeilu_platform::shutdown::signal()).await
}
