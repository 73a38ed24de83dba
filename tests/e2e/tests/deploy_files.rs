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
const METRICS: [&str; 12] = [
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

/// Dockerfile instructions with continuation lines joined: (INSTRUCTION, arguments).
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(cont) = t.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (inst, args) = current.split_once(' ').unwrap_or((current.as_str(), ""));
        out.push((inst.to_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    out
}

fn docker_ignored() -> Vec<String> {
    read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect()
}

/// The `[[bin]]` targets of the package that builds `kokeilu`, and that package's name.
fn cli_package() -> (String, Vec<String>) {
    let manifest: toml::Table = toml::from_str(&read("cli/Cargo.toml")).unwrap();
    let name = manifest["package"]["name"].as_str().unwrap().to_owned();
    let bins = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .map(|bins| {
            bins.iter()
                .map(|b| b["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (name, bins)
}

#[test]
fn dockerfile_copies_existing_paths_and_runs_the_kokeilu_binary() {
    let instructions = dockerfile();
    let ignored = docker_ignored();
    let (package, bins) = cli_package();
    assert!(
        bins.contains(&"kokeilu".to_owned()),
        "no kokeilu bin in {bins:?}"
    );

    let mut copied_from_builder = Vec::new();
    let mut built = Vec::new();
    let mut stages = Vec::new();
    for (inst, args) in &instructions {
        match inst.as_str() {
            "FROM" => {
                if let Some((_, name)) = args.split_once(" AS ") {
                    stages.push(name.trim().to_owned());
                }
            }
            "COPY" => {
                let words: Vec<&str> = args.split_whitespace().collect();
                let from = words.iter().find_map(|w| w.strip_prefix("--from="));
                let paths: Vec<&str> = words
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let (sources, _dest) = paths.split_at(paths.len() - 1);
                assert!(!sources.is_empty(), "COPY without source: {args}");
                for src in sources {
                    match from {
                        Some(stage) => {
                            assert!(stages.iter().any(|s| s == stage), "no stage {stage}");
                            copied_from_builder.push((*src).to_owned());
                        }
                        None => {
                            let path = root().join(src);
                            assert!(path.exists(), "COPY source {src} does not exist");
                            let rel = src.trim_start_matches("./").trim_end_matches('/');
                            assert!(
                                !ignored
                                    .iter()
                                    .any(|i| i == rel || rel.starts_with(&format!("{i}/"))),
                                "COPY source {src} is excluded by .dockerignore"
                            );
                        }
                    }
                }
            }
            "RUN" => built.push(args.clone()),
            _ => {}
        }
    }
    // Every workspace member is in the build context (cargo reads every member's manifest).
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let copied: Vec<String> = instructions
        .iter()
        .filter(|(i, a)| i == "COPY" && !a.contains("--from"))
        .flat_map(|(_, a)| {
            let w: Vec<String> = a.split_whitespace().map(str::to_owned).collect();
            w[..w.len() - 1].to_vec()
        })
        .collect();
    for member in manifest["workspace"]["members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        let top = member.split('/').next().unwrap();
        assert!(
            copied
                .iter()
                .any(|c| c.trim_start_matches("./").trim_end_matches('/') == top
                    || c.trim_start_matches("./").trim_end_matches('/') == member),
            "workspace member {member} is not copied into the build"
        );
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        assert!(copied.iter().any(|c| c == file), "{file} is not copied");
    }

    // The build builds the kokeilu binary of the cli package, and the runtime stage takes it.
    let build = built
        .iter()
        .find(|r| r.contains("cargo build"))
        .expect("no cargo build in the Dockerfile");
    assert!(
        build.contains("--release") && build.contains("--locked"),
        "{build}"
    );
    assert!(
        build.contains(&format!("-p {package}")),
        "{build} does not build {package}"
    );
    assert!(build.contains("--bin kokeilu"), "{build}");
    assert!(
        build.contains("target/release/kokeilu"),
        "{build} does not take the binary"
    );
    for src in &copied_from_builder {
        assert!(
            built.iter().any(|r| r.contains(src.as_str())),
            "{src} is copied from the builder but no RUN produces it"
        );
    }

    // Non-root, the kokeilu entry point, the ports of the services.
    let user = instructions
        .iter()
        .rev()
        .find(|(i, _)| i == "USER")
        .map(|(_, a)| a.clone());
    let user = user.expect("no USER: the image would run as root");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "USER {user} must be a numeric non-root id"
    );
    let entrypoint = instructions
        .iter()
        .find(|(i, _)| i == "ENTRYPOINT")
        .unwrap();
    let entrypoint: Vec<String> = serde_json::from_str(&entrypoint.1).unwrap();
    assert!(
        bins.contains(&entrypoint[0]),
        "ENTRYPOINT {entrypoint:?} is no bin target"
    );
    let exposed: BTreeSet<u16> = instructions
        .iter()
        .filter(|(i, _)| i == "EXPOSE")
        .flat_map(|(_, a)| {
            a.split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(exposed, BTreeSet::from([GRPC_PORT, STATS_PORT, ADMIN_PORT]));

    // ENV settings exist and listen on the exposed ports.
    let all = all_settings();
    for (inst, args) in &instructions {
        if inst != "ENV" {
            continue;
        }
        for pair in args.split_whitespace() {
            let (name, value) = pair.split_once('=').unwrap();
            assert!(
                all.values().any(|s| s.contains_key(name)),
                "ENV {name} is no setting of any service"
            );
            if name.ends_with("_LISTEN") {
                assert!(
                    exposed.contains(&port_of(value)),
                    "{name}={value} is not exposed"
                );
            }
        }
    }
}

fn env_of(service: &Value) -> BTreeMap<String, String> {
    service
        .get("environment")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        other => panic!("environment value {other:?}"),
                    };
                    (s(k).to_owned(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `${VAR:-default}` → `default`; anything else unchanged.
fn with_defaults(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, d)| d));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Bind mounts of a compose service: (source relative to the workspace, target), in the short
/// (`./src:/dst[:ro]`) or the long syntax (`type: bind`).
fn bind_mounts(service: &Value) -> Vec<(String, String)> {
    service
        .get("volumes")
        .and_then(Value::as_sequence)
        .map(|vols| {
            vols.iter()
                .filter_map(|v| {
                    let (src, dst) = match v.as_str() {
                        Some(v) => {
                            let mut parts = v.split(':');
                            (parts.next().unwrap(), parts.next().unwrap())
                        }
                        None if v.get("type").map(s) == Some("bind") => {
                            (s(&v["source"]), s(&v["target"]))
                        }
                        None => return None,
                    };
                    src.starts_with("./")
                        .then(|| (src.to_owned(), dst.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The local PKI folder that `kokeilu up` makes on its first run, which compose mounts from.
const COMPOSE_PKI: &str = "./.kokeilu/pki/";

/// The container side of each `ports:` entry (`[ip:]host:container`).
fn container_ports(service: &Value) -> Vec<(u16, u16)> {
    service
        .get("ports")
        .and_then(Value::as_sequence)
        .map(|ports| {
            ports
                .iter()
                .map(|p| {
                    let p = s(p);
                    let parts: Vec<&str> = p.split(':').collect();
                    let n = parts.len();
                    (parts[n - 2].parse().unwrap(), parts[n - 1].parse().unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn command_of(service: &Value) -> Vec<String> {
    service
        .get("command")
        .and_then(Value::as_sequence)
        .map(|c| c.iter().map(|a| s(a).to_owned()).collect())
        .unwrap_or_default()
}

/// `{ user: "area-kainuu", password: $KOKEILU_NATS_PASS_KAINUU, … }` of accounts.conf.
fn nats_users() -> BTreeMap<String, String> {
    read("deploy/nats/accounts.conf")
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("{ user:"))
        .map(|l| {
            let user = l.split('"').nth(1).unwrap().to_owned();
            let var = l
                .split("password: $")
                .nth(1)
                .unwrap()
                .split(|c: char| c == ',' || c.is_whitespace())
                .next()
                .unwrap()
                .to_owned();
            (user, var)
        })
        .collect()
}

#[test]
fn compose_names_existing_files_settings_and_ports() {
    let compose = yaml("compose.yaml");
    let services = compose["services"].as_mapping().unwrap();
    let names: BTreeSet<&str> = services.keys().map(s).collect();
    let all = all_settings();
    let users = nats_users();
    let readme = read("README.md");
    assert!(!users.is_empty());

    // NATS: three nodes of the production configuration.
    let nats_nodes: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("nats-"))
        .collect();
    assert_eq!(nats_nodes, ["nats-0", "nats-1", "nats-2"]);
    let nats_conf = read("deploy/nats/cluster/nats.conf");
    assert!(nats_conf.contains("sync_interval: always"));
    assert!(nats_conf.contains(&format!("listen: 0.0.0.0:{NATS_PORT}")));
    let mut nats_passwords = BTreeMap::new();
    for node in &nats_nodes {
        let svc = &services[*node];
        let image = s(&svc["image"]);
        let version = image.split(':').nth(1).unwrap();
        assert!(
            version.starts_with("2.12."),
            "{node}: {image} is not NATS 2.12"
        );
        let mounts = bind_mounts(svc);
        let targets: BTreeMap<&str, &str> = mounts
            .iter()
            .map(|(src, dst)| (dst.as_str(), src.as_str()))
            .collect();
        let cmd = command_of(svc);
        let config = &cmd[cmd.iter().position(|a| a == "-c").unwrap() + 1];
        assert_eq!(
            targets.get(config.as_str()),
            Some(&"./deploy/nats/cluster/nats.conf"),
            "{node} must run deploy/nats/cluster/nats.conf"
        );
        // Every include of nats.conf resolves to a mounted file.
        let dir = Path::new(config).parent().unwrap();
        for line in nats_conf
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("include "))
        {
            let inc = line.split('"').nth(1).unwrap();
            let resolved = normalize(&dir.join(inc));
            assert!(
                targets.contains_key(resolved.as_str()),
                "{node}: {config} includes {resolved}, which is not mounted"
            );
        }
        // The route names resolve on the compose network.
        let aliases = &svc["networks"]["default"]["aliases"];
        assert!(
            aliases
                .as_sequence()
                .unwrap()
                .iter()
                .any(|a| s(a) == format!("{node}.nats")),
            "{node} lacks the alias {node}.nats that the routes name"
        );
        assert!(nats_conf.contains(&format!("nats-route://{node}.nats:6222")));
        let env = env_of(svc);
        assert_eq!(env.get("NATS_SERVER_NAME").map(String::as_str), Some(*node));
        for var in users.values() {
            let value = env.get(var).unwrap_or_else(|| panic!("{node} lacks {var}"));
            assert!(
                value.starts_with('"') && value.ends_with('"'),
                "{node}: {var} must be wrapped in double quotes for nats-server"
            );
            nats_passwords.insert(var.clone(), with_defaults(value.trim_matches('"')));
        }
    }

    // PostgreSQL: the init script creates every database (and role) the services connect to.
    let postgres = &services["postgres"];
    assert!(
        container_ports(postgres)
            .iter()
            .all(|(_, c)| *c == POSTGRES_PORT)
    );
    let init = bind_mounts(postgres);
    let (init_src, init_dst) = init
        .iter()
        .find(|(_, dst)| dst.starts_with("/docker-entrypoint-initdb.d/"))
        .expect("no init script");
    let init_sql = read(init_src.trim_start_matches("./"));
    assert!(init_dst.ends_with(".sql") || init_dst.ends_with(".sh"));

    // The collector: its configuration file, and the OTLP port the services send to.
    let collector = &services["otel-collector"];
    let mounts = bind_mounts(collector);
    let config_arg = command_of(collector)
        .into_iter()
        .find_map(|a| a.strip_prefix("--config=").map(str::to_owned))
        .unwrap();
    let (collector_src, _) = mounts.iter().find(|(_, dst)| *dst == config_arg).unwrap();
    let collector_conf = yaml(collector_src.trim_start_matches("./"));
    let otlp = s(&collector_conf["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]);
    assert_eq!(port_of(otlp), OTLP_PORT);

    // The PKI of `kokeilu up` (the identities it makes by default: its areas, and the rest).
    let up = help_settings(&["up"]);
    let up_areas = up["KOKEILU_AREAS"].clone().expect("up has default areas");
    let mut identities = vec![Identity::TeOffice, Identity::Avi, Identity::Operator];
    identities.extend(up_areas.split(',').map(|a| Identity::Area(a.to_owned())));
    let pki_dir = tempfile::tempdir().unwrap();
    kokeilu_devtools::pki::Pki::ensure(pki_dir.path(), &identities).unwrap();

    // Every bind mount of every service exists (the PKI's: among the files `kokeilu up` makes).
    for (name, svc) in services {
        for (src, _) in bind_mounts(svc) {
            if let Some(file) = src.strip_prefix(COMPOSE_PKI) {
                assert!(
                    pki_dir.path().join(file).exists(),
                    "{}: `kokeilu up` makes no {file} (areas {up_areas})",
                    s(name)
                );
                continue;
            }
            assert!(
                root().join(&src).exists(),
                "{}: {src} does not exist",
                s(name)
            );
        }
        if let Some(deps) = svc.get("depends_on").and_then(Value::as_mapping) {
            for dep in deps.keys() {
                assert!(
                    names.contains(s(dep)),
                    "{} depends on unknown {dep:?}",
                    s(name)
                );
            }
        }
    }

    // Their health checks run `kokeilu health`.
    let health = Command::new(kokeilu_binary())
        .args(["health", "--help"])
        .output()
        .unwrap();
    assert!(health.status.success(), "no `kokeilu health`");

    // The Kokeilu services: the image of ./Dockerfile, `serve <service>`, real settings only.
    let mut kokeilu_services = 0;
    let mut host_grpc_ports = BTreeSet::new();
    for (name, svc) in services {
        let name = s(name);
        let cmd = command_of(svc);
        if cmd.first().map(String::as_str) != Some("serve") {
            continue;
        }
        kokeilu_services += 1;
        let build = svc
            .get("build")
            .map(s)
            .unwrap_or_else(|| panic!("{name}: no build"));
        assert!(
            root().join(build).join("Dockerfile").exists(),
            "{name}: no Dockerfile in {build}"
        );
        let sub = cmd[1].as_str();
        let settings = all
            .get(sub)
            .unwrap_or_else(|| panic!("{name}: no `kokeilu serve {sub}`"));
        let env = env_of(svc);
        for (var, value) in &env {
            assert!(
                settings.contains_key(var),
                "{name}: {var} is no setting of `serve {sub}`"
            );
            if var.ends_with("_LISTEN") {
                let port = port_of(value);
                let expected = match var.as_str() {
                    "KOKEILU_GRPC_LISTEN" => GRPC_PORT,
                    "KOKEILU_ADMIN_LISTEN" => ADMIN_PORT,
                    "KOKEILU_STATS_LISTEN" => STATS_PORT,
                    other => panic!("{name}: unknown listener {other}"),
                };
                assert_eq!(port, expected, "{name}: {var}");
                assert!(
                    container_ports(svc).iter().any(|(_, c)| *c == port),
                    "{name}: {var} port {port} is not published"
                );
            }
        }
        for (_, c) in container_ports(svc) {
            assert!(
                [GRPC_PORT, ADMIN_PORT, STATS_PORT].contains(&c),
                "{name}: port {c}"
            );
        }
        for (host, c) in container_ports(svc) {
            if c == GRPC_PORT {
                host_grpc_ports.insert(host);
            }
        }
        // Required settings without a default are given.
        for var in [
            "KOKEILU_DATABASE_URL",
            "KOKEILU_NATS_URL",
            "KOKEILU_NATS_USER",
            "KOKEILU_NATS_PASSWORD",
            "KOKEILU_TLS_CERT",
            "KOKEILU_TLS_KEY",
            "KOKEILU_TLS_CA",
        ] {
            assert!(env.contains_key(var), "{name}: no {var}");
        }
        if sub == "trial-area" {
            assert!(env.contains_key("KOKEILU_AREA"), "{name}: no KOKEILU_AREA");
        }
        // Mutual TLS: the service's own certificate and key from the local PKI, and the CA.
        let identity = identity_of(sub, &env);
        let mounts: BTreeMap<String, String> = bind_mounts(svc)
            .into_iter()
            .map(|(src, dst)| (dst, src))
            .collect();
        for (var, file) in [
            ("KOKEILU_TLS_CERT", format!("{identity}.pem")),
            ("KOKEILU_TLS_KEY", format!("{identity}-key.pem")),
            ("KOKEILU_TLS_CA", "ca.pem".to_owned()),
        ] {
            assert_eq!(
                mounts.get(&env[var]),
                Some(&format!("{COMPOSE_PKI}{file}")),
                "{name}: {var}"
            );
        }
        assert!(
            mounts
                .values()
                .filter_map(|src| src.strip_prefix(COMPOSE_PKI))
                .all(|f| [
                    format!("{identity}.pem"),
                    format!("{identity}-key.pem"),
                    "ca.pem".into()
                ]
                .contains(&f.to_owned())),
            "{name} mounts another party's files"
        );
        // The health check asks the plaintext admin port, with the image's own binary.
        let check: Vec<&str> = svc["healthcheck"]["test"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name}: no health check"))
            .iter()
            .map(s)
            .collect();
        assert_eq!(check[..3], ["CMD", "kokeilu", "health"], "{name}");
        assert_eq!(port_of(check[3]), ADMIN_PORT, "{name}: {check:?}");
        // The pseudonym key is te-office's alone: a compose secret holding 32 hex bytes.
        if sub == "te-office" {
            let target = format!("/run/secrets/{}", s(&svc["secrets"][0]));
            assert_eq!(env["KOKEILU_PSEUDONYM_KEY_FILE"], target, "{name}");
            let file = s(&compose["secrets"][s(&svc["secrets"][0])]["file"]);
            let key = std::fs::read_to_string(root().join(file)).unwrap();
            let id = &env["KOKEILU_PSEUDONYM_KEY_ID"];
            kokeilu_platform::privacy::PseudonymKey::from_hex(id, &key).unwrap();
        } else {
            assert!(
                !env.keys().any(|k| k.contains("PSEUDONYM")) && svc.get("secrets").is_none(),
                "{name} must never hold the pseudonym key"
            );
        }
        // NATS: every listed node on the NATS port; the user exists with the password its nodes hold.
        for url in env["KOKEILU_NATS_URL"].split(',') {
            let host = url.split("://").nth(1).unwrap().split(':').next().unwrap();
            assert!(
                names.contains(host),
                "{name}: NATS host {host} is no service"
            );
            assert_eq!(port_of(url), NATS_PORT);
        }
        let user = &env["KOKEILU_NATS_USER"];
        let var = users
            .get(user)
            .unwrap_or_else(|| panic!("{name}: no NATS user {user}"));
        assert_eq!(
            nats_passwords.get(var),
            Some(&with_defaults(&env["KOKEILU_NATS_PASSWORD"])),
            "{name}: its NATS password differs from the one nats-server holds in {var}"
        );
        // PostgreSQL: the postgres service, its port, a database and role the init script creates.
        let db = &env["KOKEILU_DATABASE_URL"];
        assert!(db.starts_with("postgres://"), "{name}: {db}");
        let after_at = db.rsplit_once('@').unwrap().1;
        assert_eq!(after_at.split(':').next(), Some("postgres"));
        assert_eq!(port_of(db), POSTGRES_PORT);
        let (path, query) = after_at.split_once('?').unwrap_or((after_at, ""));
        let database = path.rsplit_once('/').unwrap().1;
        // Over TLS, verifying the server against a CA the container mounts.
        assert!(
            query.split('&').any(|kv| kv == "sslmode=verify-full"),
            "{name}: {db} lacks sslmode=verify-full"
        );
        let root_cert = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("sslrootcert="))
            .unwrap_or_else(|| panic!("{name}: {db} lacks sslrootcert"));
        let volumes = svc["volumes"]
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(
            volumes.iter().any(|v| {
                let target = s(v).split(':').nth(1).unwrap_or_default().to_owned();
                !target.is_empty() && root_cert.starts_with(&format!("{target}/"))
            }),
            "{name}: {root_cert} is in no mounted volume"
        );
        let role = db["postgres://".len()..].split(':').next().unwrap();
        assert!(
            init_sql.contains(&format!("CREATE DATABASE {database} OWNER {role};")),
            "{name}: {database}"
        );
        assert!(
            init_sql.contains(&format!("CREATE ROLE {role} LOGIN")),
            "{name}: {role}"
        );
        // Traces go to the collector.
        let otlp = &env["KOKEILU_OTLP_ENDPOINT"];
        assert!(otlp.contains("//otel-collector:"), "{name}: {otlp}");
        assert_eq!(port_of(otlp), OTLP_PORT);
    }
    assert_eq!(
        kokeilu_services, 4,
        "te-office, two areas and the supervisor"
    );
    // The host's gRPC ports are those of `kokeilu up` (README, "Ports").
    for port in &host_grpc_ports {
        assert!(
            readme.contains(&port.to_string()),
            "host port {port} is not in the README"
        );
    }
}

/// `a/b/../c` → `a/c` (no file system access).
fn normalize(path: &Path) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.to_str().unwrap().split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// One resource of `deploy/k8s` as `kubectl kustomize` renders it (generated ConfigMaps aside):
/// the file it comes from, its namespace and the document.
struct K8s {
    file: String,
    /// What kustomize sets: the outermost `namespace:` of the kustomizations that include it
    /// (`None` for a Namespace itself).
    namespace: Option<String>,
    doc: Value,
}

impl K8s {
    fn kind(&self) -> &str {
        s(&self.doc["kind"])
    }
    fn name(&self) -> &str {
        s(&self.doc["metadata"]["name"])
    }
    fn ns(&self) -> &str {
        self.namespace
            .as_deref()
            .unwrap_or_else(|| panic!("{}: {} has no namespace", self.file, self.name()))
    }
    fn pod_spec(&self) -> &Value {
        &self.doc["spec"]["template"]["spec"]
    }
    fn pod_labels(&self) -> BTreeMap<String, String> {
        string_map(&self.doc["spec"]["template"]["metadata"]["labels"])
    }
    fn containers(&self) -> &Vec<Value> {
        self.pod_spec()["containers"].as_sequence().unwrap()
    }
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (s(k).to_owned(), s(v).to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Every resource of `deploy/k8s/kustomization.yaml`, following `resources:` into folders.
fn k8s_resources() -> Vec<K8s> {
    let mut out = Vec::new();
    collect_k8s(&root().join("deploy/k8s"), None, &mut out);
    assert!(!out.is_empty());
    out
}

fn collect_k8s(dir: &Path, outer: Option<&str>, out: &mut Vec<K8s>) {
    let path = dir.join("kustomization.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let kustomization: Value = serde_norway::from_str(&text).unwrap();
    let namespace = outer
        .map(str::to_owned)
        .or_else(|| kustomization.get("namespace").map(|n| s(n).to_owned()));
    let resources = kustomization.get("resources").and_then(Value::as_sequence);
    for resource in resources.into_iter().flatten() {
        let resource = dir.join(s(resource));
        assert!(
            resource.exists(),
            "{}: resource {} does not exist",
            path.display(),
            resource.display()
        );
        let resource = resource.canonicalize().unwrap();
        if resource.is_dir() {
            collect_k8s(&resource, namespace.as_deref(), out);
            continue;
        }
        let rel = resource
            .strip_prefix(root().canonicalize().unwrap())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        for doc in yaml_docs(&rel) {
            let namespace = (s(&doc["kind"]) != "Namespace").then(|| namespace.clone());
            out.push(K8s {
                file: rel.clone(),
                namespace: namespace.flatten(),
                doc,
            });
        }
    }
}

/// The Deployments that run `kokeilu serve <service>`, with the `serve` subcommand.
fn kokeilu_workloads(resources: &[K8s]) -> Vec<(&K8s, &str)> {
    resources
        .iter()
        .filter(|r| r.kind() == "Deployment")
        .filter_map(|r| {
            let c = &r.containers()[0];
            let args = c.get("args")?.as_sequence()?;
            (args.first().map(s) == Some("serve")).then(|| (r, s(&args[1])))
        })
        .collect()
}

/// A container's literal `env` values.
fn container_env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((s(&e["name"]).to_owned(), s(e.get("value")?).to_owned())))
        .collect()
}

/// The PKI name of the identity a service runs as (`kokeilu_platform::identity`).
fn identity_of(subcommand: &str, env: &BTreeMap<String, String>) -> String {
    let identity = match subcommand {
        "te-office" => Identity::TeOffice,
        "trial-area" => Identity::Area(env["KOKEILU_AREA"].clone()),
        "supervisor" => Identity::Avi,
        other => panic!("no identity for serve {other}"),
    };
    identity.name()
}

/// A container port by number or by name.
fn resolve_port(container: &Value, port: &Value) -> u16 {
    if let Some(n) = port.as_u64() {
        return u16::try_from(n).unwrap();
    }
    let name = s(port);
    container["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p.get("name").map(s) == Some(name))
        .map(|p| u16::try_from(p["containerPort"].as_u64().unwrap()).unwrap())
        .unwrap_or_else(|| panic!("no container port {name}"))
}

#[test]
fn kubernetes_manifests_run_the_image_binary_and_expose_metrics() {
    let kustomization = yaml("deploy/k8s/kustomization.yaml");
    let image_names: Vec<&str> = kustomization["images"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| s(&i["name"]))
        .collect();
    let (_, bins) = cli_package();
    let all = all_settings();
    let resources = k8s_resources();
    let find = |kind: &str, name: &str| {
        resources
            .iter()
            .find(|r| r.kind() == kind && r.name() == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let nats_ns = find("Service", "nats-client").ns();
    let otel_ns = find("Service", "otel-collector").ns();
    let mut served = BTreeSet::new();
    for (r, sub) in kokeilu_workloads(&resources) {
        let file = &r.file;
        served.insert(sub);
        let annotations = &r.doc["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(
            annotations["prometheus.io/scrape"].as_str(),
            Some("true"),
            "{file}"
        );
        assert_eq!(
            annotations["prometheus.io/port"].as_str(),
            Some(ADMIN_PORT.to_string().as_str()),
            "{file}"
        );
        for c in r.containers() {
            assert!(
                image_names.contains(&s(&c["image"])),
                "{file}: image {:?}",
                c["image"]
            );
            let command: Vec<&str> = c["command"].as_sequence().unwrap().iter().map(s).collect();
            assert!(
                bins.iter().any(|b| b == command[0]),
                "{file}: {command:?} is not in the image"
            );
            let settings = &all[sub];
            let ports: BTreeMap<&str, u64> = c["ports"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|p| (s(&p["name"]), p["containerPort"].as_u64().unwrap()))
                .collect();
            assert_eq!(ports.get("admin"), Some(&u64::from(ADMIN_PORT)), "{file}");
            assert_eq!(ports.get("grpc"), Some(&u64::from(GRPC_PORT)), "{file}");
            for e in c["env"].as_sequence().into_iter().flatten() {
                let var = s(&e["name"]);
                assert!(
                    settings.contains_key(var),
                    "{file}: {var} is no setting of serve {sub}"
                );
            }
            // The shared settings come from kokeilu-common in the workload's own namespace.
            let from: Vec<&str> = c["envFrom"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|e| s(&e["configMapRef"]["name"]))
                .collect();
            assert_eq!(from, ["kokeilu-common"], "{file}");
        }
        let common = resources
            .iter()
            .find(|c| c.kind() == "ConfigMap" && c.name() == "kokeilu-common" && c.ns() == r.ns())
            .unwrap_or_else(|| panic!("{file}: no kokeilu-common in {}", r.ns()));
        let common_env = string_map(&common.doc["data"]);
        assert_eq!(port_of(&common_env["KOKEILU_ADMIN_LISTEN"]), ADMIN_PORT);
        assert_eq!(port_of(&common_env["KOKEILU_GRPC_LISTEN"]), GRPC_PORT);
        for var in common_env.keys() {
            assert!(
                all.values().all(|s| s.contains_key(var)),
                "common-config: {var} is not a setting of every service"
            );
        }
        // NATS and the collector live in their own namespaces: reached by their full names.
        let host = |url: &str| {
            let rest = url.split_once("://").unwrap().1;
            rest.rsplit_once(':').unwrap().0.to_owned()
        };
        let nats = &common_env["KOKEILU_NATS_URL"];
        assert_eq!(
            host(nats),
            format!("nats-client.{nats_ns}.svc.cluster.local"),
            "{nats}"
        );
        assert_eq!(port_of(nats), NATS_PORT);
        let otlp = &common_env["KOKEILU_OTLP_ENDPOINT"];
        assert_eq!(
            host(otlp),
            format!("otel-collector.{otel_ns}.svc.cluster.local"),
            "{otlp}"
        );
        assert_eq!(port_of(otlp), OTLP_PORT);
    }
    assert_eq!(served, BTreeSet::from(SUBCOMMANDS));
}

/// Each agency in its own namespace, and nothing in `default`.
#[test]
fn kubernetes_puts_each_agency_in_its_own_namespace() {
    let resources = k8s_resources();
    let namespaces: BTreeSet<&str> = resources
        .iter()
        .filter(|r| r.kind() == "Namespace")
        .map(K8s::name)
        .collect();
    for r in &resources {
        if r.kind() != "Namespace" {
            assert!(
                namespaces.contains(r.ns()),
                "{}: {} {} is in {}, which the base does not create",
                r.file,
                r.kind(),
                r.name(),
                r.ns()
            );
        }
    }
    let workloads = kokeilu_workloads(&resources);
    let mut seen = BTreeSet::new();
    for (r, sub) in &workloads {
        let env = container_env(&r.containers()[0]);
        let expected = format!("kokeilu-{}", identity_of(sub, &env));
        assert_eq!(r.ns(), expected, "{}", r.file);
        assert!(seen.insert(r.ns()), "two services in {}", r.ns());
    }
    for r in &resources {
        if r.kind() == "StatefulSet" && r.name() == "nats" {
            assert_eq!(r.ns(), "kokeilu-nats");
        }
        if r.kind() == "Job" {
            assert_eq!(r.ns(), "kokeilu-nats", "{}", r.file);
        }
        if r.kind() == "Deployment" && r.name() == "otel-collector" {
            assert_eq!(r.ns(), "kokeilu-observability");
        }
    }
}

/// Every service mounts its own `kokeilu-tls-<name>` Secret (mode 0440, readable through
/// fsGroup), points the three TLS settings at it, and is probed on the plaintext admin port,
/// never on the mutual-TLS gRPC port.
#[test]
fn every_service_mounts_its_tls_secret_and_probes_the_admin_port() {
    let resources = k8s_resources();
    let mut secrets = BTreeSet::new();
    for (r, sub) in kokeilu_workloads(&resources) {
        let file = &r.file;
        let c = &r.containers()[0];
        let env = container_env(c);
        let name = identity_of(sub, &env);
        let dir = "/etc/kokeilu/tls";
        for (var, key) in [
            ("KOKEILU_TLS_CERT", "tls.crt"),
            ("KOKEILU_TLS_KEY", "tls.key"),
            ("KOKEILU_TLS_CA", "ca.crt"),
        ] {
            assert_eq!(
                env.get(var).map(String::as_str),
                Some(format!("{dir}/{key}").as_str()),
                "{file}: {var}"
            );
        }
        let mount = c["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| s(&m["mountPath"]) == dir)
            .unwrap_or_else(|| panic!("{file}: nothing mounted at {dir}"));
        assert_eq!(mount["readOnly"].as_bool(), Some(true), "{file}");
        let volume = r.pod_spec()["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| s(&v["name"]) == s(&mount["name"]))
            .unwrap();
        let secret = &volume["secret"];
        let secret_name = format!("kokeilu-tls-{name}");
        assert_eq!(s(&secret["secretName"]), secret_name, "{file}");
        assert!(secrets.insert(secret_name), "{file}: a shared TLS Secret");
        // `0440` in the manifest: octal for Kubernetes (YAML 1.1), a string to serde_norway.
        let mode = match &secret["defaultMode"] {
            Value::Number(n) => n.as_u64(),
            Value::String(t) if t.starts_with('0') => u64::from_str_radix(t, 8).ok(),
            _ => None,
        };
        assert_eq!(mode, Some(0o440), "{file}: defaultMode");
        if let Some(items) = secret.get("items").and_then(Value::as_sequence) {
            let keys: BTreeSet<&str> = items.iter().map(|i| s(&i["path"])).collect();
            assert_eq!(
                keys,
                BTreeSet::from(["tls.crt", "tls.key", "ca.crt"]),
                "{file}"
            );
        }
        let security = &r.pod_spec()["securityContext"];
        assert!(
            security["fsGroup"].as_u64().is_some() && security["fsGroup"] == security["runAsGroup"],
            "{file}: the 0440 key is readable through fsGroup = runAsGroup"
        );
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let p = c.get(probe).unwrap_or_else(|| panic!("{file}: no {probe}"));
            let port = p
                .get("grpc")
                .or_else(|| p.get("httpGet"))
                .unwrap_or_else(|| panic!("{file}: {probe} is neither grpc nor httpGet"))
                .get("port")
                .unwrap();
            let port = resolve_port(c, port);
            assert_eq!(port, ADMIN_PORT, "{file}: {probe} must use the admin port");
            assert_ne!(port, GRPC_PORT, "{file}: {probe} on the mutual-TLS port");
        }
    }
    assert_eq!(secrets.len(), 3, "{secrets:?}");
}

/// The open statistics: their own Service, with the statistics port alone; no other Service
/// exposes that port, and the supervisor's gRPC Service does not.
#[test]
fn the_open_statistics_have_their_own_service() {
    let resources = k8s_resources();
    let (supervisor, _) = kokeilu_workloads(&resources)
        .into_iter()
        .find(|(_, sub)| *sub == "supervisor")
        .unwrap();
    let c = &supervisor.containers()[0];
    let env = container_env(c);
    assert_eq!(port_of(&env["KOKEILU_STATS_LISTEN"]), STATS_PORT);
    let labels = supervisor.pod_labels();
    let mut stats_services = Vec::new();
    for r in &resources {
        if r.kind() != "Service" || r.namespace != supervisor.namespace {
            continue;
        }
        let selector = string_map(&r.doc["spec"]["selector"]);
        if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            continue;
        }
        let targets: Vec<u16> = r.doc["spec"]["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| resolve_port(c, p.get("targetPort").unwrap_or(&p["port"])))
            .collect();
        if targets.contains(&STATS_PORT) {
            assert_eq!(
                targets,
                [STATS_PORT],
                "{}: {} exposes more",
                r.file,
                r.name()
            );
            stats_services.push(r.name().to_owned());
        } else {
            assert!(targets.contains(&GRPC_PORT), "{}: {}", r.file, r.name());
        }
    }
    assert_eq!(stats_services, ["avi-statistics"]);
}

/// A flow a NetworkPolicy allows: from → to on protocol/port. Endpoints are `namespace/app`
/// (`app.kubernetes.io/name`, or `*` for every pod), `clients-of:<identity>` (pods labelled
/// `kokeilu.fi/client-of` in namespaces so labelled), `kube-system/kube-dns`, `anyone` or
/// `outside the cluster` (an ipBlock).
type Flow = (String, String, &'static str, u16);

/// The flows of the README's diagram, and what running it needs. `{area}` stands for each trial
/// area's slug, `{ns}` for every namespace of the base.
const FLOWS: &[(&str, &str, &str, u16)] = &[
    // Every service publishes and consumes through NATS; the Job provisions the streams.
    (
        "kokeilu-te-office/te-office",
        "kokeilu-nats/nats",
        "TCP",
        NATS_PORT,
    ),
    (
        "kokeilu-area-{area}/trial-area",
        "kokeilu-nats/nats",
        "TCP",
        NATS_PORT,
    ),
    (
        "kokeilu-avi/supervisor",
        "kokeilu-nats/nats",
        "TCP",
        NATS_PORT,
    ),
    (
        "kokeilu-nats/nats-provision",
        "kokeilu-nats/nats",
        "TCP",
        NATS_PORT,
    ),
    // The NATS cluster's routes.
    ("kokeilu-nats/nats", "kokeilu-nats/nats", "TCP", 6222),
    // Each agency's own client systems call its gRPC port (mutual TLS).
    (
        "clients-of:te-office",
        "kokeilu-te-office/te-office",
        "TCP",
        GRPC_PORT,
    ),
    (
        "clients-of:area-{area}",
        "kokeilu-area-{area}/trial-area",
        "TCP",
        GRPC_PORT,
    ),
    ("clients-of:avi", "kokeilu-avi/supervisor", "TCP", GRPC_PORT),
    // The open statistics, to the public.
    ("anyone", "kokeilu-avi/supervisor", "TCP", STATS_PORT),
    // Prometheus scrapes the admin ports.
    (
        "kokeilu-observability/prometheus",
        "kokeilu-te-office/te-office",
        "TCP",
        ADMIN_PORT,
    ),
    (
        "kokeilu-observability/prometheus",
        "kokeilu-area-{area}/trial-area",
        "TCP",
        ADMIN_PORT,
    ),
    (
        "kokeilu-observability/prometheus",
        "kokeilu-avi/supervisor",
        "TCP",
        ADMIN_PORT,
    ),
    // Traces to the collector.
    (
        "kokeilu-te-office/te-office",
        "kokeilu-observability/otel-collector",
        "TCP",
        OTLP_PORT,
    ),
    (
        "kokeilu-area-{area}/trial-area",
        "kokeilu-observability/otel-collector",
        "TCP",
        OTLP_PORT,
    ),
    (
        "kokeilu-avi/supervisor",
        "kokeilu-observability/otel-collector",
        "TCP",
        OTLP_PORT,
    ),
    // Each service's own PostgreSQL, outside the cluster.
    (
        "kokeilu-te-office/te-office",
        "outside the cluster",
        "TCP",
        POSTGRES_PORT,
    ),
    (
        "kokeilu-area-{area}/trial-area",
        "outside the cluster",
        "TCP",
        POSTGRES_PORT,
    ),
    (
        "kokeilu-avi/supervisor",
        "outside the cluster",
        "TCP",
        POSTGRES_PORT,
    ),
    // Names.
    ("{ns}/*", "kube-system/kube-dns", "UDP", 53),
    ("{ns}/*", "kube-system/kube-dns", "TCP", 53),
];

/// Pods a policy may name that the base does not run.
const EXTERNAL_PODS: [&str; 1] = ["kokeilu-observability/prometheus"];

fn match_labels(selector: &Value) -> BTreeMap<String, String> {
    assert!(
        selector.get("matchExpressions").is_none(),
        "matchExpressions: keep the policies to matchLabels ({selector:?})"
    );
    string_map(&selector["matchLabels"])
}

/// The pods a selector names, as an endpoint's second half.
fn pods_of(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return "*".into();
    };
    let labels = match_labels(selector);
    if labels.is_empty() {
        return "*".into();
    }
    ["app.kubernetes.io/name", "k8s-app"]
        .iter()
        .find_map(|k| labels.get(*k).cloned())
        .unwrap_or_else(|| panic!("pod selector {labels:?} names no app"))
}

fn peer_of(peer: &Value, own: &str) -> String {
    if let Some(block) = peer.get("ipBlock") {
        let cidr = s(&block["cidr"]);
        assert!(
            !["0.0.0.0/0", "::/0"].contains(&cidr),
            "an ipBlock open to everything"
        );
        return "outside the cluster".into();
    }
    let namespace = match peer.get("namespaceSelector") {
        None => own.to_owned(),
        Some(selector) => {
            let labels = match_labels(selector);
            if let Some(client) = labels.get("kokeilu.fi/client-of") {
                // The agency's client systems: the same label on their pods.
                let pods = peer
                    .get("podSelector")
                    .map(match_labels)
                    .unwrap_or_default();
                assert_eq!(
                    pods.get("kokeilu.fi/client-of"),
                    Some(client),
                    "clients of {client}: the pods must be labelled too"
                );
                return format!("clients-of:{client}");
            }
            labels
                .get("kubernetes.io/metadata.name")
                .unwrap_or_else(|| panic!("namespace selector {labels:?} names no namespace"))
                .clone()
        }
    };
    format!("{namespace}/{}", pods_of(peer.get("podSelector")))
}

fn policy_ports(rule: &Value, what: &str) -> Vec<(&'static str, u16)> {
    let ports = rule
        .get("ports")
        .and_then(Value::as_sequence)
        .unwrap_or_else(|| panic!("{what}: a rule without ports allows every port"));
    ports
        .iter()
        .map(|p| {
            let protocol = match p.get("protocol").map_or("TCP", s) {
                "TCP" => "TCP",
                "UDP" => "UDP",
                other => panic!("{what}: protocol {other}"),
            };
            let port = p["port"]
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: name ports by number"));
            (protocol, u16::try_from(port).unwrap())
        })
        .collect()
}

/// (ingress flows, egress flows) the policies allow.
fn allowed_flows(resources: &[K8s]) -> (BTreeSet<Flow>, BTreeSet<Flow>) {
    let mut ingress = BTreeSet::new();
    let mut egress = BTreeSet::new();
    for r in resources.iter().filter(|r| r.kind() == "NetworkPolicy") {
        let what = format!("{}: {}", r.file, r.name());
        let spec = &r.doc["spec"];
        let pods = format!("{}/{}", r.ns(), pods_of(Some(&spec["podSelector"])));
        for rule in spec
            .get("ingress")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let peers: Vec<String> = match rule.get("from").and_then(Value::as_sequence) {
                None => vec!["anyone".into()],
                Some(from) => from.iter().map(|p| peer_of(p, r.ns())).collect(),
            };
            for peer in peers {
                for (protocol, port) in policy_ports(rule, &what) {
                    ingress.insert((peer.clone(), pods.clone(), protocol, port));
                }
            }
        }
        for rule in spec
            .get("egress")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let to = rule
                .get("to")
                .and_then(Value::as_sequence)
                .unwrap_or_else(|| panic!("{what}: an egress rule to anywhere"));
            for peer in to.iter().map(|p| peer_of(p, r.ns())) {
                for (protocol, port) in policy_ports(rule, &what) {
                    egress.insert((pods.clone(), peer.clone(), protocol, port));
                }
            }
        }
    }
    (ingress, egress)
}

/// Every namespace of the base denies all ingress and egress unless a policy allows it.
#[test]
fn every_namespace_denies_ingress_and_egress_by_default() {
    let resources = k8s_resources();
    for ns in resources.iter().filter(|r| r.kind() == "Namespace") {
        let deny = resources.iter().find(|r| {
            let spec = &r.doc["spec"];
            r.kind() == "NetworkPolicy"
                && r.ns() == ns.name()
                && match_labels(&spec["podSelector"]).is_empty()
                && spec["podSelector"].get("matchExpressions").is_none()
                && spec["policyTypes"]
                    .as_sequence()
                    .is_some_and(|t| t.iter().any(|t| s(t) == "Ingress"))
                && spec["policyTypes"]
                    .as_sequence()
                    .is_some_and(|t| t.iter().any(|t| s(t) == "Egress"))
                && spec.get("ingress").is_none()
                && spec.get("egress").is_none()
        });
        assert!(
            deny.is_some(),
            "{}: no default-deny policy for ingress and egress",
            ns.name()
        );
    }
}

/// The policies allow exactly the flows of the README's diagram ([`FLOWS`]): each flow between
/// two of the base's pods both as egress and as ingress, and nothing else.
#[test]
fn network_policies_allow_exactly_the_diagram_flows() {
    let resources = k8s_resources();
    let namespaces: Vec<&str> = resources
        .iter()
        .filter(|r| r.kind() == "Namespace")
        .map(K8s::name)
        .collect();
    let areas: Vec<String> = kokeilu_workloads(&resources)
        .iter()
        .filter(|(_, sub)| *sub == "trial-area")
        .map(|(r, _)| container_env(&r.containers()[0])["KOKEILU_AREA"].clone())
        .collect();
    assert!(!areas.is_empty());
    let mut expected: BTreeSet<Flow> = BTreeSet::new();
    for (from, to, protocol, port) in FLOWS {
        let protocol: &'static str = protocol;
        let mut rows = vec![(from.to_string(), to.to_string())];
        if from.contains("{area}") || to.contains("{area}") {
            rows = areas
                .iter()
                .map(|a| (from.replace("{area}", a), to.replace("{area}", a)))
                .collect();
        }
        if from.contains("{ns}") {
            rows = namespaces
                .iter()
                .map(|n| (from.replace("{ns}", n), to.to_string()))
                .collect();
        }
        for (f, t) in rows {
            expected.insert((f, t, protocol, *port));
        }
    }
    let ours = |endpoint: &str| {
        endpoint
            .split_once('/')
            .is_some_and(|(ns, _)| namespaces.contains(&ns))
    };
    let (ingress, egress) = allowed_flows(&resources);
    for flow in &expected {
        let (from, to, ..) = flow;
        if ours(from) && !EXTERNAL_PODS.contains(&from.as_str()) {
            assert!(
                egress.contains(flow),
                "{flow:?} is not allowed out of {from}"
            );
        }
        if ours(to) && !EXTERNAL_PODS.contains(&to.as_str()) {
            assert!(ingress.contains(flow), "{flow:?} is not allowed into {to}");
        }
    }
    for flow in ingress.iter().chain(&egress) {
        assert!(
            expected.contains(flow),
            "{flow:?} is allowed but is no flow of the diagram"
        );
    }
    // Every pod a policy names is one the base runs (or Prometheus), and every port let in is
    // one its containers listen on.
    for (from, to, _, port) in ingress.iter().chain(&egress) {
        for endpoint in [from, to] {
            if !ours(endpoint) || EXTERNAL_PODS.contains(&endpoint.as_str()) {
                continue;
            }
            let (ns, app) = endpoint.split_once('/').unwrap();
            if app == "*" {
                continue;
            }
            let workload = resources
                .iter()
                .find(|r| {
                    ["Deployment", "StatefulSet", "Job"].contains(&r.kind())
                        && r.ns() == ns
                        && r.pod_labels()
                            .get("app.kubernetes.io/name")
                            .map(String::as_str)
                            == Some(app)
                })
                .unwrap_or_else(|| panic!("{endpoint}: no such pods"));
            if endpoint == to && ingress.contains(&(from.clone(), to.clone(), "TCP", *port)) {
                assert!(
                    workload.containers().iter().any(|c| {
                        c["ports"]
                            .as_sequence()
                            .into_iter()
                            .flatten()
                            .any(|p| p["containerPort"].as_u64() == Some(u64::from(*port)))
                    }),
                    "{endpoint} does not listen on {port}"
                );
            }
        }
    }
    // The label the agencies' client systems carry is documented.
    let readme = read("deploy/README.md");
    assert!(readme.contains("kokeilu.fi/client-of"));
}

/// Every metric name in a PromQL expression (labels and functions are told apart by the lists).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    for token in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if !["rpc_", "messaging_", "kokeilu_"]
            .iter()
            .any(|p| token.starts_with(p))
        {
            continue;
        }
        if LABELS.contains(&token) {
            continue;
        }
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                token
                    .strip_suffix(suffix)
                    .filter(|b| HISTOGRAMS.contains(b))
            })
            .unwrap_or(token);
        names.push(base.to_owned());
    }
    names
}

fn label_names(expr: &str) -> Vec<String> {
    let mut labels = Vec::new();
    // `by (a, b)`, `on (a)` and `{a="…", b!="…"}`
    for (open, close) in [("by (", ")"), ("on (", ")")] {
        for part in expr.split(open).skip(1) {
            let inner = &part[..part.find(close).unwrap()];
            labels.extend(inner.split(',').map(|l| l.trim().to_owned()));
        }
    }
    for part in expr.split('{').skip(1) {
        let inner = &part[..part.find('}').unwrap()];
        for matcher in inner.split(',') {
            let name = matcher.split(['=', '!', '~']).next().unwrap().trim();
            if !name.is_empty() {
                labels.push(name.to_owned());
            }
        }
    }
    labels
}

fn check_expr(what: &str, expr: &str, used: &mut BTreeSet<String>) {
    let names = metric_names(expr);
    assert!(!names.is_empty(), "{what}: no Kokeilu metric in {expr}");
    for name in names {
        assert!(
            METRICS.contains(&name.as_str()),
            "{what}: {name} is not a contract metric"
        );
        used.insert(name);
    }
    for label in label_names(expr) {
        assert!(
            LABELS.contains(&label.as_str()) || label == "le",
            "{what}: label {label} is not a contract label"
        );
    }
}

#[test]
fn dashboard_and_alerts_use_the_contract_metric_names() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/kokeilu.json")).unwrap();
    let mut used = BTreeSet::new();
    let mut panels = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap();
            check_expr(title, target["expr"].as_str().unwrap(), &mut used);
            panels += 1;
        }
    }
    assert!(panels > 0);
    // The dashboard shows every metric there is.
    let missing: Vec<&str> = METRICS
        .iter()
        .copied()
        .filter(|m| !used.contains(*m))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard does not show {missing:?}"
    );

    let alerts = yaml("deploy/prometheus/alerts.yaml");
    let mut alert_metrics = BTreeSet::new();
    let mut names = BTreeSet::new();
    for group in alerts["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = s(&rule["alert"]);
            names.insert(name.to_owned());
            check_expr(name, s(&rule["expr"]), &mut alert_metrics);
        }
    }
    // A stalled relay (backlog without publishes, or an old row) and dead-letter growth.
    for needed in [
        "kokeilu_outbox_backlog",
        "messaging_client_sent_messages_total",
        "kokeilu_outbox_oldest_age_seconds",
        "kokeilu_dead_letters_total",
    ] {
        assert!(alert_metrics.contains(needed), "no alert on {needed}");
    }
    assert_eq!(names.len(), 3, "{names:?}");
}

/// Services only check the streams: compose and Kubernetes each run `kokeilu nats provision` as
/// the NATS operator user, with the replicas the services expect, before the services start; and
/// every NATS node gets the key of its encryption at rest.
#[test]
fn the_streams_are_provisioned_by_the_operator_before_the_services_start() {
    let users = nats_users();
    let operator_var = &users["operator"];

    let compose = yaml("compose.yaml");
    let services = compose["services"].as_mapping().unwrap();
    let provision = &services["stream-provision"];
    assert_eq!(command_of(provision), ["nats", "provision"]);
    let env = env_of(provision);
    assert_eq!(env["KOKEILU_NATS_USER"], "operator");
    assert_eq!(env["KOKEILU_STREAM_REPLICAS"], "3");
    let node = env_of(&services["nats-0"]);
    assert_eq!(
        with_defaults(node[operator_var].trim_matches('"')),
        with_defaults(&env["KOKEILU_NATS_PASSWORD"]),
        "stream-provision: the operator's password differs from the one nats-server holds"
    );
    for (name, svc) in services {
        if command_of(svc).first().map(String::as_str) == Some("serve") {
            assert_eq!(
                svc["depends_on"]["stream-provision"]["condition"].as_str(),
                Some("service_completed_successfully"),
                "{} starts before the streams are provisioned",
                s(name)
            );
            assert_eq!(env_of(svc)["KOKEILU_STREAM_REPLICAS"], "3", "{}", s(name));
        }
        if s(name).starts_with("nats-") {
            let key = &env_of(svc)["KOKEILU_NATS_JETSTREAM_KEY"];
            assert!(key.starts_with('"') && key.ends_with('"'), "{}", s(name));
        }
    }

    let resources = k8s_resources();
    let job = &resources
        .iter()
        .find(|r| r.kind() == "Job" && r.name() == "nats-provision")
        .expect("no Job nats-provision")
        .doc;
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(args, ["nats", "provision"]);
    let user = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| s(&e["name"]) == "KOKEILU_NATS_USER")
        .unwrap();
    assert_eq!(s(&user["value"]), "operator");
    assert_eq!(
        s(&container["envFrom"][0]["configMapRef"]["name"]),
        "kokeilu-common",
        "the Job takes the services' NATS URL, CA and replicas"
    );
    let statefulset = &resources
        .iter()
        .find(|r| r.kind() == "StatefulSet" && r.name() == "nats")
        .unwrap()
        .doc;
    let secrets: Vec<&str> = statefulset["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| s(&e["secretRef"]["name"]))
        .collect();
    assert!(secrets.contains(&"nats-jetstream-key"), "{secrets:?}");
}
