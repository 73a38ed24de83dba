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
        .env("KOKEILU_TLS_CERT", dir.path().join("area-atlantis.pem"))
        .env("KOKEILU_TLS_KEY", dir.path().join("area-atlantis-key.pem"))
        .env("KOKEILU_TLS_CA", dir.path().join("ca.pem"))
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
    let ports: Vec<String> = free_ports(9).iter().map(u16::to_string).collect();
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
        .args(["--te-office-admin-port", &ports[5]])
        .args(["--first-area-admin-port", &ports[6]])
        .args(["--supervisor-admin-port", &ports[8]])
        .env(
            "KOKEILU_TOOLS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.tools"),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A failing assertion must not leave the stack running.
    let guard = StopOnDrop(nix::unistd::Pid::from_raw(
        i32::try_from(child.id()).unwrap(),
    ));
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
    // `up` provisioned its NATS before the services started; provisioning again changes nothing.
    let (ok, provisioned) = json(
        &[
            "--json",
            "nats",
            "provision",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{provisioned}");
    let streams = provisioned["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 5, "{provisioned}");
    assert!(
        streams.iter().all(|s| s["result"] == "unchanged"),
        "{provisioned}"
    );
    drop(guard);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let rest: Vec<String> = rx.iter().collect();
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert!(!data.join("stack.json").exists());
    // 40 jobseekers went through every service: no henkilötunnus in any log line, nor in what the
    // demo printed.
    let mut scanned = 0;
    for entry in std::fs::read_dir(data.join("logs")).unwrap() {
        let path = entry.unwrap().path();
        let log = std::fs::read(&path).unwrap();
        assert!(
            !kokeilu_platform::privacy::contains_identity_code(&log),
            "{} holds a henkilötunnus",
            path.display()
        );
        scanned += log.len();
    }
    assert!(scanned > 0, "the services wrote no logs");
    assert!(!kokeilu_platform::privacy::contains_identity_code(
        format!("{text}\n{}", rest.join("\n")).as_bytes()
    ));
}

/// Sends SIGINT to `kokeilu up` when dropped (also when a test panics), so it stops its services
/// and NATS.
struct StopOnDrop(nix::unistd::Pid);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGINT);
    }
}

/// Polls `check` every 100 ms until it gives a value; panics with `what` after `timeout`.
fn poll<T>(what: &str, timeout: std::time::Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs `kokeilu` with `args`; (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = kokeilu(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn completions_print_a_script_for_each_shell() {
    let (code, script, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(script.contains("_kokeilu()"), "{script}");
    assert!(script.contains("complete ") && script.contains("refer"));
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let (code, script, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(script.contains("kokeilu"), "{shell}");
    }
    let (code, _, _) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error");
}

#[test]
fn exit_codes_tell_usage_errors_and_unavailable_services_apart() {
    let (code, _, err) = run(&["frobnicate"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["refer", "--hetu", "131052-308T"]);
    assert_eq!(code, 2, "missing required flags: {err}");
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("Exit codes:") && help.contains("3  refused by a service"));

    // Nothing listens on this port: the service is unavailable.
    let port = free_ports(1)[0].to_string();
    let url = format!("https://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    // Credentials exist (the PKI `kokeilu up` would make); only the service is missing.
    let (code, _, err) = run(&["pki", "issue", "--data-dir", data, "te-office", "avi"]);
    assert_eq!(code, 0, "{err}");
    for args in [
        vec!["status", "--te-office", &url, "--data-dir", data, "x"],
        vec!["--json", "list", "--te-office", &url, "--data-dir", data],
        vec![
            "compliance",
            "list",
            "--supervisor",
            &url,
            "--data-dir",
            data,
        ],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 4, "{args:?}: {err}");
        assert!(out.is_empty(), "nothing on stdout: {out}");
        assert!(err.contains("cannot reach"), "{err}");
    }
    // No stack at all: a plain failure that says what to do.
    let (code, _, err) = run(&["status", "--data-dir", data, "x"]);
    assert_eq!(code, 1, "{err}");
}

/// Reads a stack's `stack.json`.
/// The body of `GET path` on 127.0.0.1:`port`, if it answers 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

fn stack_json(data: &std::path::Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(data.join("stack.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn pid_of(stack: &serde_json::Value, process: &str) -> Option<i32> {
    stack["processes"][process]["pid"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// `kokeilu up` supervises its children: a service killed with -9 is reported, reaped and
/// restarted (and so is NATS), `stack.json` follows, the referral flow then completes, and Ctrl-C
/// stops everything.
/// On the way: `--json` output and the exit code of a refused request.
#[test]
fn up_restarts_a_killed_service_and_the_flow_completes() {
    use std::io::BufRead;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap().to_owned();
    let p: Vec<String> = free_ports(8).iter().map(u16::to_string).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kokeilu"))
        .args(["up", "--areas", "kainuu", "--data-dir", &d])
        .args(["--nats-port", &p[0], "--te-office-port", &p[1]])
        .args(["--first-area-port", &p[2], "--supervisor-port", &p[3]])
        .args(["--stats-port", &p[4], "--te-office-admin-port", &p[5]])
        .args(["--first-area-admin-port", &p[6]])
        .args(["--supervisor-admin-port", &p[7]])
        .env(
            "KOKEILU_TOOLS_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.tools"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let up_pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let collect = |pipe: Box<dyn std::io::Read + Send>| {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        lines
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let text = |lines: &Arc<Mutex<Vec<String>>>| lines.lock().unwrap().join("\n");
    // Whatever happens below, the stack does not outlive the test.
    let guard = StopOnDrop(up_pid);

    poll("kokeilu up to be ready", Duration::from_secs(120), || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("up exited ({status}): {}", text(&stderr));
        }
        text(&stdout).contains("press Ctrl-C").then_some(())
    });
    let shown = text(&stdout);
    for port in &p[5..8] {
        assert!(
            shown.contains(&format!("http://127.0.0.1:{port}/metrics")),
            "metrics URLs are printed: {shown}"
        );
    }
    // Each service serves its metrics there, the outbox backlog among them.
    for port in &p[5..8] {
        let body = poll("a service's /metrics", Duration::from_secs(60), || {
            http_get(port.parse().unwrap(), "/metrics")
                .filter(|b| b.contains("kokeilu_outbox_backlog"))
        });
        assert!(body.contains("service_name="), "{body}");
    }
    // The pseudonym key: made on first run, 32 hex bytes, readable by its owner only.
    {
        use std::os::unix::fs::PermissionsExt;
        let key = data.join("pki/pseudonym.key");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", key.display());
        let hex = std::fs::read_to_string(&key).unwrap();
        assert_eq!(hex.trim().len(), 64);
        assert!(hex.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    }
    let stack = stack_json(&data).unwrap();
    assert_eq!(
        stack["metrics"]["te-office"],
        format!("http://127.0.0.1:{}/metrics", p[5])
    );
    assert_eq!(
        stack["processes"]["area-kainuu"]["metrics"],
        format!("http://127.0.0.1:{}/metrics", p[6])
    );
    assert_eq!(stack["processes"]["te-office"]["state"], "running");
    assert_eq!(stack["processes"]["te-office"]["restarts"], 0);
    let first = pid_of(&stack, "te-office").unwrap();
    let processes: Vec<String> = stack["processes"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        processes,
        ["area-kainuu", "nats", "supervisor", "te-office"],
        "{stack}"
    );

    // kill -9 te-office: up reports it, reaps it and starts a new one.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    poll(
        "up to report the killed child",
        Duration::from_secs(30),
        || {
            text(&stderr)
                .lines()
                .any(|l| {
                    l.contains("te-office")
                        && l.contains(&format!("pid {first}"))
                        && l.contains("died")
                })
                .then_some(())
        },
    );
    let restarted = poll(
        "stack.json to show the new pid",
        Duration::from_secs(60),
        || {
            let stack = stack_json(&data)?;
            let te = &stack["processes"]["te-office"];
            let pid = pid_of(&stack, "te-office")?;
            (pid != first && te["state"] == "running" && te["restarts"] == 1).then_some(pid)
        },
    );
    assert!(
        !alive(first),
        "the killed child was reaped, not left a zombie"
    );
    assert!(alive(restarted));
    assert!(
        text(&stderr).contains(&format!("te-office restarted (pid {restarted}")),
        "{}",
        text(&stderr)
    );
    poll(
        "te-office to answer gRPC again",
        Duration::from_secs(60),
        || {
            let (code, _, _) = run(&["--json", "list", "--data-dir", &d]);
            (code == 0).then_some(())
        },
    );

    // NATS killed with -9 is reported and restarted the same way.
    let nats = pid_of(&stack_json(&data).unwrap(), "nats").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(nats),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    poll("up to report NATS", Duration::from_secs(30), || {
        text(&stderr)
            .contains(&format!("nats (pid {nats}) died"))
            .then_some(())
    });
    poll(
        "stack.json to show the new NATS",
        Duration::from_secs(60),
        || {
            let stack = stack_json(&data)?;
            let pid = pid_of(&stack, "nats")?;
            (pid != nats && stack["processes"]["nats"]["restarts"] == 1).then_some(())
        },
    );
    assert!(!alive(nats), "the killed NATS was reaped");

    // A refused request: exit code 3, the field violation on stderr.
    let refer = |hetu: &str| {
        run(&[
            "--json",
            "refer",
            "--data-dir",
            &d,
            "--hetu",
            hetu,
            "--municipality",
            "205",
            "--job-search-start",
            "2024-08-01",
            "--grounds",
            "no-earnings-related",
        ])
    };
    let (code, out, err) = refer("131052-308X");
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.lines()
            .any(|l| l.trim_start().starts_with("jobseeker.henkilotunnus")
                || l.contains("henkilotunnus:")),
        "{err}"
    );
    assert!(
        !err.contains("308X"),
        "the henkilötunnus is not echoed: {err}"
    );

    // The flow completes after the restart: refer, the area acknowledges, te-office shows it.
    let (code, out, err) = refer("131052-308T");
    assert_eq!(code, 0, "{err}");
    let referral: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = referral["referral_id"].as_str().unwrap().to_owned();
    assert_eq!(referral["area_id"], "kainuu", "{out}");
    assert_eq!(referral["replayed"], false);
    poll("the area to acknowledge", Duration::from_secs(60), || {
        let (code, out, err) = run(&["--json", "ack", "--data-dir", &d, "--area", "kainuu", &id]);
        match code {
            0 => Some(serde_json::from_str::<serde_json::Value>(&out).unwrap()),
            3 => None, // not delivered to the area yet
            _ => panic!("ack: {code} {err}"),
        }
    });
    let status = poll(
        "te-office to show ACKNOWLEDGED",
        Duration::from_secs(60),
        || {
            let (code, out, err) = run(&["--json", "status", "--data-dir", &d, &id]);
            assert_eq!(code, 0, "{err}");
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            (v["status"] == "ACKNOWLEDGED").then_some(v)
        },
    );
    assert_eq!(status["referral_id"], id.as_str());
    assert_eq!(status["area_id"], "kainuu");
    assert_eq!(status["job_search_start_date"], "2024-08-01");
    let history = status["history"].as_array().unwrap();
    assert!(history.len() >= 2, "{status}");
    assert!(
        history
            .iter()
            .all(|h| h["at"].is_string() && h["status"].is_string())
    );
    let (code, out, _) = run(&["--json", "list", "--data-dir", &d]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let listed = list["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["referral_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(listed["status"], "ACKNOWLEDGED");
    assert_eq!(listed["home_municipality_code"], "205");
    let (code, out, _) = run(&["--json", "compliance", "list", "--data-dir", &d]);
    assert_eq!(code, 0);
    assert!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["events"].is_array());

    // Ctrl-C stops every process of the stack.
    let pids: Vec<i32> = {
        let stack = stack_json(&data).unwrap();
        processes
            .iter()
            .map(|name| pid_of(&stack, name).unwrap())
            .collect()
    };
    drop(guard);
    let status = poll("up to stop", Duration::from_secs(60), || {
        child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}: {}", text(&stderr));
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived kokeilu up");
    }
    assert!(!data.join("stack.json").exists());
    poll("the last output", Duration::from_secs(10), || {
        text(&stdout).lines().any(|l| l == "stopped").then_some(())
    });
}

#[test]
fn rules_deadlines_explain_start_rule_and_section_from_the_areas_receipt() {
    // The 2021 start batch: job search from 1.12.2020, received 1.3.2021.
    let (ok, v) = json(
        &[
            "rules",
            "deadlines",
            "2020-12-01",
            "--received",
            "2021-03-01",
        ],
        None,
    );
    assert!(ok);
    let all = v.as_array().unwrap();
    assert_eq!(all[0]["deadline"], "acknowledgement");
    assert_eq!(all[0]["starts_from"], "the area's receipt of the referral");
    assert_eq!(all[1]["deadline"], "initial_interview");
    assert_eq!(all[1]["due"], "2021-03-15");
    assert_eq!(all[1]["rule"], "JTYPL 2:4 § 1 mom (916/2012)");
    assert!(all[1]["interpretation"].as_str().unwrap().contains("24 §"));
    for d in all {
        assert!(d["due"].as_str().unwrap() > "2021-03-01", "{d}");
    }
    // The TE office held it: none owed, and the reason is named.
    let (_, v) = json(
        &[
            "rules",
            "deadlines",
            "2024-08-19",
            "--received",
            "2024-09-02",
            "--te-interview",
            "2024-08-21",
        ],
        None,
    );
    assert_eq!(v[1]["not_required"], "held_by_te_office");
    assert!(v[1].get("due").is_none());
}
