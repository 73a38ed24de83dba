//! The deployment files name only what exists: `Dockerfile`, `compose.yaml`, `deploy/k8s`, the
//! Grafana dashboard and the alert rules are checked against the workspace (paths, the `kokeilu`
//! binary and its `serve` subcommands, the settings each service really reads, the ports the
//! services default to) and against the metric names of `kokeilu_platform::metrics`.
//!
//! Docker is not needed: the files are parsed, and `kokeilu serve … --help` is asked which
//! settings exist and what their defaults are.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use kokeilu_platform::identity::Identity;
use kokeilu_test_support::{kokeilu_binary, workspace_root};
use serde_norway::Value;

/// The services `kokeilu serve` runs.
const SUBCOMMANDS: [&str; 3] = ["te-office", "trial-area", "supervisor"];
/// Inside a container every service listens on these (the defaults' ports, on all interfaces).
const GRPC_PORT: u16 = 50051;
const ADMIN_PORT: u16 = 9464;
const STATS_PORT: u16 = 8080;
const NATS_PORT: u16 = 4222;
const POSTGRES_PORT: u16 = 5432;
const OTLP_PORT: u16 = 4317;

/// The exposition names of the metrics contract (`kokeilu_platform::metrics`).
const METRICS: [&str; 14] = [
    "rpc_server_call_duration_seconds",
    "messaging_client_sent_messages_total",
    "messaging_client_consumed_messages_total",
    "messaging_process_duration_seconds",
    "kokeilu_outbox_backlog",
    "kokeilu_outbox_oldest_age_seconds",
    "kokeilu_consumer_lag",
    "kokeilu_consumer_redeliveries_total",
    "kokeilu_dead_letters_total",
    "kokeilu_deadline_sweeps_total",
    "kokeilu_deadline_sweep_duration_seconds",
    "kokeilu_compliance_events_total",
    "kokeilu_security_events_total",
    "kokeilu_requests_shed_total",
];
/// Their histograms (which expose `_bucket`, `_sum` and `_count` series).
const HISTOGRAMS: [&str; 3] = [
    "rpc_server_call_duration_seconds",
    "messaging_process_duration_seconds",
    "kokeilu_deadline_sweep_duration_seconds",
];
/// Their labels (and the global `service_name`).
const LABELS: [&str; 11] = [
    "service_name",
    "rpc_system",
    "rpc_service",
    "rpc_method",
    "rpc_grpc_status_code",
    "messaging_system",
    "messaging_destination_name",
    "messaging_consumer_group_name",
    "outcome",
    "kind",
    "area",
];

fn root() -> PathBuf {
    workspace_root()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    let mut v: Value =
        serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    v.apply_merge().unwrap();
    v
}

fn yaml_docs(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|d| {
            let mut v = <Value as serde::Deserialize>::deserialize(d)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            v.apply_merge().unwrap();
            v
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// The port of `host:port`, `scheme://host:port[/…]`.
fn port_of(addr: &str) -> u16 {
    let rest = addr.split_once("://").map_or(addr, |(_, r)| r);
    let hostport = rest.split('/').next().unwrap();
    hostport
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no port in {addr}"))
        .1
        .parse()
        .unwrap_or_else(|e| panic!("bad port in {addr}: {e}"))
}

/// `kokeilu serve <service> --help`: every `KOKEILU_*` setting the service reads, with its default.
fn settings_of(service: &str) -> BTreeMap<String, Option<String>> {
    help_settings(&["serve", service])
}

/// `kokeilu <command…> --help`: every `KOKEILU_*` setting the command reads, with its default.
fn help_settings(command: &[&str]) -> BTreeMap<String, Option<String>> {
    let out = Command::new(kokeilu_binary())
        .args(command)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`kokeilu {}` does not exist: {}",
        command.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    // clap wraps long help lines; join them so that "[env: X=] [default: Y]" stay together.
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut settings = BTreeMap::new();
    for part in flat.split("[env: ").skip(1) {
        // `[env: NAME=]`, or `[env: NAME]` for a secret (hide_env_values).
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let after = &part[part.find(']').unwrap() + 1..];
        let default = after
            .trim_start()
            .strip_prefix("[default: ")
            .map(|d| d[..d.find(']').unwrap()].to_owned());
        settings.insert(name, default);
    }
    assert!(!settings.is_empty(), "no settings in:\n{help}");
    settings
}

fn all_settings() -> BTreeMap<&'static str, BTreeMap<String, Option<String>>> {
    SUBCOMMANDS.iter().map(|c| (*c, settings_of(c))).collect()
}

fn default_port(settings: &BTreeMap<String, Option<String>>, var: &str) -> u16 {
    let default = settings
        .get(var)
        .unwrap_or_else(|| panic!("{var} is not a setting"))
        .as_deref()
        .unwrap_or_else(|| panic!("{var} has no default"));
    port_of(default)
}

/// The ports every service defaults to are the ports the deployment files use.
#[test]
fn service_defaults_are_the_documented_ports() {
    let all = all_settings();
    for (service, settings) in &all {
        assert_eq!(
            default_port(settings, "KOKEILU_GRPC_LISTEN"),
            GRPC_PORT,
            "{service}"
        );
        assert_eq!(
            default_port(settings, "KOKEILU_ADMIN_LISTEN"),
            ADMIN_PORT,
            "{service}"
        );
        assert_eq!(
            default_port(settings, "KOKEILU_NATS_URL"),
            NATS_PORT,
            "{service}"
        );
    }
    assert_eq!(
        default_port(&all["supervisor"], "KOKEILU_STATS_LISTEN"),
        STATS_PORT
    );
    // The README documents them (the configuration table).
    let readme = read("README.md");
    for doc in [
        "`127.0.0.1:50051`",
        "`127.0.0.1:8080`",
        "`nats://127.0.0.1:4222`",
    ] {
        assert!(readme.contains(doc), "README does not document {doc}");
    }
}

mod compose;
mod dashboards;
mod docker;
mod kubernetes;
mod network;
mod provisioning;

#[allow(unused_imports)]
use compose::*;
#[allow(unused_imports)]
use dashboards::*;
#[allow(unused_imports)]
use docker::*;
#[allow(unused_imports)]
use kubernetes::*;
#[allow(unused_imports)]
use network::*;
#[allow(unused_imports)]
use provisioning::*;
