//! What the law allows AVI to issue, by table (no database).

#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction};
use kokeilu_proto::supervisor::Complaint;
use kokeilu_proto::{date_from_naive, date_to_naive};
use kokeilu_rules::registry::Registry;
use kokeilu_rules::suspension::Scope;

use super::{ActionRequest, Refs, decide};
use crate::error::Error;
use crate::store::StoredAction;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn today() -> NaiveDate {
    day(2024, 9, 2)
}

fn order() -> ActionRequest {
    ActionRequest {
        text: "Alkuhaastattelut viivästyvät.".into(),
        deadline: Some(day(2024, 10, 1)),
        ..ActionRequest::new(ActionKind::Order, "kainuu".into(), "kokeilu://avi".into())
    }
}

fn fields(e: Error) -> Vec<String> {
    match e {
        Error::Invalid(v) => v.into_iter().map(|v| v.field).collect(),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

fn precondition(e: Error) -> String {
    match e {
        Error::Precondition { description, .. } => description,
        other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
    }
}

fn decided(req: &ActionRequest, on: NaiveDate, refs: &Refs) -> Result<SupervisoryAction, Error> {
    decide(req, on, Registry::builtin(), refs)
}

#[test]
fn an_order_has_a_deadline_after_today_and_names_its_rule() {
    let a = decided(&order(), today(), &Refs::default()).unwrap();
    assert_eq!(a.kind, ActionKind::Order as i32);
    assert!(a.rule.contains("22 §"), "{}", a.rule);
    assert!(!a.partial);
    for deadline in [today(), day(2024, 9, 1)] {
        let req = ActionRequest {
            deadline: Some(deadline),
            ..order()
        };
        assert_eq!(
            fields(decided(&req, today(), &Refs::default()).unwrap_err()),
            ["deadline"]
        );
    }
}

#[test]
fn orders_reach_a_municipality_of_the_area_only_from_1_6_2021() {
    // Paltamo (578) is in Kainuu.
    let to_paltamo = ActionRequest {
        municipality: "578".into(),
        deadline: Some(day(2021, 7, 1)),
        ..order()
    };
    let a = decided(&to_paltamo, day(2021, 6, 1), &Refs::default()).unwrap();
    assert_eq!(a.municipality_code, "578");
    assert!(a.rule.contains("421/2021"), "{}", a.rule);
    let before =
        precondition(decided(&to_paltamo, day(2021, 5, 31), &Refs::default()).unwrap_err());
    assert!(
        before.contains("2021-06-01") && before.contains("421/2021"),
        "{before}"
    );
    // Helsinki (091) is not a municipality of Kainuu.
    let elsewhere = ActionRequest {
        municipality: "091".into(),
        ..order()
    };
    assert_eq!(
        fields(decided(&elsewhere, today(), &Refs::default()).unwrap_err()),
        ["municipality_code"]
    );
    // A remark may be addressed to a municipality too.
    let remark = ActionRequest {
        municipality: "205".into(),
        ..ActionRequest::new(ActionKind::Remark, "kainuu".into(), String::new())
    };
    let r = decided(&remark, today(), &Refs::default()).unwrap();
    assert_eq!(
        (r.kind, r.municipality_code.as_str()),
        (ActionKind::Remark as i32, "205")
    );
}

#[test]
fn an_order_under_threat_names_the_suspension_it_threatens() {
    let whole = ActionRequest {
        threat: Some(None),
        ..order()
    };
    let a = decided(&whole, today(), &Refs::default()).unwrap();
    assert_eq!(a.kind, ActionKind::OrderUnderThreat as i32);
    assert!(!a.partial && a.scope.is_none());
    assert!(a.rule.contains("threat"), "{}", a.rule);
    let partial = ActionRequest {
        threat: Some(Some(Scope {
            client_groups: vec!["under_30".into()],
            ..Scope::default()
        })),
        ..order()
    };
    let a = decided(&partial, today(), &Refs::default()).unwrap();
    assert!(a.partial);
    assert_eq!(a.scope.unwrap().client_groups, ["under_30"]);
    let bad = ActionRequest {
        threat: Some(Some(Scope {
            client_groups: vec!["tall".into()],
            ..Scope::default()
        })),
        ..order()
    };
    assert_eq!(
        fields(decided(&bad, today(), &Refs::default()).unwrap_err()),
        ["threat.scope.client_groups"]
    );
}

fn suspension(scope: Option<Scope>) -> ActionRequest {
    ActionRequest {
        text: "Määräystä ei noudatettu.".into(),
        effective_from: Some(day(2024, 9, 3)),
        scope,
        ..ActionRequest::new(ActionKind::Suspension, "kainuu".into(), String::new())
    }
}

#[test]
fn suspensions_are_whole_or_cover_a_valid_scope_from_today_on() {
    let whole = decided(&suspension(None), today(), &Refs::default()).unwrap();
    assert!(!whole.partial && whole.scope.is_none());
    let scope = Scope {
        municipality_codes: vec!["205".into()],
        statement_subjects: vec!["general_conditions".into()],
        ..Scope::default()
    };
    let partial = decided(&suspension(Some(scope)), today(), &Refs::default()).unwrap();
    assert!(partial.partial);
    assert_eq!(partial.scope.unwrap().municipality_codes, ["205"]);
    assert_eq!(
        fields(
            decided(
                &suspension(Some(Scope::default())),
                today(),
                &Refs::default()
            )
            .unwrap_err()
        ),
        ["scope"]
    );
    let outside = Scope {
        municipality_codes: vec!["091".into()],
        ..Scope::default()
    };
    assert_eq!(
        fields(decided(&suspension(Some(outside)), today(), &Refs::default()).unwrap_err()),
        ["scope.municipality_codes"]
    );
    let past = ActionRequest {
        effective_from: Some(day(2024, 9, 1)),
        ..suspension(None)
    };
    assert_eq!(
        fields(decided(&past, today(), &Refs::default()).unwrap_err()),
        ["effective_from"]
    );
}

fn stored_suspension(area: &str, lifted: Option<(String, NaiveDate)>) -> StoredAction {
    let mut action = decided(&suspension(None), today(), &Refs::default()).unwrap();
    action.action_id = "0192a000-0000-7000-8000-000000000001".into();
    action.area_id = area.into();
    StoredAction { action, lifted }
}

fn lift(from: NaiveDate) -> ActionRequest {
    ActionRequest {
        text: "Puutteet korjattu.".into(),
        effective_from: Some(from),
        lifts: "0192a000-0000-7000-8000-000000000001".into(),
        ..ActionRequest::new(ActionKind::LiftSuspension, "kainuu".into(), String::new())
    }
}

#[test]
fn a_lift_names_an_unlifted_suspension_of_the_area_and_is_not_earlier() {
    let refs = Refs {
        suspension: Some(stored_suspension("kainuu", None)),
        ..Refs::default()
    };
    let a = decided(&lift(day(2024, 10, 1)), today(), &refs).unwrap();
    assert_eq!(a.kind, ActionKind::LiftSuspension as i32);
    assert_eq!(a.lifts_action_id, "0192a000-0000-7000-8000-000000000001");
    assert_eq!(
        a.effective_from.as_ref().and_then(date_to_naive),
        Some(day(2024, 10, 1))
    );
    // Before the suspension's own date (3.9.) it cannot be lifted.
    assert_eq!(
        fields(decided(&lift(day(2024, 9, 2)), today(), &refs).unwrap_err()),
        ["effective_from"]
    );
    let lifted = Refs {
        suspension: Some(stored_suspension(
            "kainuu",
            Some(("lift-1".into(), day(2024, 9, 20))),
        )),
        ..Refs::default()
    };
    let e = precondition(decided(&lift(day(2024, 10, 1)), today(), &lifted).unwrap_err());
    assert!(e.contains("already lifted") && e.contains("lift-1"), "{e}");
    let other_area = Refs {
        suspension: Some(stored_suspension("helsinki", None)),
        ..Refs::default()
    };
    let e = precondition(decided(&lift(day(2024, 10, 1)), today(), &other_area).unwrap_err());
    assert!(e.contains("not a suspension"), "{e}");
    let e = precondition(decided(&lift(day(2024, 10, 1)), today(), &Refs::default()).unwrap_err());
    assert!(e.contains("not a suspension"), "{e}");
}

#[test]
fn an_action_may_follow_from_a_complaint_about_the_same_area() {
    let complaint = |area: &str| Complaint {
        complaint_id: "0192a000-0000-7000-8000-0000000000c1".into(),
        area_id: area.into(),
        received_on: Some(date_from_naive(today())),
        ..Complaint::default()
    };
    let req = ActionRequest {
        complaint_id: "0192a000-0000-7000-8000-0000000000c1".into(),
        ..order()
    };
    let same = Refs {
        complaint: Some(complaint("kainuu")),
        ..Refs::default()
    };
    assert_eq!(
        decided(&req, today(), &same).unwrap().complaint_id,
        "0192a000-0000-7000-8000-0000000000c1"
    );
    let other = Refs {
        complaint: Some(complaint("helsinki")),
        ..Refs::default()
    };
    assert_eq!(
        fields(decided(&req, today(), &other).unwrap_err()),
        ["complaint_id"]
    );
    assert_eq!(
        fields(decided(&req, today(), &Refs::default()).unwrap_err()),
        ["complaint_id"]
    );
}
