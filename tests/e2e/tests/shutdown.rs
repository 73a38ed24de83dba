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

fn start(dir: &Path, nats_url: &str, name: &str, args: &[&str]) -> ServiceProcess {
    let mut env = vec![
        ("KOKEILU_DATABASE_URL", sqlite_url(dir, name)),
        ("KOKEILU_NATS_URL", nats_url.to_owned()),
        (
            "KOKEILU_SHUTDOWN_TIMEOUT_SECS",
            SHUTDOWN_TIMEOUT_SECS.to_string(),
        ),
        (
            "KOKEILU_PSEUDONYM_KEY",
            "shutdown-test-pseudonym-key-0123".to_owned(),
        ),
        ("KOKEILU_STATS_LISTEN", "127.0.0.1:0".to_owned()),
    ];
    if name == "kainuu" {
        env.push(("KOKEILU_AREA", "kainuu".to_owned()));
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
