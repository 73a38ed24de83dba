//! The streams are provisioned by the operator before any service starts.

use super::*;

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
