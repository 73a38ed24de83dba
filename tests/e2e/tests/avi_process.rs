//! AVI's 22 § process through gRPC, end to end: orders (to the area, to a municipality from
//! 1.6.2021 (421/2021), under threat of a whole or partial suspension), remarks, partial
//! suspensions and their lifting reaching the area; refusals that change nothing; idempotent
//! retries; complaints (kantelu) from receipt to a decision; the notice to the ministry of the
//! procedures under way. Every scenario runs on SQLite and PostgreSQL.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chrono::NaiveDate;
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction, SuspensionScope};
use kokeilu_proto::supervisor as avi;
use kokeilu_proto::trialarea as ta;
use kokeilu_proto::{date_from_naive, date_to_naive};
use kokeilu_test_support::{TestBackend, on_both_backends, wait_for};
use support::*;

on_both_backends!(
    each_action_kind_reaches_the_area_with_its_rule,
    refused_actions_and_complaints_change_nothing,
    a_retried_action_or_complaint_returns_the_first_and_is_sent_once,
    a_complaint_is_tracked_from_receipt_to_a_decision,
    the_ministry_notice_lists_the_procedures_under_way,
);

fn key() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn order(text: &str, deadline: NaiveDate) -> avi::IssueOrderRequest {
    avi::IssueOrderRequest {
        area_id: "kainuu".into(),
        text: text.into(),
        deadline: Some(date_from_naive(deadline)),
        idempotency_key: key(),
        ..Default::default()
    }
}

fn suspension(from: NaiveDate, scope: Option<SuspensionScope>) -> avi::SuspendTrialRequest {
    avi::SuspendTrialRequest {
        area_id: "kainuu".into(),
        text: "Määräystä ei noudatettu määräajassa.".into(),
        effective_from: Some(date_from_naive(from)),
        partial: scope.is_some(),
        scope,
        idempotency_key: key(),
        ..Default::default()
    }
}

fn lift(suspension: &str, from: NaiveDate) -> avi::LiftSuspensionRequest {
    avi::LiftSuspensionRequest {
        area_id: "kainuu".into(),
        suspension_action_id: suspension.into(),
        effective_from: Some(date_from_naive(from)),
        text: "Puutteet on korjattu.".into(),
        idempotency_key: key(),
    }
}

fn complaint(summary: &str, on: NaiveDate) -> avi::ReceiveComplaintRequest {
    avi::ReceiveComplaintRequest {
        area_id: "kainuu".into(),
        municipality_code: "578".into(),
        received_on: Some(date_from_naive(on)),
        summary: summary.into(),
        idempotency_key: key(),
        ..Default::default()
    }
}

fn under_30_in_kajaani() -> SuspensionScope {
    SuspensionScope {
        client_groups: vec!["under_30".into()],
        municipality_codes: vec!["205".into()],
        statement_subjects: Vec::new(),
    }
}

/// The actions the area has received from AVI, once it has at least `n`.
async fn area_actions(sys: &InProcess, n: usize) -> Vec<SupervisoryAction> {
    wait_for(
        &format!("the area to receive {n} actions"),
        Duration::from_secs(30),
        || async {
            let a = sys
                .area("kainuu")
                .await
                .list_supervisory_actions(ta::ListSupervisoryActionsRequest {
                    area_id: "kainuu".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .actions;
            (a.len() >= n).then_some(a)
        },
    )
    .await
}

/// Rows of the supervisor's tables that a refused call must not touch.
async fn footprint(sys: &InProcess) -> [i64; 4] {
    let db = &sys.supervisor.db;
    [
        count(db, "actions").await,
        count(db, "complaints").await,
        count(db, "outbox").await,
        count(db, "idempotency").await,
    ]
}

async fn each_action_kind_reaches_the_area_with_its_rule(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let mut c = sys.avi().await;
    // An order to the area, and one to Paltamo (578), a municipality of Kainuu.
    let to_area = c
        .issue_order(order("Alkuhaastattelut viivästyvät.", day(2024, 10, 1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(to_area.kind, ActionKind::Order as i32);
    assert!(to_area.rule.contains("22 §"), "{}", to_area.rule);
    let to_paltamo = c
        .issue_order(avi::IssueOrderRequest {
            municipality_code: "578".into(),
            ..order("Paltamon asiakkaiden alkuhaastattelut.", day(2024, 10, 1))
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(to_paltamo.municipality_code, "578");
    assert!(to_paltamo.rule.contains("421/2021"), "{}", to_paltamo.rule);
    // Under threat of a partial suspension (under-30s in Kajaani).
    let threat = c
        .issue_order(avi::IssueOrderRequest {
            threat: Some(avi::SuspensionThreat {
                partial: true,
                scope: Some(under_30_in_kajaani()),
            }),
            ..order("Korjattava uhalla.", day(2024, 10, 15))
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(threat.kind, ActionKind::OrderUnderThreat as i32);
    assert!(threat.partial);
    assert_eq!(threat.scope.as_ref().unwrap().client_groups, ["under_30"]);
    let remark = c
        .issue_remark(avi::IssueRemarkRequest {
            area_id: "kainuu".into(),
            text: "Kirjaukset puutteellisia.".into(),
            municipality_code: "205".into(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(remark.kind, ActionKind::Remark as i32);
    let suspended = c
        .suspend_trial(suspension(day(2024, 9, 3), Some(under_30_in_kajaani())))
        .await
        .unwrap()
        .into_inner();
    assert!(suspended.partial);
    assert_eq!(
        suspended.scope.as_ref().unwrap().municipality_codes,
        ["205"]
    );
    let lifted = c
        .lift_suspension(lift(&suspended.action_id, day(2024, 10, 1)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lifted.kind, ActionKind::LiftSuspension as i32);
    assert_eq!(lifted.lifts_action_id, suspended.action_id);
    assert_eq!(
        lifted.effective_from.as_ref().and_then(date_to_naive),
        Some(day(2024, 10, 1))
    );
    // A suspension is lifted once.
    let again = c
        .lift_suspension(lift(&suspended.action_id, day(2024, 10, 2)))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    assert!(
        again.message().contains(&lifted.action_id),
        "{}",
        again.message()
    );
    // Every action reached the area as AVI issued it, each with its rule.
    let sent = [&to_area, &to_paltamo, &threat, &remark, &suspended, &lifted];
    let received = area_actions(&sys, sent.len()).await;
    for a in sent {
        assert!(!a.rule.is_empty(), "{a:?}");
        let at_area = received
            .iter()
            .find(|r| r.action_id == a.action_id)
            .unwrap_or_else(|| panic!("{} did not reach the area", a.action_id));
        assert_eq!((at_area.kind, &at_area.rule), (a.kind, &a.rule));
    }
    let listed = c
        .list_actions(avi::ListActionsRequest {
            area_id: "kainuu".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert_eq!(listed.len(), sent.len());
    sys.stop().await;
}

async fn refused_actions_and_complaints_change_nothing(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let mut c = sys.avi().await;
    let suspended = c
        .suspend_trial(suspension(day(2024, 9, 10), None))
        .await
        .unwrap()
        .into_inner();
    let before = footprint(&sys).await;
    let invalid = |field: &'static str| {
        move |e: tonic::Status| {
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{field}: {e:?}");
            assert!(e.message().contains(field), "{field}: {}", e.message());
        }
    };
    let no_key = avi::IssueOrderRequest {
        idempotency_key: String::new(),
        ..order("x", day(2024, 10, 1))
    };
    invalid("idempotency_key")(c.issue_order(no_key).await.unwrap_err());
    invalid("deadline")(
        c.issue_order(order("x", day(2024, 9, 2)))
            .await
            .unwrap_err(),
    );
    invalid("municipality_code")(
        c.issue_order(avi::IssueOrderRequest {
            municipality_code: "091".into(),
            ..order("x", day(2024, 10, 1))
        })
        .await
        .unwrap_err(),
    );
    invalid("threat.scope.client_groups")(
        c.issue_order(avi::IssueOrderRequest {
            threat: Some(avi::SuspensionThreat {
                partial: true,
                scope: Some(SuspensionScope {
                    client_groups: vec!["tall".into()],
                    ..Default::default()
                }),
            }),
            ..order("x", day(2024, 10, 1))
        })
        .await
        .unwrap_err(),
    );
    invalid("scope")(
        c.suspend_trial(suspension(
            day(2024, 9, 10),
            Some(SuspensionScope::default()),
        ))
        .await
        .unwrap_err(),
    );
    invalid("effective_from")(
        c.lift_suspension(lift(&suspended.action_id, day(2024, 9, 9)))
            .await
            .unwrap_err(),
    );
    invalid("complaint_id")(
        c.issue_remark(avi::IssueRemarkRequest {
            area_id: "kainuu".into(),
            text: "x".into(),
            complaint_id: uuid::Uuid::now_v7().to_string(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    );
    invalid("summary")(
        c.receive_complaint(complaint(
            "Asiakas 131052-308T ei saanut aikaa.",
            day(2024, 9, 2),
        ))
        .await
        .unwrap_err(),
    );
    invalid("summary")(
        c.receive_complaint(complaint(&"x".repeat(2001), day(2024, 9, 2)))
            .await
            .unwrap_err(),
    );
    invalid("received_on")(
        c.receive_complaint(complaint("x", day(2024, 9, 3)))
            .await
            .unwrap_err(),
    );
    // Lifting what is not a suspension of the area.
    let not_suspension = c
        .lift_suspension(lift(&uuid::Uuid::now_v7().to_string(), day(2024, 9, 20)))
        .await
        .unwrap_err();
    assert_eq!(not_suspension.code(), tonic::Code::FailedPrecondition);
    let unknown = c
        .decide_complaint(avi::DecideComplaintRequest {
            complaint_id: uuid::Uuid::now_v7().to_string(),
            status: avi::ComplaintStatus::UnderInvestigation as i32,
            note: "x".into(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert_eq!(
        footprint(&sys).await,
        before,
        "a refused call changed something"
    );
    // Before 1.6.2021 an order goes to the area, not to a municipality (421/2021).
    set_day(&sys, day(2021, 5, 3));
    let early = c
        .issue_order(avi::IssueOrderRequest {
            municipality_code: "578".into(),
            ..order("x", day(2021, 6, 30))
        })
        .await
        .unwrap_err();
    assert_eq!(early.code(), tonic::Code::FailedPrecondition);
    assert!(
        early.message().contains("2021-06-01") && early.message().contains("421/2021"),
        "{}",
        early.message()
    );
    assert_eq!(
        footprint(&sys).await,
        before,
        "a refused call changed something"
    );
    let to_area = c
        .issue_order(order("x", day(2021, 6, 30)))
        .await
        .unwrap()
        .into_inner();
    assert!(to_area.municipality_code.is_empty());
    sys.stop().await;
}

async fn a_retried_action_or_complaint_returns_the_first_and_is_sent_once(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let mut c = sys.avi().await;
    let request = order("Alkuhaastattelut viivästyvät.", day(2024, 10, 1));
    let first = c.issue_order(request.clone()).await.unwrap().into_inner();
    let retry = c.issue_order(request.clone()).await.unwrap().into_inner();
    assert_eq!(retry, first);
    // The same key for another request is refused.
    let reused = c
        .issue_order(avi::IssueOrderRequest {
            text: "Toinen määräys.".into(),
            ..request
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), tonic::Code::FailedPrecondition);
    assert!(
        reused.message().contains("idempotency key"),
        "{}",
        reused.message()
    );
    let suspend = suspension(day(2024, 9, 3), None);
    let s1 = c.suspend_trial(suspend.clone()).await.unwrap().into_inner();
    let s2 = c.suspend_trial(suspend).await.unwrap().into_inner();
    assert_eq!(s1.action_id, s2.action_id);
    let l = lift(&s1.action_id, day(2024, 9, 20));
    let l1 = c.lift_suspension(l.clone()).await.unwrap().into_inner();
    // The retry replays the first lifting instead of refusing "already lifted".
    let l2 = c.lift_suspension(l).await.unwrap().into_inner();
    assert_eq!(l1.action_id, l2.action_id);
    let receive = complaint("Alkuhaastattelua ei järjestetty.", day(2024, 9, 2));
    let c1 = c
        .receive_complaint(receive.clone())
        .await
        .unwrap()
        .into_inner();
    let c2 = c.receive_complaint(receive).await.unwrap().into_inner();
    assert_eq!(c1, c2);
    let investigate = avi::DecideComplaintRequest {
        complaint_id: c1.complaint_id.clone(),
        status: avi::ComplaintStatus::UnderInvestigation as i32,
        note: "Pyydetään selvitys.".into(),
        on: Some(date_from_naive(day(2024, 9, 2))),
        idempotency_key: key(),
        ..Default::default()
    };
    let d1 = c
        .decide_complaint(investigate.clone())
        .await
        .unwrap()
        .into_inner();
    let d2 = c.decide_complaint(investigate).await.unwrap().into_inner();
    assert_eq!(d1, d2);
    assert_eq!(d2.history.len(), 2, "the retry added no step");
    // Three actions stored and sent once each; one complaint.
    let db = &sys.supervisor.db;
    assert_eq!(count(db, "actions").await, 3);
    assert_eq!(count(db, "outbox").await, 3);
    assert_eq!(count(db, "complaints").await, 1);
    assert_eq!(area_actions(&sys, 3).await.len(), 3);
    sys.stop().await;
}

async fn a_complaint_is_tracked_from_receipt_to_a_decision(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu", "helsinki"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let mut c = sys.avi().await;
    let received = c
        .receive_complaint(avi::ReceiveComplaintRequest {
            referral_ids: vec![uuid::Uuid::now_v7().to_string()],
            ..complaint(
                "Alkuhaastattelua ei järjestetty kahteen kuukauteen.",
                day(2024, 9, 2),
            )
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(received.status, avi::ComplaintStatus::Received as i32);
    assert_eq!(received.municipality_code, "578");
    let other = c
        .receive_complaint(avi::ReceiveComplaintRequest {
            area_id: "helsinki".into(),
            municipality_code: String::new(),
            ..complaint("Helsingin asia.", day(2024, 9, 2))
        })
        .await
        .unwrap()
        .into_inner();
    set_day(&sys, day(2024, 9, 5));
    let step =
        |status: avi::ComplaintStatus, outcome, action_id: &str| avi::DecideComplaintRequest {
            complaint_id: received.complaint_id.clone(),
            status: status as i32,
            outcome: outcome as i32,
            note: "Pyydetty selvitys kunnalta.".into(),
            action_id: action_id.into(),
            idempotency_key: key(),
            ..Default::default()
        };
    let investigating = c
        .decide_complaint(step(
            avi::ComplaintStatus::UnderInvestigation,
            avi::ComplaintOutcome::Unspecified,
            "",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        investigating.status,
        avi::ComplaintStatus::UnderInvestigation as i32
    );
    // The remark that follows from the complaint names it, and the complaint lists it.
    let remark = c
        .issue_remark(avi::IssueRemarkRequest {
            area_id: "kainuu".into(),
            text: "Alkuhaastattelut on järjestettävä ajallaan.".into(),
            municipality_code: "578".into(),
            complaint_id: received.complaint_id.clone(),
            idempotency_key: key(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(remark.complaint_id, received.complaint_id);
    // A remark to another area's complaint is refused.
    let crossed = c
        .issue_remark(avi::IssueRemarkRequest {
            area_id: "kainuu".into(),
            text: "x".into(),
            complaint_id: other.complaint_id.clone(),
            idempotency_key: key(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(crossed.code(), tonic::Code::InvalidArgument);
    // An ORDER outcome must name an order: the remark does not carry it.
    let wrong = c
        .decide_complaint(step(
            avi::ComplaintStatus::Decided,
            avi::ComplaintOutcome::Order,
            &remark.action_id,
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::InvalidArgument);
    let decided = c
        .decide_complaint(step(
            avi::ComplaintStatus::Decided,
            avi::ComplaintOutcome::Remark,
            &remark.action_id,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.status, avi::ComplaintStatus::Decided as i32);
    assert_eq!(decided.outcome, avi::ComplaintOutcome::Remark as i32);
    assert_eq!(decided.action_ids, std::slice::from_ref(&remark.action_id));
    assert_eq!(
        decided.decided_on.as_ref().and_then(date_to_naive),
        Some(day(2024, 9, 5))
    );
    let history: Vec<_> = decided.history.iter().map(|s| s.status).collect();
    assert_eq!(
        history,
        [
            avi::ComplaintStatus::Received as i32,
            avi::ComplaintStatus::UnderInvestigation as i32,
            avi::ComplaintStatus::Decided as i32,
        ]
    );
    // Decided is final.
    let reopened = c
        .decide_complaint(step(
            avi::ComplaintStatus::UnderInvestigation,
            avi::ComplaintOutcome::Unspecified,
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(reopened.code(), tonic::Code::FailedPrecondition);
    let got = c
        .get_complaint(avi::GetComplaintRequest {
            complaint_id: received.complaint_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, decided);
    // Listed by area and status, newest first, one page at a time.
    let list =
        |area: &str, status: avi::ComplaintStatus, page_token: String| avi::ListComplaintsRequest {
            area_id: area.into(),
            status: status as i32,
            page_size: 1,
            page_token,
        };
    let page = c
        .list_complaints(list("", avi::ComplaintStatus::Unspecified, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.complaints[0].complaint_id, other.complaint_id);
    let next = c
        .list_complaints(list(
            "",
            avi::ComplaintStatus::Unspecified,
            page.next_page_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.complaints[0].complaint_id, received.complaint_id);
    let open_in_kainuu = c
        .list_complaints(list(
            "kainuu",
            avi::ComplaintStatus::Received,
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(open_in_kainuu.complaints.is_empty());
    let decided_in_kainuu = c
        .list_complaints(list("kainuu", avi::ComplaintStatus::Decided, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided_in_kainuu.complaints, [decided]);
    sys.stop().await;
}

async fn the_ministry_notice_lists_the_procedures_under_way(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let mut c = sys.avi().await;
    let plain = c
        .issue_order(order("Korjattava.", day(2024, 9, 20)))
        .await
        .unwrap()
        .into_inner();
    let threat = c
        .issue_order(avi::IssueOrderRequest {
            threat: Some(avi::SuspensionThreat::default()),
            ..order("Korjattava uhalla.", day(2024, 10, 31))
        })
        .await
        .unwrap()
        .into_inner();
    let suspended = c
        .suspend_trial(suspension(day(2024, 9, 3), Some(under_30_in_kajaani())))
        .await
        .unwrap()
        .into_inner();
    let received = c
        .receive_complaint(complaint("Kantelu viiveistä.", day(2024, 9, 2)))
        .await
        .unwrap()
        .into_inner();
    c.lift_suspension(lift(&suspended.action_id, day(2024, 10, 1)))
        .await
        .unwrap();
    set_day(&sys, day(2024, 10, 10));
    c.decide_complaint(avi::DecideComplaintRequest {
        complaint_id: received.complaint_id.clone(),
        status: avi::ComplaintStatus::Decided as i32,
        outcome: avi::ComplaintOutcome::NoAction as i32,
        on: Some(date_from_naive(day(2024, 10, 8))),
        note: "Ei lainvastaista menettelyä.".into(),
        idempotency_key: key(),
        ..Default::default()
    })
    .await
    .unwrap();
    let notice = |on: Option<NaiveDate>| {
        let mut c = c.clone();
        async move {
            c.get_ministry_notice(avi::GetMinistryNoticeRequest {
                date: on.map(date_from_naive),
            })
            .await
            .unwrap()
            .into_inner()
            .procedures
            .into_iter()
            .map(|p| (p.kind, p.id))
            .collect::<Vec<_>>()
        }
    };
    let p = |kind: &str, id: &str| (kind.to_owned(), id.to_owned());
    // 5.9.: both orders run, the partial suspension is in force, the complaint is open (sorted
    // by start, then id: the ids grow in the order they were given).
    assert_eq!(
        notice(Some(day(2024, 9, 5))).await,
        [
            p("order", &plain.action_id),
            p("order under threat of suspension", &threat.action_id),
            p("complaint", &received.complaint_id),
            p("suspension", &suspended.action_id),
        ]
    );
    // Today (10.10.): the first order's deadline has passed, the suspension was lifted on 1.10.
    // and the complaint decided on 8.10.
    assert_eq!(
        notice(None).await,
        [p("order under threat of suspension", &threat.action_id)]
    );
    let future = c
        .get_ministry_notice(avi::GetMinistryNoticeRequest {
            date: Some(date_from_naive(day(2024, 10, 11))),
        })
        .await
        .unwrap_err();
    assert_eq!(future.code(), tonic::Code::InvalidArgument);
    sys.stop().await;
}
