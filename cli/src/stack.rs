//! The whole system on one machine: a NATS server and every service as separate processes.
//!
//! `kokeilu up` writes `stack.json` into the data folder so the other commands (`demo`, `refer`,
//! `status`, …) find the services without flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use kokeilu_devtools::nats_server::{self, NatsOptions, NatsProcess};
use serde::{Deserialize, Serialize};

use crate::client;

/// Where a running stack's services are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackInfo {
    pub nats_url: String,
    pub te_office: String,
    pub areas: BTreeMap<String, String>,
    /// AVI's supervisor (gRPC).
    pub supervisor: String,
    /// The supervisor's open statistics (plain HTTP).
    pub stats: String,
    pub clock_start: Option<DateTime<Utc>>,
}

impl StackInfo {
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("stack.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no running stack found ({} missing): start one with `kokeilu up`",
                path.display()
            )
        })?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// Which database the services use.
#[derive(Debug, Clone)]
pub enum Storage {
    /// One SQLite file per service under the data folder.
    Sqlite,
    /// One database per service on this PostgreSQL server (created if missing).
    Postgres { admin_url: String, prefix: String },
}

/// How to start a stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub data_dir: PathBuf,
    pub tools_dir: PathBuf,
    pub areas: Vec<String>,
    pub storage: Storage,
    pub nats_port: Option<u16>,
    pub te_office_port: u16,
    /// One port per area, in the order of `areas`.
    pub area_ports: Vec<u16>,
    pub supervisor_port: u16,
    pub stats_port: u16,
    /// How often the supervisor looks for missed deadlines.
    pub sweep_interval_secs: u64,
    pub clock_start: Option<DateTime<Utc>>,
    pub log: String,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Folder for SQLite files, the NATS store, logs and stack.json.
    #[arg(long, env = "KOKEILU_DATA_DIR", default_value = ".kokeilu")]
    pub data_dir: PathBuf,
    /// Folder where a missing nats-server is installed.
    #[arg(long, env = "KOKEILU_TOOLS_DIR", default_value = ".tools")]
    pub tools_dir: PathBuf,
    /// Trial areas to run (slugs, comma separated).
    #[arg(
        long,
        env = "KOKEILU_AREAS",
        value_delimiter = ',',
        default_value = "kainuu,pirkanmaa,helsinki"
    )]
    pub areas: Vec<String>,
    /// NATS client port.
    #[arg(long, env = "KOKEILU_NATS_PORT", default_value_t = 4333)]
    pub nats_port: u16,
    /// te-office gRPC port; areas use the following ports in order.
    #[arg(long, env = "KOKEILU_TE_OFFICE_PORT", default_value_t = 50051)]
    pub te_office_port: u16,
    #[arg(long, env = "KOKEILU_FIRST_AREA_PORT", default_value_t = 50061)]
    pub first_area_port: u16,
    /// The supervisor's (AVI's) gRPC port.
    #[arg(long, env = "KOKEILU_SUPERVISOR_PORT", default_value_t = 50071)]
    pub supervisor_port: u16,
    /// The supervisor's open statistics port (plain HTTP).
    #[arg(long, env = "KOKEILU_STATS_PORT", default_value_t = 8080)]
    pub stats_port: u16,
    /// Run on PostgreSQL instead of SQLite: server URL whose user may create databases.
    #[arg(long, env = "KOKEILU_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Service clock start (RFC 3339). The 2021–2024 trial is over in real time, so by default the
    /// local stack lives in autumn 2024.
    #[arg(
        long,
        env = "KOKEILU_CLOCK_START",
        default_value = "2024-09-02T06:00:00Z"
    )]
    pub clock_start: DateTime<Utc>,
    /// After start, send a demo batch of this many referrals (0: no demo).
    #[arg(long, default_value_t = 0)]
    pub demo: usize,
    /// Log filter for the services.
    #[arg(long, env = "KOKEILU_LOG", default_value = "info")]
    pub log: String,
}

/// A running stack; stopped (services first, NATS last) by [`Stack::stop`] or on drop.
pub struct Stack {
    pub info: StackInfo,
    nats: NatsProcess,
    services: Vec<(String, Child)>,
    data_dir: PathBuf,
}

impl Stack {
    pub async fn start(opts: &StackOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(opts.data_dir.join("logs"))?;
        let data_dir = opts.data_dir.canonicalize()?;
        let binary = nats_server::locate(&opts.tools_dir)?;
        let nats = NatsProcess::start(
            &binary,
            &NatsOptions {
                port: opts.nats_port,
                store_dir: Some(data_dir.join("nats")),
                sync_always: true,
                log_file: Some(data_dir.join("logs/nats-server.log")),
                ..Default::default()
            },
        )?;
        let exe = std::env::current_exe()?;
        let mut info = StackInfo {
            nats_url: nats.url(),
            te_office: format!("http://127.0.0.1:{}", opts.te_office_port),
            areas: BTreeMap::new(),
            supervisor: format!("http://127.0.0.1:{}", opts.supervisor_port),
            stats: format!("http://127.0.0.1:{}", opts.stats_port),
            clock_start: opts.clock_start,
        };
        // te-office and the areas pseudonymise clients for AVI with this key; the supervisor
        // never gets it.
        let pseudonym_key = pseudonym_key(&data_dir)?;
        let mut stack = Self {
            info: info.clone(),
            nats,
            services: Vec::new(),
            data_dir: data_dir.clone(),
        };
        let avi_db = database_url(opts, &data_dir, "supervisor").await?;
        let child = spawn_service(
            &exe,
            &["serve", "supervisor"],
            &[
                ("KOKEILU_DATABASE_URL", avi_db),
                (
                    "KOKEILU_GRPC_LISTEN",
                    format!("127.0.0.1:{}", opts.supervisor_port),
                ),
                (
                    "KOKEILU_STATS_LISTEN",
                    format!("127.0.0.1:{}", opts.stats_port),
                ),
                (
                    "KOKEILU_SWEEP_INTERVAL_SECS",
                    opts.sweep_interval_secs.to_string(),
                ),
            ],
            opts,
            &info.nats_url,
            &data_dir.join("logs/supervisor.log"),
        )?;
        stack.services.push(("supervisor".into(), child));
        let te_db = database_url(opts, &data_dir, "te_office").await?;
        let child = spawn_service(
            &exe,
            &["serve", "te-office"],
            &[
                ("KOKEILU_DATABASE_URL", te_db),
                (
                    "KOKEILU_GRPC_LISTEN",
                    format!("127.0.0.1:{}", opts.te_office_port),
                ),
                ("KOKEILU_PSEUDONYM_KEY", pseudonym_key.clone()),
            ],
            opts,
            &info.nats_url,
            &data_dir.join("logs/te-office.log"),
        )?;
        stack.services.push(("te-office".into(), child));
        for (area, port) in opts.areas.iter().zip(&opts.area_ports) {
            let db =
                database_url(opts, &data_dir, &format!("area_{}", area.replace('-', "_"))).await?;
            let child = spawn_service(
                &exe,
                &["serve", "trial-area"],
                &[
                    ("KOKEILU_AREA", area.clone()),
                    ("KOKEILU_DATABASE_URL", db),
                    ("KOKEILU_GRPC_LISTEN", format!("127.0.0.1:{port}")),
                    ("KOKEILU_PSEUDONYM_KEY", pseudonym_key.clone()),
                ],
                opts,
                &info.nats_url,
                &data_dir.join(format!("logs/area-{area}.log")),
            )?;
            stack.services.push((format!("area {area}"), child));
            info.areas
                .insert(area.clone(), format!("http://127.0.0.1:{port}"));
        }
        stack.info = info;
        stack.wait_healthy(Duration::from_secs(60)).await?;
        std::fs::write(
            data_dir.join("stack.json"),
            serde_json::to_string_pretty(&stack.info)?,
        )?;
        Ok(stack)
    }

    async fn wait_healthy(&mut self, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        let mut urls = vec![
            ("supervisor".to_owned(), self.info.supervisor.clone()),
            ("te-office".to_owned(), self.info.te_office.clone()),
        ];
        urls.extend(
            self.info
                .areas
                .iter()
                .map(|(a, u)| (format!("area {a}"), u.clone())),
        );
        for (name, url) in urls {
            loop {
                if client::healthy(&url).await {
                    break;
                }
                for (svc, child) in &mut self.services {
                    if let Some(status) = child.try_wait()? {
                        bail!(
                            "{svc} exited at start ({status}); see {}",
                            self.data_dir.join("logs").display()
                        );
                    }
                }
                if Instant::now() > deadline {
                    bail!("{name} did not become healthy at {url} within {patience:?}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// Stops services (SIGTERM, then SIGKILL after 15 s), then NATS.
    pub fn stop(mut self) {
        self.stop_services();
        self.nats.stop(Duration::from_secs(10));
        let _ = std::fs::remove_file(self.data_dir.join("stack.json"));
    }

    fn stop_services(&mut self) {
        for (_, child) in self.services.iter().rev() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for (name, child) in &mut self.services {
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        eprintln!("{name} did not stop in time; killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.services.clear();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, child) in &mut self.services {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_service(
    exe: &Path,
    args: &[&str],
    env: &[(&str, String)],
    opts: &StackOptions,
    nats_url: &str,
    log: &Path,
) -> anyhow::Result<Child> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env("KOKEILU_NATS_URL", nats_url)
        // Each service's admin port on a free port unless `env` names one.
        .env("KOKEILU_ADMIN_LISTEN", "127.0.0.1:0")
        .env("KOKEILU_LOG", &opts.log)
        .env("KOKEILU_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    if let Some(start) = opts.clock_start {
        cmd.env("KOKEILU_CLOCK_START", start.to_rfc3339());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd.spawn()?)
}

/// The local stack's pseudonym key: made once (random, 32 bytes) and kept in the data folder,
/// readable by its owner only, so pseudonyms stay stable across restarts.
fn pseudonym_key(data_dir: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("pseudonym.key");
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim().to_owned();
        if key.len() >= 32 {
            return Ok(key);
        }
        bail!(
            "{} is too short: remove it to make a new key",
            path.display()
        );
    }
    let bytes: [u8; 32] = rand::random();
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(key.as_bytes())?;
    Ok(key)
}

async fn database_url(opts: &StackOptions, data_dir: &Path, name: &str) -> anyhow::Result<String> {
    match &opts.storage {
        Storage::Sqlite => Ok(format!(
            "sqlite://{}",
            data_dir.join(format!("{name}.db")).display()
        )),
        Storage::Postgres { admin_url, prefix } => {
            use sqlx::{ConnectOptions, Executor};
            use std::str::FromStr;
            let db = format!("{prefix}{name}");
            let options = sqlx::postgres::PgConnectOptions::from_str(admin_url)?;
            let mut conn = options
                .connect()
                .await
                .context("cannot connect to PostgreSQL")?;
            let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&db)
                .fetch_optional(&mut conn)
                .await?
                .is_some();
            if !exists {
                // `db` is built from our own prefix and area slugs ([a-z0-9_]).
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                    .await?;
            }
            Ok(options.database(&db).to_url_lossy().to_string())
        }
    }
}

/// Drops the databases a PostgreSQL stack created (benchmarks clean up after themselves).
pub async fn drop_postgres_databases(admin_url: &str, prefix: &str) -> anyhow::Result<()> {
    use sqlx::{ConnectOptions, Executor, Row};
    use std::str::FromStr;
    let options = sqlx::postgres::PgConnectOptions::from_str(admin_url)?;
    let mut conn = options.connect().await?;
    let rows = sqlx::query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
        .bind(prefix)
        .fetch_all(&mut conn)
        .await?;
    for row in rows {
        let name: String = row.try_get("datname")?;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    }
    Ok(())
}

/// `kokeilu up`.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let registry = kokeilu_rules::registry::Registry::builtin();
    for area in &args.areas {
        if registry.current_area(area).is_none() {
            bail!("{area:?} is not a trial area (see `kokeilu areas`)");
        }
    }
    let opts = StackOptions {
        data_dir: args.data_dir.clone(),
        tools_dir: args.tools_dir.clone(),
        areas: args.areas.clone(),
        storage: match &args.postgres {
            Some(url) => Storage::Postgres {
                admin_url: url.clone(),
                prefix: "kokeilu_".into(),
            },
            None => Storage::Sqlite,
        },
        nats_port: Some(args.nats_port),
        te_office_port: args.te_office_port,
        area_ports: (0..args.areas.len())
            .map(|i| u16::try_from(i).map(|i| args.first_area_port + i))
            .collect::<Result<_, _>>()?,
        supervisor_port: args.supervisor_port,
        stats_port: args.stats_port,
        sweep_interval_secs: 2,
        clock_start: Some(args.clock_start),
        log: args.log.clone(),
    };
    println!("starting NATS and {} services…", args.areas.len() + 2);
    let stack = Stack::start(&opts).await?;
    println!(
        "Kokeilu is up (service clock starts at {}):",
        args.clock_start
    );
    println!("  NATS        {}", stack.info.nats_url);
    println!("  te-office   {}", stack.info.te_office);
    for (area, url) in &stack.info.areas {
        println!("  {area:<11} {url}");
    }
    println!("  supervisor  {}  (AVI)", stack.info.supervisor);
    println!("  statistics  {}/stats/monthly.json", stack.info.stats);
    println!("  data        {}  (logs in logs/)", args.data_dir.display());
    if args.demo > 0 {
        let outcome = crate::commands::run_demo(&stack.info, args.demo).await;
        if let Err(e) = outcome {
            eprintln!("demo failed: {e:#}");
        }
    }
    println!("press Ctrl-C to stop");
    kokeilu_platform::shutdown::signal().await;
    println!("stopping…");
    tokio::task::spawn_blocking(move || stack.stop()).await?;
    println!("stopped");
    Ok(())
}
