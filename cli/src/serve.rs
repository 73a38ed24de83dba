//! `kokeilu serve`: run one service in this process (what `kokeilu up` spawns), through the
//! same entry point as the service's own binary.

use clap::Subcommand;

/// (Boxed: the services' settings are large next to the CLI's other commands.)
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The TE office service.
    TeOffice(Box<te_office::config::Settings>),
    /// One trial area's service.
    TrialArea(Box<trial_area::config::Settings>),
    /// AVI's supervisor service.
    Supervisor(Box<supervisor::config::Settings>),
}

pub async fn run(cmd: ServeCommand) -> anyhow::Result<()> {
    match cmd {
        ServeCommand::TeOffice(s) => te_office::run(*s).await,
        ServeCommand::TrialArea(s) => trial_area::run(*s).await,
        ServeCommand::Supervisor(s) => supervisor::run(*s).await,
    }
}
