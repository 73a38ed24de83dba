//! NetworkPolicies: default deny everywhere, and exactly the flows of the README diagram.

use super::*;

pub(super) fn match_labels(selector: &Value) -> BTreeMap<String, String> {
    assert!(
        selector.get("matchExpressions").is_none(),
        "matchExpressions: keep the policies to matchLabels ({selector:?})"
    );
    string_map(&selector["matchLabels"])
}

/// The pods a selector names, as an endpoint's second half.
pub(super) fn pods_of(selector: Option<&Value>) -> String {
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

pub(super) fn peer_of(peer: &Value, own: &str) -> String {
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

pub(super) fn policy_ports(rule: &Value, what: &str) -> Vec<(&'static str, u16)> {
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
pub(super) fn allowed_flows(resources: &[K8s]) -> (BTreeSet<Flow>, BTreeSet<Flow>) {
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
