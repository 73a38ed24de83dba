//! te-office binary: flags → telemetry → application → run until SIGINT/SIGTERM.

use clap::Parser;
use te_office::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let _telemetry = kokeilu_platform::telemetry::init(&settings.common, "te-office")?;
    let app =
        te_office::Application::build(&settings.service_config(), settings.common.clock()).await?;
    app.run_until(kokeilu_platform::shutdown::signal()).await
}
