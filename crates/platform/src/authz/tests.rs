//! Every cell of the authorisation table, and the table against the services' descriptors.

use std::collections::BTreeSet;

use prost::Message as _;

use super::*;

/// Every method of every service in a descriptor set, as `/package.Service/Method`.
fn methods(fds: &[u8]) -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(fds).expect("descriptor set decodes");
    let mut out = BTreeSet::new();
    for file in set.file {
        let package = file.package.clone().unwrap_or_default();
        for service in &file.service {
            for method in &service.method {
                out.insert(format!("/{package}.{}/{}", service.name(), method.name()));
            }
        }
    }
    out
}

fn served_methods() -> BTreeSet<String> {
    let mut all = methods(kokeilu_proto::FILE_DESCRIPTOR_SET);
    all.extend(methods(tonic_health::pb::FILE_DESCRIPTOR_SET));
    all.extend(methods(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET));
    all.extend(methods(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET));
    all
}

#[test]
fn every_served_method_has_exactly_one_row_and_every_row_is_served() {
    let served = served_methods();
    let mut seen = BTreeSet::new();
    for rule in TABLE {
        assert!(seen.insert(rule.method), "{} has two rows", rule.method);
        assert!(
            served.contains(rule.method),
            "{} is in the table but no service serves it",
            rule.method
        );
    }
    for method in &served {
        assert!(
            rule_for(method).is_some(),
            "{method} has no row in the authorisation table"
        );
    }
}

fn callers() -> Vec<Identity> {
    vec![
        Identity::TeOffice,
        Identity::Area("kainuu".into()),
        Identity::Area("helsinki".into()),
        Identity::Avi,
        Identity::AviStaff("inspector-1".into()),
        Identity::Operator,
    ]
}

fn deployments() -> Vec<Deployment> {
    vec![
        Deployment::TeOffice,
        Deployment::TrialArea("kainuu".into()),
        Deployment::Supervisor,
    ]
}

/// The specification, written out independently of the table: who may call a method of each
/// service, per deployment.
fn expected(method: &str, caller: &Identity, deployment: &Deployment) -> bool {
    if method.starts_with("/grpc.") {
        return true;
    }
    let (service, name) = method[1..].split_once('/').expect("full method path");
    match service {
        "kokeilu.teoffice.v1.TeOfficeService" => *caller == Identity::TeOffice,
        "kokeilu.trialarea.v1.TrialAreaService" => match (caller, deployment) {
            (Identity::Area(slug), Deployment::TrialArea(own)) => slug == own,
            _ => false,
        },
        "kokeilu.supervisor.v1.SupervisorService" => match caller {
            Identity::Avi | Identity::AviStaff(_) => true,
            Identity::Operator => name == "GetAreaSummary",
            _ => false,
        },
        other => panic!("a service the specification does not know: {other}"),
    }
}

#[test]
fn every_cell_of_the_table_is_what_the_specification_says() {
    let mut cells = 0;
    for method in served_methods() {
        for deployment in deployments() {
            for caller in callers() {
                let allowed = decide(&method, &caller, &deployment).is_ok();
                assert_eq!(
                    allowed,
                    expected(&method, &caller, &deployment),
                    "{caller} calling {method} at {deployment:?}"
                );
                cells += 1;
            }
        }
    }
    assert_eq!(cells, served_methods().len() * 3 * 6);
}

#[test]
fn a_method_not_in_the_table_is_refused_for_everyone() {
    for caller in callers() {
        assert_eq!(
            decide(
                "/kokeilu.teoffice.v1.TeOfficeService/DropDatabase",
                &caller,
                &Deployment::TeOffice
            ),
            Err(Denial::UnknownMethod)
        );
    }
}

#[test]
fn the_operator_reads_exactly_what_carries_no_personal_data() {
    for rule in TABLE {
        let operator = rule.allow.contains(&Role::Operator) || rule.allow.contains(&Role::Anyone);
        assert_eq!(
            operator,
            rule.data == PersonalData::None && !rule.mutates,
            "{}",
            rule.method
        );
    }
}

#[test]
fn only_a_named_inspector_sees_identities() {
    for caller in callers() {
        assert_eq!(
            may_see_identities(&caller),
            matches!(caller, Identity::AviStaff(_)),
            "{caller}"
        );
    }
}
