//! The whole system on one machine: a NATS server and every service as separate processes.
//!
//! `kokeilu up` writes `stack.json` into the data folder so the other commands (`demo`, `refer`,
//! `status`, …) find the services without flags, and keeps it true while it supervises the
//! processes: a process that dies is reported on stderr, reaped and restarted with backoff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use kokeilu_devtools::nats_server::{self, NatsOptions, NatsProcess};
use kokeilu_devtools::pki::Pki;
use kokeilu_platform::identity::Identity;
use serde::{Deserialize, Serialize};

use crate::client;
use crate::output::{self, say};

/// The first wait before restarting a process that died; doubled on each further death.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A process that ran this long before dying starts again from [`FIRST_BACKOFF`].
const STABLE_AFTER: Duration = Duration::from_secs(30);

/// Where a running stack's services are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StackInfo {
    pub nats_url: String,
    pub te_office: String,
    pub areas: BTreeMap<String, String>,
    /// AVI's supervisor (gRPC).
    pub supervisor: String,
    /// The supervisor's open statistics (plain HTTP).
    pub stats: String,
    pub clock_start: Option<DateTime<Utc>>,
    /// The real instant at which every service clock read `clock_start`: one timeline for the
    /// whole stack, which a restarted service rejoins.
    #[serde(default)]
    pub clock_anchor: Option<DateTime<Utc>>,
    /// Each service's Prometheus metrics URL, by process name (`te-office`, `area-kainuu`, …).
    #[serde(default)]
    pub metrics: BTreeMap<String, String>,
    /// The stack's processes by name (`nats`, `te-office`, `area-<slug>`, `supervisor`), as the
    /// supervision of `kokeilu up` last saw them.
    #[serde(default)]
    pub processes: BTreeMap<String, ProcessInfo>,
}

/// One supervised process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// The running process; `None` while it waits for its restart.
    pub pid: Option<u32>,
    pub state: ProcessState,
    /// How often it has been restarted.
    pub restarts: u32,
    /// gRPC URL (services only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<String>,
    /// Metrics URL (services only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// How it ended the last time it died.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    Running,
    /// Died; restarted when its backoff has passed.
    Restarting,
}

impl StackInfo {
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        client::use_data_dir(data_dir);
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
    /// Admin (metrics) ports: te-office, one per area in the order of `areas`, the supervisor.
    pub te_office_admin_port: u16,
    pub area_admin_ports: Vec<u16>,
    pub supervisor_admin_port: u16,
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
    /// te-office admin port (`/metrics`, `/healthz`).
    #[arg(long, env = "KOKEILU_TE_OFFICE_ADMIN_PORT", default_value_t = 9601)]
    pub te_office_admin_port: u16,
    /// The first area's admin port; the other areas use the following ports in order.
    #[arg(long, env = "KOKEILU_FIRST_AREA_ADMIN_PORT", default_value_t = 9611)]
    pub first_area_admin_port: u16,
    /// The supervisor's admin port.
    #[arg(long, env = "KOKEILU_SUPERVISOR_ADMIN_PORT", default_value_t = 9621)]
    pub supervisor_admin_port: u16,
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

/// When a supervised process may start again after dying.
#[derive(Debug)]
struct Restarts {
    count: u32,
    started_at: Instant,
    backoff: Duration,
    restart_at: Option<Instant>,
    last_exit: Option<String>,
}

impl Restarts {
    fn new() -> Self {
        Self {
            count: 0,
            started_at: Instant::now(),
            backoff: FIRST_BACKOFF,
            restart_at: None,
            last_exit: None,
        }
    }

    /// Records a death (or a failed start); the wait before the next start.
    fn died(&mut self, now: Instant, how: String) -> Duration {
        let was_running = self.restart_at.is_none();
        if was_running && now.duration_since(self.started_at) >= STABLE_AFTER {
            self.backoff = FIRST_BACKOFF;
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.restart_at = Some(now + wait);
        self.last_exit = Some(how);
        wait
    }

    fn due(&self, now: Instant) -> bool {
        self.restart_at.is_some_and(|at| at <= now)
    }

    fn started(&mut self, now: Instant) {
        self.count += 1;
        self.started_at = now;
        self.restart_at = None;
    }

    fn info(&self, pid: Option<u32>) -> ProcessInfo {
        ProcessInfo {
            pid,
            state: if pid.is_some() {
                ProcessState::Running
            } else {
                ProcessState::Restarting
            },
            restarts: self.count,
            grpc: None,
            metrics: None,
            last_exit: self.last_exit.clone(),
        }
    }
}

/// A service child process and how to start it again.
struct Service {
    /// Process name in `stack.json` and in reports (`te-office`, `area-kainuu`, `supervisor`).
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    grpc: String,
    metrics: String,
    child: Option<Child>,
    restarts: Restarts,
}

/// A running stack; stopped (services first, NATS last) by [`Stack::stop`] or on drop.
pub struct Stack {
    pub info: StackInfo,
    nats: Option<NatsProcess>,
    nats_binary: PathBuf,
    nats_options: NatsOptions,
    nats_restarts: Restarts,
    services: Vec<Service>,
    exe: PathBuf,
    log_filter: String,
    clock_start: Option<DateTime<Utc>>,
    clock_anchor: DateTime<Utc>,
    data_dir: PathBuf,
    pki: Pki,
}

impl Stack {
    pub async fn start(opts: &StackOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(opts.data_dir.join("logs"))?;
        let data_dir = opts.data_dir.canonicalize()?;
        let nats_binary = nats_server::locate(&opts.tools_dir)?;
        let clock_anchor = Utc::now();
        let nats_options = NatsOptions {
            port: opts.nats_port,
            store_dir: Some(data_dir.join("nats")),
            sync_always: true,
            log_file: Some(data_dir.join("logs/nats-server.log")),
            ..Default::default()
        };
        let nats = NatsProcess::start(&nats_binary, &nats_options)?;
        crate::nats_admin::provision_local(&nats.url()).await?;
        let nats_options = NatsOptions {
            port: Some(nats.port()),
            ..nats_options
        };
        let mut info = StackInfo {
            nats_url: nats.url(),
            te_office: grpc_url(opts.te_office_port),
            areas: BTreeMap::new(),
            supervisor: grpc_url(opts.supervisor_port),
            stats: format!("http://127.0.0.1:{}", opts.stats_port),
            clock_start: opts.clock_start,
            clock_anchor: opts.clock_start.map(|_| clock_anchor),
            metrics: BTreeMap::new(),
            processes: BTreeMap::new(),
        };
        // Every gRPC port is mutual TLS: a CA and one certificate per party, made on first run.
        let mut identities = vec![
            Identity::TeOffice,
            Identity::Avi,
            Identity::AviStaff("demo".into()),
            Identity::Operator,
        ];
        identities.extend(opts.areas.iter().map(|a| Identity::Area(a.clone())));
        let pki = Pki::ensure(&Pki::dir_in(&data_dir), &identities)?;
        crate::client::configure_default_pki(pki.dir());
        // te-office alone pseudonymises clients (and sends each pseudonym with the referral);
        // neither the areas nor the supervisor get the key.
        let pseudonym_key = pseudonym_key(&data_dir)?;
        let mut stack = Self {
            pki,
            info: info.clone(),
            nats: Some(nats),
            nats_binary,
            nats_options,
            nats_restarts: Restarts::new(),
            services: Vec::new(),
            exe: std::env::current_exe()?,
            log_filter: opts.log.clone(),
            clock_start: opts.clock_start,
            clock_anchor,
            data_dir: data_dir.clone(),
        };
        let avi_db = database_url(opts, &data_dir, "supervisor").await?;
        stack.add_service(
            "supervisor",
            "supervisor",
            &Identity::Avi,
            vec![
                ("KOKEILU_DATABASE_URL", avi_db),
                (
                    "KOKEILU_STATS_LISTEN",
                    format!("127.0.0.1:{}", opts.stats_port),
                ),
                (
                    "KOKEILU_SWEEP_INTERVAL_SECS",
                    opts.sweep_interval_secs.to_string(),
                ),
            ],
            opts.supervisor_port,
            opts.supervisor_admin_port,
        )?;
        let te_db = database_url(opts, &data_dir, "te_office").await?;
        stack.add_service(
            "te-office",
            "te-office",
            &Identity::TeOffice,
            vec![
                ("KOKEILU_DATABASE_URL", te_db),
                (
                    "KOKEILU_PSEUDONYM_KEY_FILE",
                    pseudonym_key.display().to_string(),
                ),
                (
                    "KOKEILU_PSEUDONYM_KEY_ID",
                    LOCAL_PSEUDONYM_KEY_ID.to_owned(),
                ),
            ],
            opts.te_office_port,
            opts.te_office_admin_port,
        )?;
        for ((area, port), admin) in opts
            .areas
            .iter()
            .zip(&opts.area_ports)
            .zip(&opts.area_admin_ports)
        {
            let db =
                database_url(opts, &data_dir, &format!("area_{}", area.replace('-', "_"))).await?;
            stack.add_service(
                &format!("area-{area}"),
                "trial-area",
                &Identity::Area(area.clone()),
                vec![("KOKEILU_AREA", area.clone()), ("KOKEILU_DATABASE_URL", db)],
                *port,
                *admin,
            )?;
            info.areas.insert(area.clone(), grpc_url(*port));
        }
        stack.info.areas = info.areas;
        stack.wait_healthy(Duration::from_secs(60)).await?;
        stack.write_info()?;
        Ok(stack)
    }

    /// Starts one service (`kokeilu serve <command>`) with its gRPC and admin addresses.
    fn add_service(
        &mut self,
        name: &str,
        command: &str,
        identity: &Identity,
        env: Vec<(&str, String)>,
        grpc_port: u16,
        admin_port: u16,
    ) -> anyhow::Result<()> {
        let mut env: Vec<(String, String)> =
            env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let tls = self.pki.files(identity);
        for (var, path) in [
            ("KOKEILU_TLS_CERT", tls.cert),
            ("KOKEILU_TLS_KEY", tls.key),
            ("KOKEILU_TLS_CA", tls.ca),
        ] {
            env.push((var.into(), path.display().to_string()));
        }
        env.push((
            "KOKEILU_GRPC_LISTEN".into(),
            format!("127.0.0.1:{grpc_port}"),
        ));
        env.push((
            "KOKEILU_ADMIN_LISTEN".into(),
            format!("127.0.0.1:{admin_port}"),
        ));
        let mut service = Service {
            name: name.to_owned(),
            args: vec!["serve".into(), command.into()],
            env,
            log: self.data_dir.join(format!("logs/{name}.log")),
            grpc: grpc_url(grpc_port),
            metrics: format!("http://127.0.0.1:{admin_port}/metrics"),
            child: None,
            restarts: Restarts::new(),
        };
        service.child = Some(self.spawn(&service)?);
        self.info
            .metrics
            .insert(name.to_owned(), service.metrics.clone());
        self.services.push(service);
        Ok(())
    }

    fn spawn(&self, service: &Service) -> anyhow::Result<Child> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&service.log)?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(&service.args)
            .env("KOKEILU_NATS_URL", &self.info.nats_url)
            .env("KOKEILU_LOG", &self.log_filter)
            .env("KOKEILU_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        if let Some(start) = self.clock_start {
            cmd.env("KOKEILU_CLOCK_START", start.to_rfc3339());
            cmd.env("KOKEILU_CLOCK_ANCHOR", self.clock_anchor.to_rfc3339());
        }
        for (k, v) in &service.env {
            cmd.env(k, v);
        }
        cmd.spawn()
            .with_context(|| format!("cannot start {}", service.name))
    }

    async fn wait_healthy(&mut self, patience: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + patience;
        let urls: Vec<(String, String)> = self
            .services
            .iter()
            .map(|s| (s.name.clone(), s.grpc.clone()))
            .collect();
        for (name, url) in urls {
            loop {
                if client::healthy(&url).await {
                    break;
                }
                for service in &mut self.services {
                    if let Some(child) = &mut service.child
                        && let Some(status) = child.try_wait()?
                    {
                        bail!(
                            "{} exited at start ({status}); see {}",
                            service.name,
                            service.log.display()
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

    /// Keeps the stack running until `shutdown` resolves: a process that dies is reported on
    /// stderr at once, reaped, and restarted after its backoff; `stack.json` follows.
    pub async fn supervise(&mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut children = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
        tokio::pin!(shutdown);
        loop {
            if self.check()
                && let Err(e) = self.write_info()
            {
                eprintln!("kokeilu: cannot update stack.json: {e:#}");
            }
            let now = Instant::now();
            let wake = self
                .services
                .iter()
                .map(|s| &s.restarts)
                .chain(std::iter::once(&self.nats_restarts))
                .filter_map(|r| r.restart_at)
                .map(|at| at.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                _ = children.recv() => {}
                () = tokio::time::sleep(wake) => {}
            }
        }
    }

    /// Reaps and reports dead processes and restarts the ones whose backoff has passed; whether
    /// anything changed.
    fn check(&mut self) -> bool {
        let mut changed = false;
        let now = Instant::now();
        if let Some(nats) = &mut self.nats {
            if let Some(how) = exit_of(nats.pid()) {
                let pid = nats.pid();
                nats.stop(Duration::ZERO); // reaps it
                self.nats = None;
                let wait = self.nats_restarts.died(now, how.clone());
                eprintln!(
                    "kokeilu: nats (pid {pid}) died ({how}); restarting in {:.1} s",
                    wait.as_secs_f64()
                );
                changed = true;
            }
        } else if self.nats_restarts.due(now) {
            match tokio::task::block_in_place(|| {
                NatsProcess::start(&self.nats_binary, &self.nats_options)
            }) {
                Ok(nats) => {
                    self.nats_restarts.started(Instant::now());
                    eprintln!(
                        "kokeilu: nats restarted (pid {}, restart {})",
                        nats.pid(),
                        self.nats_restarts.count
                    );
                    self.nats = Some(nats);
                }
                Err(e) => {
                    let wait = self.nats_restarts.died(now, format!("start failed: {e:#}"));
                    eprintln!(
                        "kokeilu: cannot restart nats ({e:#}); trying again in {:.1} s",
                        wait.as_secs_f64()
                    );
                }
            }
            changed = true;
        }
        let mut respawn = Vec::new();
        for (i, service) in self.services.iter_mut().enumerate() {
            match &mut service.child {
                Some(child) => {
                    let status = match child.try_wait() {
                        Ok(Some(status)) => status.to_string(),
                        Ok(None) => continue,
                        Err(e) => format!("lost ({e})"),
                    };
                    let pid = child.id();
                    service.child = None;
                    let wait = service.restarts.died(now, status.clone());
                    eprintln!(
                        "kokeilu: {} (pid {pid}) died ({status}); restarting in {:.1} s (see {})",
                        service.name,
                        wait.as_secs_f64(),
                        service.log.display()
                    );
                    changed = true;
                }
                None if service.restarts.due(now) => respawn.push(i),
                None => {}
            }
        }
        for i in respawn {
            changed = true;
            let spawned = self.spawn(&self.services[i]);
            let service = &mut self.services[i];
            match spawned {
                Ok(child) => {
                    service.restarts.started(Instant::now());
                    eprintln!(
                        "kokeilu: {} restarted (pid {}, restart {})",
                        service.name,
                        child.id(),
                        service.restarts.count
                    );
                    service.child = Some(child);
                }
                Err(e) => {
                    let wait = service.restarts.died(now, format!("start failed: {e:#}"));
                    eprintln!(
                        "kokeilu: cannot restart {} ({e:#}); trying again in {:.1} s",
                        service.name,
                        wait.as_secs_f64()
                    );
                }
            }
        }
        changed
    }

    /// Writes `stack.json` (atomically: readers never see half a file).
    fn write_info(&mut self) -> anyhow::Result<()> {
        let mut processes = BTreeMap::new();
        processes.insert(
            "nats".to_owned(),
            self.nats_restarts
                .info(self.nats.as_ref().map(NatsProcess::pid)),
        );
        for s in &self.services {
            let mut p = s.restarts.info(s.child.as_ref().map(Child::id));
            p.grpc = Some(s.grpc.clone());
            p.metrics = Some(s.metrics.clone());
            processes.insert(s.name.clone(), p);
        }
        self.info.processes = processes;
        let path = self.data_dir.join("stack.json");
        let temp = self.data_dir.join("stack.json.tmp");
        std::fs::write(&temp, serde_json::to_string_pretty(&self.info)?)?;
        std::fs::rename(&temp, &path)?;
        Ok(())
    }

    /// Stops services (SIGTERM, then SIGKILL after 15 s), then NATS.
    pub fn stop(mut self) {
        self.stop_services();
        if let Some(mut nats) = self.nats.take() {
            nats.stop(Duration::from_secs(10));
        }
        let _ = std::fs::remove_file(self.data_dir.join("stack.json"));
    }

    fn stop_services(&mut self) {
        for service in self.services.iter().rev() {
            if let Some(child) = &service.child
                && let Ok(pid) = i32::try_from(child.id())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for service in &mut self.services {
            let Some(child) = &mut service.child else {
                continue;
            };
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        eprintln!("{} did not stop in time; killing it", service.name);
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
        for service in &mut self.services {
            if let Some(child) = &mut service.child {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn grpc_url(port: u16) -> String {
    format!("https://127.0.0.1:{port}")
}

/// How process `pid` (a child of ours) ended, if it has; it stays a zombie until its owner reaps
/// it, so the `Child` handle remains valid.
fn exit_of(pid: u32) -> Option<String> {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).ok()?);
    match waitid(
        Id::Pid(pid),
        WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT,
    ) {
        Ok(WaitStatus::Exited(_, code)) => Some(format!("exit status: {code}")),
        Ok(WaitStatus::Signaled(_, signal, _)) => {
            Some(format!("signal: {} ({signal})", signal as i32))
        }
        _ => None,
    }
}

/// Id of the local stack's pseudonym key (carried on every fact).
const LOCAL_PSEUDONYM_KEY_ID: &str = "local-1";

/// The local stack's pseudonym key file, `<data-dir>/pki/pseudonym.key`: made once (32 random
/// bytes as 64 hex characters, mode 0600) so pseudonyms stay stable across restarts, and given to
/// te-office only. A file that is not such a key is refused (remove it to make a new one).
fn pseudonym_key(data_dir: &Path) -> anyhow::Result<PathBuf> {
    use kokeilu_platform::privacy::PseudonymKey;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = data_dir.join("pki");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("pseudonym.key");
    if path.exists() {
        PseudonymKey::from_file(LOCAL_PSEUDONYM_KEY_ID, &path)
            .with_context(|| format!("{}: remove it to make a new key", path.display()))?;
        return Ok(path);
    }
    let key = PseudonymKey::generate(LOCAL_PSEUDONYM_KEY_ID)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(format!("{}\n", key.to_hex()).as_bytes())?;
    Ok(path)
}

async fn database_url(opts: &StackOptions, data_dir: &Path, name: &str) -> anyhow::Result<String> {
    match &opts.storage {
        Storage::Sqlite => Ok(format!(
            "sqlite://{}",
            data_dir.join(format!("{name}.db")).display()
        )),
        // The name is built from our own prefix and area slugs ([a-z0-9_]).
        Storage::Postgres { admin_url, prefix } => {
            crate::pg_admin::ensure_database(admin_url, &format!("{prefix}{name}")).await
        }
    }
}

/// `kokeilu up`.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let registry = kokeilu_rules::registry::Registry::builtin();
    for area in &args.areas {
        if registry.current_area(area).is_none() {
            bail!("{area:?} is not a trial area (see `kokeilu areas`)");
        }
    }
    let ports = |first: u16| -> anyhow::Result<Vec<u16>> {
        (0..args.areas.len())
            .map(|i| {
                u16::try_from(i)
                    .ok()
                    .and_then(|i| first.checked_add(i))
                    .context("area ports run past 65535")
            })
            .collect()
    };
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
        area_ports: ports(args.first_area_port)?,
        supervisor_port: args.supervisor_port,
        stats_port: args.stats_port,
        te_office_admin_port: args.te_office_admin_port,
        area_admin_ports: ports(args.first_area_admin_port)?,
        supervisor_admin_port: args.supervisor_admin_port,
        sweep_interval_secs: 2,
        clock_start: Some(args.clock_start),
        log: args.log.clone(),
    };
    // Ctrl-C and SIGTERM are ours from here on, also while the stack starts.
    let shutdown = kokeilu_platform::shutdown::signal();
    tokio::pin!(shutdown);
    say!("starting NATS and {} services…", args.areas.len() + 2);
    let mut stack = tokio::select! {
        stack = Stack::start(&opts) => stack?,
        () = &mut shutdown => {
            say!("stopped before the stack was up");
            return Ok(());
        }
    };
    if output::json() {
        output::document(&serde_json::to_value(&stack.info)?);
    } else {
        print_addresses(&stack.info, &args);
    }
    let info = stack.info.clone();
    let demo = async {
        if args.demo > 0
            && let Err(e) = crate::commands::run_demo(&info, args.demo).await
        {
            eprintln!("demo failed: {e:#}");
        }
        say!("press Ctrl-C to stop");
    };
    tokio::pin!(demo);
    let mut demo_done = false;
    let supervised = {
        let supervise = stack.supervise(&mut shutdown);
        tokio::pin!(supervise);
        loop {
            tokio::select! {
                result = &mut supervise => break result,
                () = &mut demo, if !demo_done => demo_done = true,
            }
        }
    };
    say!("stopping…");
    tokio::task::spawn_blocking(move || stack.stop()).await?;
    say!("stopped");
    supervised
}

fn print_addresses(info: &StackInfo, args: &UpArgs) {
    let metrics = |name: &str| {
        info.metrics
            .get(name)
            .map(|m| format!("  metrics {m}"))
            .unwrap_or_default()
    };
    println!(
        "Kokeilu is up (service clock starts at {}):",
        args.clock_start
    );
    println!("  NATS        {}", info.nats_url);
    println!(
        "  te-office   {:<24}{}",
        info.te_office,
        metrics("te-office")
    );
    for (area, url) in &info.areas {
        println!("  {area:<11} {url:<24}{}", metrics(&format!("area-{area}")));
    }
    println!(
        "  supervisor  {:<24}{}  (AVI)",
        info.supervisor,
        metrics("supervisor")
    );
    println!("  statistics  {}/stats/monthly.json", info.stats);
    println!("  data        {}  (logs in logs/)", args.data_dir.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets_after_a_stable_run() {
        let mut r = Restarts::new();
        let t0 = r.started_at;
        let mut waits = Vec::new();
        for _ in 0..9 {
            waits.push(r.died(t0, "signal: 9 (SIGKILL)".into()));
            assert!(!r.due(t0));
            assert!(r.due(t0 + MAX_BACKOFF));
            r.started(t0);
        }
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(
            ms,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(r.count, 9);
        assert_eq!(r.info(None).state, ProcessState::Restarting);
        assert_eq!(
            r.info(Some(7)).last_exit.as_deref(),
            Some("signal: 9 (SIGKILL)")
        );
        // After running a while, the next death waits the shortest time again.
        assert_eq!(
            r.died(t0 + STABLE_AFTER, "exit status: 1".into()),
            FIRST_BACKOFF
        );
        // Failed starts keep backing off, however long ago the last good start was.
        let later = t0 + STABLE_AFTER * 4;
        assert_eq!(r.died(later, "start failed".into()), FIRST_BACKOFF * 2);
        assert_eq!(r.died(later, "start failed".into()), FIRST_BACKOFF * 4);
    }
}
