//! Jobseeker facts and decisions as JSON (snake_case, what a CLI prints), and facts the rules
//! refuse as unusable rather than decide on.

// Test tables: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use kokeilu_rules::eligibility::{DeclineReason, JobseekerFacts, evaluate};
use kokeilu_rules::registry::Registry;
use support::*;

#[test]
fn facts_and_decisions_are_json() {
    let json = r#"{"hetu": " 131052-308T ", "home_municipality_code": "205",
        "residence_municipality_code": null, "employment_status": "laid_off",
        "registered_as_jobseeker": true, "mother_tongue": "ar",
        "entitled_to_earnings_related_allowance": true, "te_office_declines": null}"#;
    let facts: JobseekerFacts = serde_json::from_str(json).unwrap();
    let d = evaluate(Registry::builtin(), &facts, day(2024, 3, 4)).unwrap();
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["outcome"]["kind"], "referral");
    assert_eq!(v["outcome"]["area"], "kainuu");
    assert_eq!(v["grounds"], serde_json::json!(["foreign_language"]));
    assert_eq!(v["rule"]["effective_from"], "2023-03-01");
    assert_eq!(v["provision"], "1269/2020 4 § 1 mom 2 kohta");
    assert!(serde_json::from_str::<JobseekerFacts>(r#"{"nonsense": 1}"#).is_err());
    let declined: JobseekerFacts =
        serde_json::from_str(r#"{"te_office_declines": "inappropriate_client_relationship"}"#)
            .unwrap();
    assert_eq!(
        declined.te_office_declines,
        Some(DeclineReason::InappropriateClientRelationship)
    );
}

#[test]
fn unusable_facts_are_errors_not_decisions() {
    let bad_hetu = with(base(), |f| f.henkilotunnus = "131052-308X".into());
    let e = evaluate(Registry::builtin(), &bad_hetu, day(2024, 3, 4)).unwrap_err();
    assert!(!e.to_string().contains("131052"), "{e}");
    let unknown_code = with(base(), |f| f.home_municipality_code = "998".into());
    assert!(evaluate(Registry::builtin(), &unknown_code, day(2024, 3, 4)).is_err());
    let unknown_residence = with(base(), |f| f.residence_municipality_code = "12".into());
    assert!(evaluate(Registry::builtin(), &unknown_residence, day(2024, 3, 4)).is_err());
}
