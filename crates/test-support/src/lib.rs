//! Test harness shared by every Kokeilu test: this crate owns starting real infrastructure per
//! test (a nats-server through `kokeilu-devtools`, SQLite and PostgreSQL databases, services in
//! process or as `kokeilu serve` processes) and polling for outcomes.
//!
//! - [`nats`]: a real `nats-server` (JetStream on, free port, temporary store) with the Kokeilu
//!   streams provisioned, installed into the workspace's `.tools/` on first use if the machine
//!   has no new enough one; [`nats_unprovisioned`] for one without streams.
//! - [`TestDb`]: a fresh SQLite file or a fresh PostgreSQL database per test, dropped afterwards.
//!   PostgreSQL tests skip with a message when no server is reachable, unless
//!   `KOKEILU_REQUIRE_POSTGRES=1` (set by CI), where an unreachable server fails the test.
//! - [`wait_for`]: poll an async condition until it holds or a generous deadline passes.
//! - [`pki`]: one local PKI per test process (every identity's certificate), a stranger PKI
//!   with its own CA, and mutual-TLS [`channel`]s as a given identity.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use kokeilu_devtools::nats_server::{self, NatsOptions, NatsProcess};
use kokeilu_devtools::pki::Pki;
use kokeilu_platform::identity::Identity;
use kokeilu_platform::tls::TlsFiles;

/// A PKI in a temporary folder, kept for the life of the test process.
pub struct TestPki {
    pki: Pki,
    _dir: tempfile::TempDir,
    issuing: std::sync::Mutex<()>,
}

impl TestPki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
        let pki = Pki::ensure(dir.path(), &[]).unwrap_or_else(|e| panic!("PKI: {e:#}"));
        Self {
            pki,
            _dir: dir,
            issuing: std::sync::Mutex::new(()),
        }
    }

    /// The certificate, key and CA of `identity` (issued on first use).
    pub fn files(&self, identity: &Identity) -> TlsFiles {
        let _one_at_a_time = self
            .issuing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Pki::ensure(self.pki.dir(), std::slice::from_ref(identity))
            .unwrap_or_else(|e| panic!("PKI: {e:#}"));
        self.pki.files(identity)
    }

    /// The folder (`ca.pem`, `<name>.pem`, `<name>-key.pem`).
    pub fn dir(&self) -> &std::path::Path {
        self.pki.dir()
    }
}

/// The test process's PKI: every service and client of a test chains to its CA.
pub fn pki() -> &'static TestPki {
    static PKI: std::sync::OnceLock<TestPki> = std::sync::OnceLock::new();
    PKI.get_or_init(TestPki::new)
}

/// A second, unrelated PKI: its certificates name real identities but chain to another CA.
pub fn stranger_pki() -> &'static TestPki {
    static PKI: std::sync::OnceLock<TestPki> = std::sync::OnceLock::new();
    PKI.get_or_init(TestPki::new)
}

/// A mutual-TLS channel to `url` (`https://127.0.0.1:PORT`) as `identity` of [`pki`].
pub async fn channel(url: &str, identity: &Identity) -> tonic::transport::Channel {
    channel_with(url, &pki().files(identity))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url} as {identity}: {e}"))
}

/// A channel to `url` presenting `files` (any PKI), or the connection error.
pub async fn channel_with(
    url: &str,
    files: &TlsFiles,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    kokeilu_platform::tls::install_crypto_provider();
    let tls = files
        .client_config()
        .unwrap_or_else(|e| panic!("client TLS: {e:#}"));
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap_or_else(|e| panic!("bad url {url}: {e}"))
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
}

/// A channel to `url` verifying the service against [`pki`]'s CA but presenting no certificate.
pub async fn channel_without_certificate(
    url: &str,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    kokeilu_platform::tls::install_crypto_provider();
    let ca = std::fs::read(pki().dir().join("ca.pem")).unwrap_or_else(|e| panic!("CA: {e}"));
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca));
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap_or_else(|e| panic!("bad url {url}: {e}"))
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
}

/// The identity a `kokeilu serve …` command line runs as, for its TLS files.
fn served_identity(
    args: &[impl AsRef<str>],
    env: &[(impl AsRef<str>, String)],
) -> Option<Identity> {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let kind = args
        .iter()
        .position(|a| *a == "serve")
        .and_then(|i| args.get(i + 1))?;
    match *kind {
        "te-office" => Some(Identity::TeOffice),
        "supervisor" => Some(Identity::Avi),
        "trial-area" => {
            let flag = args
                .iter()
                .position(|a| *a == "--area")
                .and_then(|i| args.get(i + 1))
                .map(|a| (*a).to_owned());
            let from_env = env
                .iter()
                .find(|(k, _)| k.as_ref() == "KOKEILU_AREA")
                .map(|(_, v)| v.clone());
            flag.or(from_env).map(Identity::Area)
        }
        _ => None,
    }
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Starts a JetStream-enabled `nats-server` on a free port with a temporary store, with every
/// Kokeilu stream provisioned (as `kokeilu nats provision` does), so services start on it.
pub fn nats() -> NatsProcess {
    nats_with(&NatsOptions::default())
}

/// Starts a `nats-server` with the given options and provisions the Kokeilu streams on it (one
/// replica, connecting without a user: for servers without `accounts`, TLS or other login).
pub fn nats_with(options: &NatsOptions) -> NatsProcess {
    let nats = nats_unprovisioned_with(options);
    provision(&nats.url());
    nats
}

/// Starts a JetStream-enabled `nats-server` without any stream: services refuse to start on it
/// until the streams are provisioned.
pub fn nats_unprovisioned() -> NatsProcess {
    nats_unprovisioned_with(&NatsOptions::default())
}

/// Starts a `nats-server` with the given options, without any stream.
pub fn nats_unprovisioned_with(options: &NatsOptions) -> NatsProcess {
    let binary = nats_server::locate(&workspace_root().join(".tools"))
        .unwrap_or_else(|e| panic!("no usable nats-server: {e:#}"));
    NatsProcess::start(&binary, options)
        .unwrap_or_else(|e| panic!("nats-server did not start: {e:#}"))
}

/// Provisions every Kokeilu stream (one replica) on the server at `url`, connecting without a
/// user. Callable from sync and async tests alike: it runs on a thread of its own.
pub fn provision(url: &str) {
    provision_as(url, None);
}

/// [`provision`] as a NATS user (the operator of `deploy/nats/accounts.conf`).
pub fn provision_as(url: &str, user: Option<(&str, &str)>) {
    let url = url.to_owned();
    let user = user.map(|(u, p)| {
        (
            u.to_owned(),
            kokeilu_platform::config::Secret::new(p.to_owned()),
        )
    });
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let login = kokeilu_bus::nats::Login {
                urls: url,
                user,
                ca: None,
            };
            let client =
                kokeilu_bus::nats::connect(&login, "test-provision", Duration::from_secs(30))
                    .await
                    .map_err(|e| e.to_string())?;
            kokeilu_bus::streams::provision(&kokeilu_bus::nats::jetstream(client), 1)
                .await
                .map_err(|e| e.to_string())
        })
    })
    .join();
    match outcome {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!("cannot provision the Kokeilu streams: {e}"),
        Err(_) => panic!("provisioning the Kokeilu streams panicked"),
    }
}

/// Polls `check` every 25 ms until it returns `Some`, panicking with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

/// URL of the PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("KOKEILU_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn postgres_required() -> bool {
    std::env::var("KOKEILU_REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v == "true")
}

impl TestDb {
    /// A database on `backend`; `None` (with a message) when PostgreSQL is not reachable and not
    /// required.
    pub async fn new(backend: TestBackend) -> Option<Self> {
        match backend {
            TestBackend::Sqlite => Some(Self::sqlite()),
            TestBackend::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite file in a temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self {
            url,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when no server is reachable (see module docs).
    pub async fn postgres() -> Option<Self> {
        use sqlx::{ConnectOptions, Executor};
        use std::str::FromStr;
        let admin = postgres_admin_url();
        let options = match sqlx::postgres::PgConnectOptions::from_str(&admin) {
            Ok(o) => o,
            Err(e) => panic!("KOKEILU_TEST_POSTGRES_URL is not a PostgreSQL URL: {e}"),
        };
        let mut conn = match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) if !postgres_required() => {
                eprintln!(
                    "SKIPPED: PostgreSQL not reachable at {admin} ({e}); set KOKEILU_TEST_POSTGRES_URL"
                );
                return None;
            }
            Err(_) if !postgres_required() => {
                eprintln!("SKIPPED: PostgreSQL at {admin} did not answer within 5 s");
                return None;
            }
            Ok(Err(e)) => panic!(
                "PostgreSQL required (KOKEILU_REQUIRE_POSTGRES) but not reachable at {admin}: {e}"
            ),
            Err(_) => {
                panic!("PostgreSQL required (KOKEILU_REQUIRE_POSTGRES) but {admin} did not answer")
            }
        };
        let name = format!("kokeilu_test_{}", uuid::Uuid::new_v4().simple());
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("cannot create test database: {e}"));
        let url = options.database(&name).to_url_lossy().to_string();
        Some(Self {
            url,
            _dir: None,
            pg_name: Some(name),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> TestBackend {
        if self.pg_name.is_some() {
            TestBackend::Postgres
        } else {
            TestBackend::Sqlite
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a thread with its own runtime.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::{ConnectOptions, Executor};
                use std::str::FromStr;
                if let Ok(options) = sqlx::postgres::PgConnectOptions::from_str(&admin)
                    && let Ok(mut conn) = options.connect().await
                {
                    let _ = conn
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Path of the `kokeilu` binary of this workspace (built by `cargo test --workspace`; built here
/// if missing, e.g. when one test crate is run alone).
pub fn kokeilu_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no current exe: {e}"));
    // target/<profile>/deps/<test> → target/<profile>/kokeilu
    let profile_dir = exe
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug"));
    let bin = profile_dir.join("kokeilu");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "kokeilu-cli", "--bin", "kokeilu"])
            .current_dir(workspace_root())
            .status()
            .unwrap_or_else(|e| panic!("cannot build kokeilu: {e}"));
        assert!(status.success(), "building kokeilu failed");
    }
    bin
}

/// A service run as its own process (`kokeilu serve …`), for tests that kill processes.
#[derive(Debug)]
pub struct ServiceProcess {
    child: std::process::Child,
    pub port: u16,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
}

impl ServiceProcess {
    /// Starts `kokeilu <args>` with `env` on a free gRPC port and waits until the port accepts.
    pub fn start(args: &[&str], env: &[(&str, String)], log: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let mut s = Self {
            child: Self::spawn(args, env, port, &log),
            port,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            log,
        };
        s.wait_listening();
        s
    }

    fn spawn(
        args: &[impl AsRef<str>],
        env: &[(impl AsRef<str>, String)],
        port: u16,
        log: &std::path::Path,
    ) -> std::process::Child {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open log {}: {e}", log.display()));
        let mut cmd = std::process::Command::new(kokeilu_binary());
        cmd.args(args.iter().map(AsRef::as_ref))
            .env("KOKEILU_GRPC_LISTEN", format!("127.0.0.1:{port}"))
            .env("KOKEILU_ADMIN_LISTEN", "127.0.0.1:0")
            .env("KOKEILU_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(file);
        if let Some(identity) = served_identity(args, env) {
            let files = pki().files(&identity);
            cmd.env("KOKEILU_TLS_CERT", files.cert)
                .env("KOKEILU_TLS_KEY", files.key)
                .env("KOKEILU_TLS_CA", files.ca);
        }
        for (k, v) in env {
            cmd.env(k.as_ref(), v);
        }
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start kokeilu: {e}"))
    }

    fn wait_listening(&mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("service exited at start ({status}):\n{log}");
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "service did not listen within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The mutual-TLS gRPC URL (connect with [`channel`]).
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sets (or replaces) an environment variable for the next [`restart`](Self::restart).
    pub fn set_env(&mut self, key: &str, value: String) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value));
    }

    /// Starts the same service again on the same port, database and NATS.
    pub fn restart(&mut self) {
        self.kill9();
        self.child = Self::spawn(&self.args, &self.env, self.port, &self.log);
        self.wait_listening();
    }

    /// SIGTERM: the service's ordered shutdown runs.
    pub fn terminate(&self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }

    /// The exit status, if the process has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test per backend for each scenario `async fn name(backend: TestBackend)`: modules
/// `name::sqlite` and `name::postgres` (which returns early, with a message, where no server is
/// reachable, unless `KOKEILU_REQUIRE_POSTGRES=1`).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::TestBackend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::TestBackend::Postgres).await;
            }
        }
    )*};
}
