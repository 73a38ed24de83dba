//! The `kokeilu` command as an operator runs it. (Its presence also makes `cargo test` build the
//! binary that the end-to-end crash tests start as separate processes.)

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
