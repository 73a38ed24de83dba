//! `kokeilu serve`: run one service in this process (what `kokeilu up` spawns).

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The TE office service.
    TeOffice(te_office::config::Settings),
    /// One trial area's service.
    TrialArea(trial_area::config::Settings),
    /// AVI's supervisor service.
    Supervisor(supervisor::config::Settings),
}

pub async fn run(cmd: ServeCommand) -> anyhow::Result<()> {
    match cmd {
        ServeCommand::TeOffice(s) => {
            let _telemetry = kokeilu_platform::telemetry::init(&s.common, "te-office")?;
            let app = te_office::Application::build(&s.service_config(), s.common.clock()).await?;
            app.run_until(kokeilu_platform::shutdown::signal()).await
        }
        ServeCommand::TrialArea(s) => {
            let name = format!("trial-area-{}", s.area);
            let _telemetry = kokeilu_platform::telemetry::init(&s.common, &name)?;
            let app =
                trial_area::Application::build(&s.service_config(), &s.area, s.common.clock())
                    .await?;
            app.run_until(kokeilu_platform::shutdown::signal()).await
        }
        ServeCommand::Supervisor(s) => {
            let _telemetry = kokeilu_platform::telemetry::init(&s.common, "supervisor")?;
            let app = supervisor::Application::build(&s.config(), s.common.clock()).await?;
            app.run_until(kokeilu_platform::shutdown::signal()).await
        }
    }
}
