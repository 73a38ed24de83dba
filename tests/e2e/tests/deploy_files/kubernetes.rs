//! The Kubernetes base: the image's binary, one namespace per agency, TLS mounts, admin-port probes and the statistics Service.

use super::*;

/// `a/b/../c` → `a/c` (no file system access).
pub(super) fn normalize(path: &Path) -> String {
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
pub(super) struct K8s {
    pub(super) file: String,
    /// What kustomize sets: the outermost `namespace:` of the kustomizations that include it
    /// (`None` for a Namespace itself).
    pub(super) namespace: Option<String>,
    pub(super) doc: Value,
}

impl K8s {
    pub(super) fn kind(&self) -> &str {
        s(&self.doc["kind"])
    }
    pub(super) fn name(&self) -> &str {
        s(&self.doc["metadata"]["name"])
    }
    pub(super) fn ns(&self) -> &str {
        self.namespace
            .as_deref()
            .unwrap_or_else(|| panic!("{}: {} has no namespace", self.file, self.name()))
    }
    pub(super) fn pod_spec(&self) -> &Value {
        &self.doc["spec"]["template"]["spec"]
    }
    pub(super) fn pod_labels(&self) -> BTreeMap<String, String> {
        string_map(&self.doc["spec"]["template"]["metadata"]["labels"])
    }
    pub(super) fn containers(&self) -> &Vec<Value> {
        self.pod_spec()["containers"].as_sequence().unwrap()
    }
}

pub(super) fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (s(k).to_owned(), s(v).to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Every resource of `deploy/k8s/kustomization.yaml`, following `resources:` into folders.
pub(super) fn k8s_resources() -> Vec<K8s> {
    let mut out = Vec::new();
    collect_k8s(&root().join("deploy/k8s"), None, &mut out);
    assert!(!out.is_empty());
    out
}

pub(super) fn collect_k8s(dir: &Path, outer: Option<&str>, out: &mut Vec<K8s>) {
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
pub(super) fn kokeilu_workloads(resources: &[K8s]) -> Vec<(&K8s, &str)> {
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
pub(super) fn container_env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((s(&e["name"]).to_owned(), s(e.get("value")?).to_owned())))
        .collect()
}

/// The PKI name of the identity a service runs as (`kokeilu_platform::identity`).
pub(super) fn identity_of(subcommand: &str, env: &BTreeMap<String, String>) -> String {
    let identity = match subcommand {
        "te-office" => Identity::TeOffice,
        "trial-area" => Identity::Area(env["KOKEILU_AREA"].clone()),
        "supervisor" => Identity::Avi,
        other => panic!("no identity for serve {other}"),
    };
    identity.name()
}

/// A container port by number or by name.
pub(super) fn resolve_port(container: &Value, port: &Value) -> u16 {
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
pub(super) type Flow = (String, String, &'static str, u16);

/// The flows of the README's diagram, and what running it needs. `{area}` stands for each trial
/// area's slug, `{ns}` for every namespace of the base.
pub(super) const FLOWS: &[(&str, &str, &str, u16)] = &[
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
pub(super) const EXTERNAL_PODS: [&str; 1] = ["kokeilu-observability/prometheus"];
