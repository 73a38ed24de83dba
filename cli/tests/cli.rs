//! The `kokeilu` command as an operator runs it. (Its presence also makes `cargo test` build the
//! binary that the end-to-end crash tests start as separate processes.)

// Test harness code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn kokeilu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kokeilu"))
        .args(args)
        .output()
        .expect("kokeilu runs")
}

#[test]
fn areas_lists_the_25_trial_areas() {
    let out = kokeilu(&["areas"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 25);
    assert!(
        text.lines()
            .any(|l| l.starts_with("kainuu") && l.contains("205 Kajaani"))
    );
}

#[test]
fn commands_without_a_stack_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = kokeilu(&["status", "--data-dir", dir.path().to_str().unwrap(), "x"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("kokeilu up"), "{err}");
}

#[test]
fn a_service_refuses_an_unknown_area() {
    let dir = tempfile::tempdir().unwrap();
    let out = kokeilu(&["serve", "trial-area"]);
    assert!(!out.status.success(), "required flags are enforced");
    let out = Command::new(env!("CARGO_BIN_EXE_kokeilu"))
        .args(["serve", "trial-area", "--area", "atlantis"])
        .env(
            "KOKEILU_DATABASE_URL",
            format!("sqlite://{}/a.db", dir.path().display()),
        )
        .env("KOKEILU_NATS_URL", "nats://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("atlantis") && err.contains("not a trial area"),
        "{err}"
    );
}

fn json(args: &[&str], stdin: Option<&str>) -> (bool, serde_json::Value) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kokeilu"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), value)
}

#[test]
fn rules_hetu_answers_valid_or_the_reason() {
    let (ok, v) = json(&["rules", "hetu", "131052Y308T"], None);
    assert!(ok);
    assert_eq!(v["valid"], true);
    assert_eq!(v["birth_date"], "1952-10-13");
    assert_eq!(v["century_sign"], "Y");
    assert_eq!(v["temporary"], false);
    let (ok, v) = json(&["rules", "hetu", "131052-308X"], None);
    assert!(ok, "an invalid code is an answer");
    assert_eq!(v["valid"], false);
    assert_eq!(v["reason"], "check character does not match");
}

#[test]
fn rules_workdays_add_and_between() {
    let (_, v) = json(&["rules", "workdays", "add", "2024-12-23", "2"], None);
    assert_eq!(v["result"], "2024-12-30");
    let (_, v) = json(
        &["rules", "workdays", "between", "2024-12-20", "2024-12-31"],
        None,
    );
    assert_eq!(v["working_days"], 4);
    let (ok, _) = json(&["rules", "workdays", "add", "2024-13-01", "2"], None);
    assert!(!ok, "unusable input fails");
}

#[test]
fn rules_eligibility_reads_facts_from_stdin() {
    let facts = r#"{"henkilotunnus":"131052-308T","home_municipality_code":"205",
        "registered_as_jobseeker":true}"#;
    let (ok, v) = json(
        &["rules", "eligibility", "--date", "2024-03-04"],
        Some(facts),
    );
    assert!(ok);
    assert_eq!(v["outcome"]["kind"], "referral");
    assert_eq!(v["outcome"]["area"], "kainuu");
    assert_eq!(v["grounds"][0], "no_earnings_related_allowance");
    let (ok, v) = json(
        &["rules", "eligibility", "--date", "2025-03-04"],
        Some(facts),
    );
    assert!(ok);
    assert_eq!(v["outcome"]["reason"], "no_trial_in_force");
    let (ok, _) = json(&["rules", "eligibility"], Some("{\"nonsense\": 1}"));
    assert!(!ok);
}

#[test]
fn rules_statement_competence_by_date() {
    let (_, v) = json(
        &[
            "rules",
            "statement-competence",
            "general_conditions",
            "2021-10-01",
        ],
        None,
    );
    assert_eq!(v["issuer"], "te_office");
    let (_, v) = json(
        &[
            "rules",
            "statement-competence",
            "general_conditions",
            "2021-10-02",
        ],
        None,
    );
    assert_eq!(v["issuer"], "municipality");
    let (ok, _) = json(
        &["rules", "statement-competence", "nonsense", "2021-10-02"],
        None,
    );
    assert!(!ok);
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// The README's first command, scaled down: `kokeilu up --demo` starts NATS and every service,
/// sends a demo batch, ends by showing AVI's compliance events, and stops cleanly on Ctrl-C.
#[test]
fn up_runs_the_system_and_the_demo_ends_with_avis_events() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ports: Vec<String> = free_ports(5).iter().map(u16::to_string).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kokeilu"))
        .args(["up", "--demo", "40", "--areas", "kainuu,helsinki"])
        .args(["--data-dir", data.to_str().unwrap()])
        .args(["--nats-port", &ports[0], "--te-office-port", &ports[1]])
        .args([
            "--first-area-port",
            &ports[2],
            "--supervisor-port",
            &ports[3],
        ])
        .args(["--stats-port", &ports[4]])
        .env(
            "KOKEILU_TOOLS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.tools"),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("press Ctrl-C")) {
        match rx.recv_timeout(std::time::Duration::from_secs(300)) {
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "kokeilu up did not finish its demo ({e}):\n{}",
                    seen.join("\n")
                );
            }
        }
    }
    let text = seen.join("\n");
    assert!(
        text.contains("answered 40 of 40") || text.contains(" of "),
        "{text}"
    );
    assert!(text.contains("initial interviews today"), "{text}");
    assert!(text.contains("AVI's compliance events:"), "{text}");
    // What the demo showed is what AVI holds.
    let listed = kokeilu(&["compliance", "list", "--data-dir", data.to_str().unwrap()]);
    assert!(listed.status.success());
    let listed = String::from_utf8(listed.stdout).unwrap();
    let held = listed.lines().last().unwrap().to_owned();
    match seen.iter().find(|l| l.starts_with("… ")) {
        Some(line) => {
            let n = line.split_whitespace().nth(1).unwrap();
            assert_eq!(held, format!("{n} events"), "{text}\n{listed}");
        }
        None => {
            assert!(
                text.contains("none: every deadline so far was met"),
                "{text}"
            );
            assert_eq!(held, "0 events");
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let rest: Vec<String> = rx.iter().collect();
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert!(!data.join("stack.json").exists());
}
