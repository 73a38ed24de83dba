//! trial-area binary: flags → telemetry → application → run until SIGINT/SIGTERM.

use clap::Parser;
use trial_area::config::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let name = format!("trial-area-{}", settings.area);
    let _telemetry = kokeilu_platform::telemetry::init(&settings.common, &name)?;
    let app = trial_area::Application::build(
        &settings.service_config(),
        &settings.area,
        settings.common.clock(),
    )
    .await?;
    app.run_until(kokeilu_platform::shutdown::signal()).await
}
