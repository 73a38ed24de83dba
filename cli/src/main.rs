//! `kokeilu`: run the whole system on one machine, send referrals, inspect them, benchmark.
//!
//! The same binary also runs each service (`kokeilu serve …`), which is how `kokeilu up` starts
//! them as separate processes.

mod avi;
mod bench;
mod client;
mod commands;
mod compliance;
mod dlq;
mod driver;
mod error;
mod fake;
mod health;
mod nats_admin;
mod output;
mod pg_admin;
mod pki;
mod rules;
mod serve;
mod stack;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kokeilu",
    version,
    about = "Kokeilu: referrals between TE offices, trial areas and AVI",
    after_help = error::EXIT_CODES_HELP
)]
struct Cli {
    /// Machine-readable output: JSON on stdout (JSON lines for `watch`), notes on stderr.
    #[arg(long, global = true)]
    json: bool,
    /// Call the services as this identity of the PKI (te-office, area-<slug>, avi,
    /// avi-staff-<id>, operator) instead of the command's own default.
    #[arg(long = "as", global = true, env = "KOKEILU_AS", value_name = "NAME")]
    as_name: Option<String>,
    /// Folder of the PKI (`ca.pem`, `<name>.pem`, `<name>-key.pem`); default `<data-dir>/pki`.
    #[arg(long, global = true, env = "KOKEILU_PKI_DIR")]
    pki_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start NATS and every service on this machine (SQLite files under --data-dir); Ctrl-C stops.
    Up(stack::UpArgs),
    /// Send a realistic batch of referrals to a running stack and let the areas answer.
    Demo(commands::DemoArgs),
    /// Send one referral.
    Refer(commands::ReferArgs),
    /// Acknowledge a client at an area.
    Ack(commands::AckArgs),
    /// Reject a referral at an area.
    Reject(commands::RejectArgs),
    /// Show one referral and its status history at the TE office.
    Status(commands::StatusArgs),
    /// List referrals at the TE office.
    List(commands::ListArgs),
    /// Follow referral status changes at the TE office.
    Watch(commands::WatchArgs),
    /// AVI's supervisory actions (22 §): information requests, orders, remarks, suspensions and
    /// their lifting, complaints, the notice to the ministry.
    #[command(subcommand)]
    Avi(avi::AviCommand),
    /// AVI's compliance events: follow, list, area summaries.
    #[command(subcommand)]
    Compliance(compliance::ComplianceCommand),
    /// Push N referrals through a fresh stack and print throughput and latency.
    Bench(bench::BenchArgs),
    /// Dead-lettered messages: list and replay.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// NATS administration (as the operator user): `provision` the JetStream streams.
    #[command(subcommand)]
    Nats(nats_admin::NatsCommand),
    /// Run one service in this process.
    #[command(subcommand)]
    Serve(serve::ServeCommand),
    /// Exit 0 if a service's admin port answers grpc.health.v1 as SERVING (container health checks).
    Health(health::HealthArgs),
    /// The trial rules as JSON: henkilötunnus, working days, eligibility, statement competence.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// The local PKI of `kokeilu up` (certificates for more identities).
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// List the trial areas of the 2021–2024 trial with their municipalities.
    Areas,
    /// Install the pinned nats-server into the tools folder (done automatically when needed).
    InstallNats {
        #[arg(long, env = "KOKEILU_TOOLS_DIR", default_value = ".tools")]
        tools_dir: std::path::PathBuf,
    },
    /// Print a shell completion script (e.g. `kokeilu completions bash > /etc/bash_completion.d/kokeilu`).
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    output::set_json(cli.json);
    kokeilu_platform::tls::install_crypto_provider();
    if let Err(e) = client::configure(cli.pki_dir.clone(), cli.as_name.as_deref()) {
        eprintln!("kokeilu: {e:#}");
        return std::process::ExitCode::from(2);
    }
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "kokeilu", &mut script);
        return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kokeilu: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kokeilu: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => stack::up(args).await,
            Command::Demo(args) => commands::demo(args).await,
            Command::Refer(args) => commands::refer(args).await,
            Command::Ack(args) => commands::ack(args).await,
            Command::Reject(args) => commands::reject(args).await,
            Command::Status(args) => commands::status(args).await,
            Command::List(args) => commands::list(args).await,
            Command::Watch(args) => commands::watch(args).await,
            Command::Compliance(cmd) => compliance::run(cmd).await,
            Command::Avi(cmd) => avi::run(cmd).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Dlq(cmd) => dlq::run(cmd).await,
            Command::Nats(cmd) => nats_admin::run(cmd).await,
            Command::Serve(cmd) => serve::run(cmd).await,
            Command::Health(args) => health::run(args).await,
            Command::Rules(cmd) => rules::run(cmd),
            Command::Pki(cmd) => pki::run(cmd),
            Command::Areas => commands::areas(),
            Command::InstallNats { tools_dir } => {
                let path = kokeilu_devtools::nats_server::locate(&tools_dir)?;
                if output::json() {
                    output::document(&serde_json::json!({ "path": path }));
                } else {
                    println!("{}", path.display());
                }
                Ok(())
            }
            Command::Completions { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kokeilu: {e:#}");
            std::process::ExitCode::from(error::exit_code(&e))
        }
    }
}
