//! `compose.yaml` names existing files, real settings and the services' ports.

use super::*;

pub(super) fn env_of(service: &Value) -> BTreeMap<String, String> {
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
pub(super) fn with_defaults(value: &str) -> String {
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
pub(super) fn bind_mounts(service: &Value) -> Vec<(String, String)> {
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
pub(super) const COMPOSE_PKI: &str = "./.kokeilu/pki/";

/// The container side of each `ports:` entry (`[ip:]host:container`).
pub(super) fn container_ports(service: &Value) -> Vec<(u16, u16)> {
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

pub(super) fn command_of(service: &Value) -> Vec<String> {
    service
        .get("command")
        .and_then(Value::as_sequence)
        .map(|c| c.iter().map(|a| s(a).to_owned()).collect())
        .unwrap_or_default()
}

/// `{ user: "area-kainuu", password: $KOKEILU_NATS_PASS_KAINUU, … }` of accounts.conf.
pub(super) fn nats_users() -> BTreeMap<String, String> {
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
