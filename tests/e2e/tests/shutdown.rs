//! Shutdown is bounded: with NATS gone, a service that gets SIGTERM logs "shutting down" and
//! exits within its configured shutdown timeout (each step of the ordered shutdown gives up at
//! the deadline instead of waiting for a server that will not answer).

// Test harness code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use kokeilu_test_support::ServiceProcess;

/// The shutdown timeout the services are given.
const SHUTDOWN_TIMEOUT_SECS: u64 = 3;
/// Slack on top of it for process exit on a loaded machine (still far below "never").
const MARGIN: Duration = Duration::from_secs(20);

fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(format!("{name}.db")).display())
}

/// te-office's pseudonym key settings, with the key file written into `dir`.
fn pseudonym_key(dir: &Path) -> [(&'static str, String); 2] {
    let path = dir.join("pseudonym.key");
    std::fs::write(&path, "5d".repeat(32)).unwrap();
    [
        ("KOKEILU_PSEUDONYM_KEY_FILE", path.display().to_string()),
        ("KOKEILU_PSEUDONYM_KEY_ID", "shutdown-1".to_owned()),
    ]
}

fn start(dir: &Path, nats_url: &str, name: &str, args: &[&str]) -> ServiceProcess {
    let mut env = vec![
        ("KOKEILU_DATABASE_URL", sqlite_url(dir, name)),
        ("KOKEILU_NATS_URL", nats_url.to_owned()),
        (
            "KOKEILU_SHUTDOWN_TIMEOUT_SECS",
            SHUTDOWN_TIMEOUT_SECS.to_string(),
        ),
        ("KOKEILU_STATS_LISTEN", "127.0.0.1:0".to_owned()),
    ];
    if name == "kainuu" {
        env.push(("KOKEILU_AREA", "kainuu".to_owned()));
    }
    if args.contains(&"te-office") {
        env.extend(pseudonym_key(dir));
    }
    ServiceProcess::start(args, &env, dir.join(format!("{name}.log")))
}

#[test]
fn every_service_exits_within_its_bound_after_nats_died() {
    let dir = tempfile::tempdir().unwrap();
    let nats = kokeilu_test_support::nats();
    let mut services = vec![
        (
            "te-office",
            start(
                dir.path(),
                &nats.url(),
                "te-office",
                &["serve", "te-office"],
            ),
        ),
        (
            "kainuu",
            start(dir.path(), &nats.url(), "kainuu", &["serve", "trial-area"]),
        ),
        (
            "supervisor",
            start(
                dir.path(),
                &nats.url(),
                "supervisor",
                &["serve", "supervisor"],
            ),
        ),
    ];
    // Up: each has logged that it serves (its consumers and relay are running).
    let up_by = Instant::now() + Duration::from_secs(60);
    for (name, service) in &services {
        while !service.log().contains("serving") {
            assert!(
                Instant::now() < up_by,
                "{name} did not come up:\n{}",
                service.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // NATS dies (SIGKILL): the services' clients are left reconnecting to nothing.
    drop(nats);

    let bound = Duration::from_secs(SHUTDOWN_TIMEOUT_SECS) + MARGIN;
    for (_, service) in &services {
        service.terminate();
    }
    let signalled = Instant::now();
    let mut exited = vec![None; services.len()];
    while exited.iter().any(Option::is_none) && signalled.elapsed() < bound {
        for (i, (_, service)) in services.iter_mut().enumerate() {
            if exited[i].is_none() {
                exited[i] = service.try_wait();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for ((name, service), status) in services.iter().zip(&exited) {
        let log = service.log();
        let status = status.unwrap_or_else(|| {
            panic!("{name} still running {bound:?} after SIGTERM with NATS down:\n{log}")
        });
        assert!(
            log.contains("shutting down"),
            "{name} did not log \"shutting down\":\n{log}"
        );
        assert!(status.success(), "{name} exited with {status}:\n{log}");
    }
}

/// With its PostgreSQL database gone (dropped, every connection terminated), te-office still
/// exits within its bound after SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn te_office_exits_within_its_bound_after_its_database_went_away() {
    use sqlx::{ConnectOptions, Executor};
    use std::str::FromStr;

    let Some(db) = kokeilu_test_support::TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = kokeilu_test_support::nats();
    let env = [
        ("KOKEILU_DATABASE_URL", db.url().to_owned()),
        ("KOKEILU_NATS_URL", nats.url()),
        (
            "KOKEILU_SHUTDOWN_TIMEOUT_SECS",
            SHUTDOWN_TIMEOUT_SECS.to_string(),
        ),
    ]
    .into_iter()
    .chain(pseudonym_key(dir.path()))
    .collect::<Vec<_>>();
    let mut service = ServiceProcess::start(
        &["serve", "te-office"],
        &env,
        dir.path().join("te-office.log"),
    );
    let up_by = Instant::now() + Duration::from_secs(60);
    while !service.log().contains("serving") {
        assert!(
            Instant::now() < up_by,
            "did not come up:\n{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The database goes away under the running service.
    let name = db
        .url()
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap()
        .to_owned();
    let admin =
        sqlx::postgres::PgConnectOptions::from_str(&kokeilu_test_support::postgres_admin_url())
            .unwrap();
    let mut conn = admin.connect().await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .await
    .unwrap();

    service.terminate();
    let signalled = Instant::now();
    let bound = Duration::from_secs(SHUTDOWN_TIMEOUT_SECS) + MARGIN;
    let status = loop {
        if let Some(status) = service.try_wait() {
            break status;
        }
        assert!(
            signalled.elapsed() < bound,
            "still running {bound:?} after SIGTERM with its database gone:\n{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = service.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(status.success(), "exited with {status}:\n{log}");
}
