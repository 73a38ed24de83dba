//! Complaint steps and the ministry notice, by table (no database).

#![allow(clippy::unwrap_used)]

use chrono::{NaiveDate, TimeZone, Utc};
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction};
use kokeilu_proto::supervisor::{Complaint, ComplaintOutcome, ComplaintStatus};
use kokeilu_proto::{date_from_naive, date_to_naive, timestamp_from};
use kokeilu_rules::registry::Registry;

use super::{Decision, NewComplaint, notice, receive, step};
use crate::error::Error;
use crate::store::StoredAction;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn received() -> Complaint {
    let mut c = receive(
        &NewComplaint {
            area: "kainuu".into(),
            municipality: "205".into(),
            received_on: day(2024, 9, 2),
            summary: "Alkuhaastattelua ei ole järjestetty.".into(),
            referral_ids: Vec::new(),
        },
        day(2024, 9, 2),
        Registry::builtin(),
    )
    .unwrap();
    c.complaint_id = "c-1".into();
    c
}

fn fields(e: Error) -> Vec<String> {
    match e {
        Error::Invalid(v) => v.into_iter().map(|v| v.field).collect(),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

fn decision(status: ComplaintStatus, outcome: ComplaintOutcome, action: &str) -> Decision {
    Decision {
        status,
        outcome,
        on: day(2024, 9, 10),
        note: "Selvitetään.".into(),
        action_id: action.into(),
    }
}

fn action(kind: ActionKind, area: &str) -> SupervisoryAction {
    SupervisoryAction {
        action_id: "a-1".into(),
        kind: kind as i32,
        area_id: area.into(),
        ..Default::default()
    }
}

#[test]
fn a_complaint_is_received_about_a_municipality_of_its_area_not_in_the_future() {
    let c = received();
    assert_eq!(c.status, ComplaintStatus::Received as i32);
    assert_eq!(c.history.len(), 1);
    let new = |municipality: &str, on| NewComplaint {
        area: "kainuu".into(),
        municipality: municipality.into(),
        received_on: on,
        summary: "x".into(),
        referral_ids: Vec::new(),
    };
    let r = Registry::builtin();
    assert_eq!(
        fields(receive(&new("091", day(2024, 9, 2)), day(2024, 9, 2), r).unwrap_err()),
        ["municipality_code"]
    );
    assert_eq!(
        fields(receive(&new("", day(2024, 9, 3)), day(2024, 9, 2), r).unwrap_err()),
        ["received_on"]
    );
}

#[test]
fn a_complaint_goes_through_investigation_to_a_decision_carried_by_an_action() {
    let under = step(
        &received(),
        &decision(
            ComplaintStatus::UnderInvestigation,
            ComplaintOutcome::Unspecified,
            "",
        ),
        day(2024, 9, 10),
        None,
    )
    .unwrap();
    assert_eq!(under.status, ComplaintStatus::UnderInvestigation as i32);
    let remark = action(ActionKind::Remark, "kainuu");
    let done = step(
        &under,
        &decision(ComplaintStatus::Decided, ComplaintOutcome::Remark, "a-1"),
        day(2024, 9, 10),
        Some(&remark),
    )
    .unwrap();
    assert_eq!(done.status, ComplaintStatus::Decided as i32);
    assert_eq!(done.outcome, ComplaintOutcome::Remark as i32);
    assert_eq!(done.action_ids, ["a-1"]);
    assert_eq!(
        done.decided_on.as_ref().and_then(date_to_naive),
        Some(day(2024, 9, 10))
    );
    let statuses: Vec<_> = done.history.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            ComplaintStatus::Received as i32,
            ComplaintStatus::UnderInvestigation as i32,
            ComplaintStatus::Decided as i32
        ]
    );
    // Decided is final.
    assert!(matches!(
        step(
            &done,
            &decision(
                ComplaintStatus::UnderInvestigation,
                ComplaintOutcome::Unspecified,
                ""
            ),
            day(2024, 9, 10),
            None
        ),
        Err(Error::Precondition { .. })
    ));
}

#[test]
fn decisions_are_refused_when_their_action_does_not_carry_them() {
    let c = received();
    let today = day(2024, 9, 10);
    let try_step =
        |d: Decision, a: Option<&SupervisoryAction>| fields(step(&c, &d, today, a).unwrap_err());
    let d = |o, a: &str| decision(ComplaintStatus::Decided, o, a);
    assert_eq!(
        try_step(d(ComplaintOutcome::Unspecified, ""), None),
        ["outcome"]
    );
    assert_eq!(
        try_step(d(ComplaintOutcome::Order, ""), None),
        ["action_id"]
    );
    assert_eq!(
        try_step(d(ComplaintOutcome::Order, "a-1"), None),
        ["action_id"]
    );
    let remark = action(ActionKind::Remark, "kainuu");
    assert_eq!(
        try_step(d(ComplaintOutcome::Order, "a-1"), Some(&remark)),
        ["action_id"]
    );
    let elsewhere = action(ActionKind::Order, "helsinki");
    assert_eq!(
        try_step(d(ComplaintOutcome::Order, "a-1"), Some(&elsewhere)),
        ["action_id"]
    );
    assert_eq!(
        try_step(d(ComplaintOutcome::NoAction, "a-1"), Some(&remark)),
        ["action_id"]
    );
    let mut early = d(ComplaintOutcome::NoAction, "");
    early.on = day(2024, 9, 1);
    assert_eq!(try_step(early, None), ["on"]);
    let mut silent = decision(
        ComplaintStatus::UnderInvestigation,
        ComplaintOutcome::Unspecified,
        "",
    );
    silent.note.clear();
    assert_eq!(try_step(silent, None), ["note"]);
    let threat = action(ActionKind::OrderUnderThreat, "kainuu");
    assert!(step(&c, &d(ComplaintOutcome::Order, "a-1"), today, Some(&threat)).is_ok());
    assert!(step(&c, &d(ComplaintOutcome::Dismissed, ""), today, None).is_ok());
}

fn issued(kind: ActionKind, id: &str, on: NaiveDate) -> SupervisoryAction {
    SupervisoryAction {
        action_id: id.into(),
        kind: kind as i32,
        area_id: "kainuu".into(),
        issued_at: Some(timestamp_from(
            Utc.from_utc_datetime(&on.and_hms_opt(6, 0, 0).unwrap()),
        )),
        ..Default::default()
    }
}

#[test]
fn the_ministry_notice_lists_the_procedures_under_way_on_its_day() {
    let mut order = issued(ActionKind::Order, "order", day(2024, 9, 2));
    order.deadline = Some(date_from_naive(day(2024, 9, 30)));
    let mut threat = issued(ActionKind::OrderUnderThreat, "threat", day(2024, 9, 5));
    threat.deadline = Some(date_from_naive(day(2024, 10, 15)));
    threat.partial = true;
    let mut lifted = issued(ActionKind::Suspension, "lifted", day(2024, 9, 2));
    lifted.effective_from = Some(date_from_naive(day(2024, 9, 3)));
    let mut standing = issued(ActionKind::Suspension, "standing", day(2024, 9, 2));
    standing.effective_from = Some(date_from_naive(day(2024, 9, 10)));
    let actions = [
        StoredAction {
            action: order,
            lifted: None,
        },
        StoredAction {
            action: threat,
            lifted: None,
        },
        StoredAction {
            action: lifted,
            lifted: Some(("lift".into(), day(2024, 9, 20))),
        },
        StoredAction {
            action: standing,
            lifted: None,
        },
        StoredAction {
            action: issued(ActionKind::Remark, "remark", day(2024, 9, 2)),
            lifted: None,
        },
    ];
    let open = received();
    let mut decided = step(
        &received(),
        &decision(ComplaintStatus::Decided, ComplaintOutcome::NoAction, ""),
        day(2024, 9, 10),
        None,
    )
    .unwrap();
    decided.complaint_id = "c-2".into();
    let complaints = [open, decided];
    let ids = |on| -> Vec<(String, String)> {
        notice(on, &actions, &complaints)
            .procedures
            .into_iter()
            .map(|p| (p.kind, p.id))
            .collect()
    };
    let pair = |k: &str, id: &str| (k.to_owned(), id.to_owned());
    // Sorted by start, then id. 2.9.: the order is under way, both complaints were received, the suspensions not yet in
    // force.
    assert_eq!(
        ids(day(2024, 9, 2)),
        [
            pair("complaint", "c-1"),
            pair("complaint", "c-2"),
            pair("order", "order")
        ]
    );
    // 12.9.: the order under threat has started, both suspensions are in force, c-2 is decided.
    assert_eq!(
        ids(day(2024, 9, 12)),
        [
            pair("complaint", "c-1"),
            pair("order", "order"),
            pair("suspension", "lifted"),
            pair("order under threat of suspension", "threat"),
            pair("suspension", "standing"),
        ]
    );
    // 1.10.: the first order's deadline has passed and one suspension was lifted on 20.9.
    assert_eq!(
        ids(day(2024, 10, 1)),
        [
            pair("complaint", "c-1"),
            pair("order under threat of suspension", "threat"),
            pair("suspension", "standing"),
        ]
    );
}
