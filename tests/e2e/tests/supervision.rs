//! AVI's supervision end to end: deadlines tracked on an injectable clock, compliance events
//! raised exactly once, a resumable subscription, nothing identifying in routine supervision
//! traffic, suspensions, information requests, transfers and the open statistics. Every scenario
//! runs on SQLite and PostgreSQL.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chrono::NaiveDate;
use futures::StreamExt;
use kokeilu_proto::supervision::{ComplianceEvent, ComplianceKind, DeadlineKind};
use kokeilu_proto::supervisor as avi;
use kokeilu_proto::teoffice as te;
use kokeilu_proto::trialarea as ta;
use kokeilu_proto::{date_from_naive, subjects};
use kokeilu_test_support::{TestBackend, on_both_backends, wait_for};
use sqlx::Row;
use support::*;

on_both_backends!(
    an_unacknowledged_referral_is_overdue_once_on_the_right_working_day,
    an_initial_interview_on_day_6_is_overdue_then_met_late,
    statements_in_time_raise_nothing_and_outside_competence_is_flagged,
    a_resuming_subscriber_receives_every_event_exactly_once,
    a_suspension_stops_new_referrals_and_keeps_existing_clients,
    information_requests_are_the_logged_path_for_identifying_details,
    a_transfer_closes_what_was_not_yet_due_and_ends_recording,
    open_statistics_suppress_small_counts,
    no_identity_code_reaches_avi_in_routine_traffic,
    half_yearly_discussions_count_only_in_their_month,
);

async fn all_events(sys: &InProcess) -> Vec<ComplianceEvent> {
    sys.avi()
        .await
        .list_compliance_events(avi::ListComplianceEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events
}

fn of(events: &[ComplianceEvent], referral: &str) -> Vec<(i32, i32)> {
    events
        .iter()
        .filter(|e| e.referral_id == referral)
        .map(|e| (e.kind, e.deadline))
        .collect()
}

async fn supervisor_count(sys: &InProcess, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(sys.supervisor.db.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// Waits until AVI's supervisor has the case of `id` (matching `and`, an SQL condition on
/// `cases` starting with " AND", or "").
async fn wait_case(sys: &InProcess, id: &str, and: &str) {
    let sql = format!("SELECT COUNT(*) FROM cases WHERE referral_id = $1{and}");
    wait_for(
        &format!("AVI to know referral {id}{and}"),
        Duration::from_secs(30),
        || {
            let sql = sql.clone();
            async move {
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_one(sys.supervisor.db.pool())
                    .await
                    .ok()?;
                (row.try_get::<i64, _>(0).ok()? == 1).then_some(())
            }
        },
    )
    .await;
}

/// A service event at kainuu.
fn event(id: &str, kind: ta::ServiceEventKind, on: NaiveDate) -> ta::RecordServiceEventRequest {
    ta::RecordServiceEventRequest {
        area_id: "kainuu".into(),
        referral_id: id.to_owned(),
        kind: kind as i32,
        date: Some(date_from_naive(on)),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    }
}

/// Records a service event at kainuu.
async fn record(sys: &InProcess, id: &str, kind: ta::ServiceEventKind, on: NaiveDate) {
    sys.area("kainuu")
        .await
        .record_service_event(event(id, kind, on))
        .await
        .unwrap();
}

/// Submits a referral for person `n` (Kajaani, job search from `start`) and waits until AVI has
/// its case.
async fn referred(sys: &InProcess, n: u32, start: NaiveDate) -> String {
    let mut req = referral(n, "205");
    req.jobseeker.as_mut().unwrap().job_search_start_date = Some(date_from_naive(start));
    let id = sys
        .te()
        .await
        .submit_referral(req)
        .await
        .unwrap()
        .into_inner()
        .referral_id;
    wait_case(sys, &id, "").await;
    id
}

async fn acknowledged(sys: &InProcess, id: &str) {
    let mut te = sys.te().await;
    wait_status(&mut te, id, te::ReferralStatus::Delivered).await;
    sys.area("kainuu")
        .await
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: "kainuu".into(),
            referral_id: id.to_owned(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    wait_case(sys, id, " AND acknowledged_on IS NOT NULL").await;
}

async fn an_unacknowledged_referral_is_overdue_once_on_the_right_working_day(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    // Friday 30.8.2024: acknowledgement due in 2 working days = Tuesday 3.9 (the weekend
    // does not count); the initial interview (job search from 30.8) is due Friday 6.9.
    set_day(&sys, day(2024, 8, 30));
    let id = referred(&sys, 1, day(2024, 8, 30)).await;
    let ack_overdue = (
        ComplianceKind::DeadlineMissed as i32,
        DeadlineKind::Acknowledgement as i32,
    );
    for d in [
        day(2024, 8, 31),
        day(2024, 9, 1),
        day(2024, 9, 2),
        day(2024, 9, 3),
    ] {
        set_day(&sys, d);
        assert_eq!(
            sys.sweeper.run_now().await.unwrap(),
            0,
            "nothing is overdue on {d}"
        );
    }
    set_day(&sys, day(2024, 9, 4));
    assert_eq!(sys.sweeper.run_now().await.unwrap(), 1);
    for d in [day(2024, 9, 4), day(2024, 9, 5)] {
        set_day(&sys, d);
        assert_eq!(sys.sweeper.run_now().await.unwrap(), 0, "raised once only");
    }
    let events = all_events(&sys).await;
    assert_eq!(of(&events, &id), [ack_overdue]);
    assert_eq!(events[0].due_date, Some(date_from_naive(day(2024, 9, 3))));
    assert!(events[0].client_pseudonym.len() == 64);
    sys.stop().await;
}

async fn an_initial_interview_on_day_6_is_overdue_then_met_late(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let id = referred(&sys, 2, day(2024, 9, 2)).await;
    acknowledged(&sys, &id).await;
    // Job search from Monday 2.9: the initial interview is due Monday 9.9 (5 working days).
    set_day(&sys, day(2024, 9, 9));
    assert_eq!(sys.sweeper.run_now().await.unwrap(), 0);
    // Day 6: Tuesday 10.9.
    set_day(&sys, day(2024, 9, 10));
    assert_eq!(sys.sweeper.run_now().await.unwrap(), 1);
    record(
        &sys,
        &id,
        ta::ServiceEventKind::InitialInterview,
        day(2024, 9, 10),
    )
    .await;
    let interview = DeadlineKind::InitialInterview as i32;
    let events = wait_for("the met-late event", Duration::from_secs(30), || async {
        let e = all_events(&sys).await;
        (of(&e, &id).len() == 2).then_some(e)
    })
    .await;
    assert_eq!(
        of(&events, &id),
        [
            (ComplianceKind::DeadlineMissed as i32, interview),
            (ComplianceKind::DeadlineMetLate as i32, interview)
        ]
    );
    sys.stop().await;
}

async fn statements_in_time_raise_nothing_and_outside_competence_is_flagged(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let id = referred(&sys, 3, day(2024, 9, 2)).await;
    acknowledged(&sys, &id).await;
    set_day(&sys, day(2024, 9, 5));
    let mut area = sys.area("kainuu").await;
    let statement = |subject: &str| ta::IssueStatementRequest {
        area_id: "kainuu".into(),
        referral_id: id.clone(),
        subject: subject.into(),
        information_received_date: Some(date_from_naive(day(2024, 9, 2))),
        date: Some(date_from_naive(day(2024, 9, 5))),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    };
    let ok = area
        .issue_statement(statement("general_conditions"))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.within_competence);
    wait_for(
        "AVI to record the statement",
        Duration::from_secs(30),
        || async {
            (supervisor_count(
                &sys,
                "SELECT COUNT(*) FROM deadlines WHERE kind = 5 AND status = 2",
            )
            .await
                == 1)
                .then_some(())
        },
    )
    .await;
    assert!(
        of(&all_events(&sys).await, &id).is_empty(),
        "a statement in time raises nothing"
    );

    // Labour-market training stays with the TE office (1269/2020 12 §).
    let outside = area
        .issue_statement(statement("labour_market_training"))
        .await
        .unwrap()
        .into_inner();
    assert!(!outside.within_competence);
    let events = wait_for("the competence event", Duration::from_secs(30), || async {
        let e = all_events(&sys).await;
        (!of(&e, &id).is_empty()).then_some(e)
    })
    .await;
    assert_eq!(
        of(&events, &id),
        [(ComplianceKind::StatementOutsideCompetence as i32, 0)]
    );
    sys.stop().await;
}

async fn a_resuming_subscriber_receives_every_event_exactly_once(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    for n in 10..16 {
        referred(&sys, n, day(2024, 9, 2)).await;
    }
    let mut client = sys.avi().await;
    let subscribe = |after: String| avi::SubscribeComplianceEventsRequest {
        area_id: "kainuu".into(),
        kinds: vec![],
        after_cursor: after,
    };
    let mut stream = client
        .subscribe_compliance_events(subscribe("0".into()))
        .await
        .unwrap()
        .into_inner();
    // Wave 1: six acknowledgements overdue on Thursday 5.9.
    set_day(&sys, day(2024, 9, 5));
    assert_eq!(sys.sweeper.run_now().await.unwrap(), 6);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(stream.next().await.unwrap().unwrap());
    }
    drop(stream);
    // Wave 2 while disconnected: six initial interviews overdue on Tuesday 10.9.
    set_day(&sys, day(2024, 9, 10));
    assert_eq!(sys.sweeper.run_now().await.unwrap(), 6);
    let cursor = seen.last().unwrap().cursor.clone();
    let mut stream = client
        .subscribe_compliance_events(subscribe(cursor))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..8 {
        seen.push(stream.next().await.unwrap().unwrap());
    }
    let all = all_events(&sys).await;
    assert_eq!(all.len(), 12);
    let ids = |v: &[ComplianceEvent]| v.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&seen), ids(&all), "every event once, in order");
    // Nothing more is pending.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), stream.next())
            .await
            .is_err(),
        "no event twice"
    );
    sys.stop().await;
}

async fn no_identity_code_reaches_avi_in_routine_traffic(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let mut codes = Vec::new();
    let mut ids = Vec::new();
    for n in 20..24 {
        codes.push(person(n).expose().to_owned());
        ids.push(referred(&sys, n, day(2024, 9, 2)).await);
    }
    acknowledged(&sys, &ids[0]).await;
    acknowledged(&sys, &ids[1]).await;
    let mut area = sys.area("kainuu").await;
    record(
        &sys,
        &ids[0],
        ta::ServiceEventKind::InitialInterview,
        day(2024, 9, 2),
    )
    .await;
    area.issue_statement(ta::IssueStatementRequest {
        area_id: "kainuu".into(),
        referral_id: ids[1].clone(),
        subject: "labour_market_training".into(),
        information_received_date: Some(date_from_naive(day(2024, 9, 2))),
        date: Some(date_from_naive(day(2024, 9, 2))),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    })
    .await
    .unwrap();
    let mut te = sys.te().await;
    wait_status(&mut te, &ids[2], te::ReferralStatus::Delivered).await;
    area.reject_referral(ta::RejectReferralRequest {
        area_id: "kainuu".into(),
        referral_id: ids[2].clone(),
        reason: 2,
        detail: "ei kohderyhmässä".into(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    })
    .await
    .unwrap();
    set_day(&sys, day(2024, 9, 12));
    sys.sweeper.run_now().await.unwrap();
    // Every fact has been applied and every event published.
    wait_for(
        "AVI to apply every fact",
        Duration::from_secs(30),
        || async {
            let js = sys.js().await;
            let facts = stream_messages(&js, subjects::SUPERVISION_STREAM).await;
            let inbox = supervisor_count(&sys, "SELECT COUNT(*) FROM inbox").await;
            let unsent =
                supervisor_count(&sys, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await;
            // 4 issued + 2 acknowledged + 1 interview + 1 statement + 1 rejected.
            (facts == 13 && inbox == 13 && unsent == 0).then_some(())
        },
    )
    .await;

    let leaks = |bytes: &[u8]| {
        kokeilu_platform::privacy::contains_identity_code(bytes)
            || codes
                .iter()
                .any(|c| bytes.windows(c.len()).any(|w| w == c.as_bytes()))
    };
    // Every message on the supervision and compliance subjects.
    let js = sys.js().await;
    let mut scanned = 0;
    for stream_name in [subjects::SUPERVISION_STREAM, subjects::COMPLIANCE_STREAM] {
        let stream = js.get_stream(stream_name).await.unwrap();
        let n = stream_messages(&js, stream_name).await;
        assert!(n > 0);
        for seq in 1..=n {
            let m = stream.get_raw_message(seq).await.unwrap();
            assert!(
                !leaks(&m.payload),
                "{stream_name} message {seq} carries an identity code"
            );
            scanned += 1;
        }
    }
    // Every row of every table of AVI's database.
    // The migration ledgers (the service's and the bus's) hold only the schema's SQL (and a
    // datetime column the Any driver cannot decode).
    let catalogue = match backend {
        TestBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT IN ('_sqlx_migrations', '_kokeilu_bus_migrations')"
        }
        TestBackend::Postgres => {
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() \
             AND tablename NOT IN ('_sqlx_migrations', '_kokeilu_bus_migrations')"
        }
    };
    let tables: Vec<String> = sqlx::query(catalogue)
        .fetch_all(sys.supervisor.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("name").unwrap())
        .collect();
    assert!(tables.contains(&"cases".to_owned()) && tables.contains(&"outbox".to_owned()));
    let mut rows_scanned = 0;
    for table in &tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
            .fetch_all(sys.supervisor.db.pool())
            .await
            .unwrap();
        for row in &rows {
            for i in 0..row.len() {
                let text = row
                    .try_get::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .map(String::into_bytes)
                    .or_else(|| row.try_get::<Option<Vec<u8>>, _>(i).ok().flatten())
                    .unwrap_or_default();
                assert!(!leaks(&text), "{table} carries an identity code");
            }
            rows_scanned += 1;
        }
    }
    assert!(
        scanned >= 9 && rows_scanned >= 20,
        "{scanned} messages, {rows_scanned} rows"
    );
    sys.stop().await;
}

async fn a_suspension_stops_new_referrals_and_keeps_existing_clients(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu", "helsinki"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let existing = referred(&sys, 30, day(2024, 9, 2)).await;
    acknowledged(&sys, &existing).await;
    sys.avi()
        .await
        .suspend_trial(avi::SuspendTrialRequest {
            area_id: "kainuu".into(),
            text: "Olennaisia puutteita palveluprosessissa; määräystä ei noudatettu.".into(),
            effective_from: Some(date_from_naive(day(2024, 9, 3))),
            partial: false,
            idempotency_key: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    wait_for(
        "te-office to record the suspension",
        Duration::from_secs(30),
        || async { (count(&sys.te_office.db, "suspensions").await == 1).then_some(()) },
    )
    .await;
    let mut te = sys.te().await;
    // Before the effective date referrals still go to the area.
    let before = te
        .submit_referral(referral(31, "205"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.area_id, "kainuu");
    set_day(&sys, day(2024, 9, 3));
    let err = te.submit_referral(referral(32, "205")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("suspended"), "{}", err.message());
    // Other areas are unaffected; existing clients keep their data.
    let helsinki = te
        .submit_referral(referral(33, "091"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(helsinki.area_id, "helsinki");
    let r = te
        .get_referral(te::GetReferralRequest {
            referral_id: existing.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, te::ReferralStatus::Acknowledged as i32);
    let at_area = sys
        .area("kainuu")
        .await
        .get_incoming_referral(ta::GetIncomingReferralRequest {
            area_id: "kainuu".into(),
            referral_id: existing,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(at_area.status, ta::IncomingStatus::Acknowledged as i32);
    // The area sees the suspension among AVI's actions.
    let actions = wait_for(
        "the area to receive the action",
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
            (!a.is_empty()).then_some(a)
        },
    )
    .await;
    assert_eq!(
        actions[0].kind,
        kokeilu_proto::supervision::ActionKind::Suspension as i32
    );
    sys.stop().await;
}

async fn information_requests_are_the_logged_path_for_identifying_details(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let id = referred(&sys, 40, day(2024, 9, 2)).await;
    acknowledged(&sys, &id).await;
    let mut avi_client = sys.avi().await;
    let action = avi_client
        .request_information(avi::RequestInformationRequest {
            area_id: "kainuu".into(),
            referral_ids: vec![id.clone()],
            purpose: "Kantelu 2024/123: alkuhaastattelun viive".into(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut area = sys.area("kainuu").await;
    wait_for(
        "the area to receive the request",
        Duration::from_secs(30),
        || {
            let mut area = area.clone();
            async move {
                let a = area
                    .list_supervisory_actions(ta::ListSupervisoryActionsRequest {
                        area_id: "kainuu".into(),
                        ..Default::default()
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .actions;
                (!a.is_empty()).then_some(())
            }
        },
    )
    .await;
    let answered = area
        .answer_information_request(ta::AnswerInformationRequestRequest {
            area_id: "kainuu".into(),
            action_id: action.action_id.clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answered.records, 1);
    let answer = wait_for("AVI to receive the answer", Duration::from_secs(30), || {
        let mut c = avi_client.clone();
        let action_id = action.action_id.clone();
        async move {
            c.get_information_answer(avi::GetInformationAnswerRequest { action_id })
                .await
                .ok()
                .map(|r| r.into_inner())
        }
    })
    .await;
    assert_eq!(answer.records[0].henkilotunnus, person(40).expose());
    assert_eq!(answer.records[0].referral_id, id);
    // Requested, received and read: all logged.
    assert!(supervisor_count(&sys, "SELECT COUNT(*) FROM access_log").await >= 3);
    sys.stop().await;
}

async fn open_statistics_suppress_small_counts(backend: TestBackend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    set_day(&sys, day(2024, 9, 2));
    let mut ids = Vec::new();
    for n in 50..56 {
        ids.push(referred(&sys, n, day(2024, 9, 2)).await);
    }
    acknowledged(&sys, &ids[0]).await;
    let get = |path: &'static str| {
        let addr = sys.stats_url.trim_start_matches("http://").to_owned();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: avi\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    // September is still open: nothing of it is published.
    let csv = get("/stats/monthly.csv").await;
    assert!(csv.starts_with("HTTP/1.1 200"), "{csv}");
    assert!(!csv.contains("kainuu,2024-09"), "{csv}");
    // Once it has closed, it is; the one acknowledgement is suppressed.
    set_day(&sys, day(2024, 10, 1));
    let csv = get("/stats/monthly.csv").await;
    assert!(csv.contains("kainuu,2024-09,6,..,0,0,"), "{csv}");
    let report = get("/reports/area/kainuu").await;
    assert!(report.contains("\"municipality\":\"Kajaani\""), "{report}");
    assert!(report.contains("\"referrals\":6"), "{report}");
    assert!(
        get("/reports/area/atlantis")
            .await
            .starts_with("HTTP/1.1 404")
    );
    sys.stop().await;
}

async fn a_transfer_closes_what_was_not_yet_due_and_ends_recording(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    // Job search from Monday 26.8, received that day: initial interview due Monday 2.9, before
    // the transfer.
    set_day(&sys, day(2024, 8, 26));
    let earlier = referred(&sys, 41, day(2024, 8, 26)).await;
    acknowledged(&sys, &earlier).await;
    set_day(&sys, day(2024, 9, 2));
    // Job search from Monday 2.9: initial interview due Monday 9.9, after the transfer.
    let later = referred(&sys, 40, day(2024, 9, 2)).await;
    acknowledged(&sys, &later).await;
    set_day(&sys, day(2024, 9, 4));
    let mut area = sys.area("kainuu").await;
    let transfer = |id: &str, destination: &str| ta::TransferClientRequest {
        area_id: "kainuu".into(),
        referral_id: id.to_owned(),
        destination: destination.into(),
        date: Some(date_from_naive(day(2024, 9, 4))),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    };
    let bad = area
        .transfer_client(transfer(&later, "nowhere"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let own = area
        .transfer_client(transfer(&later, "kainuu"))
        .await
        .unwrap_err();
    assert_eq!(own.code(), tonic::Code::InvalidArgument);
    for id in [&later, &earlier] {
        area.transfer_client(transfer(id, "te-office"))
            .await
            .unwrap();
    }
    // The same transfer again is the same transfer; another one is refused.
    area.transfer_client(transfer(&later, "te-office"))
        .await
        .unwrap();
    let twice = area
        .transfer_client(transfer(&later, "pirkanmaa"))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), tonic::Code::FailedPrecondition);
    // Nothing more is recorded for a transferred client.
    let after = area
        .record_service_event(event(
            &later,
            ta::ServiceEventKind::InitialInterview,
            day(2024, 9, 4),
        ))
        .await
        .unwrap_err();
    assert_eq!(after.code(), tonic::Code::FailedPrecondition);
    assert_eq!(count(&sys.areas["kainuu"].db, "transfers").await, 2);
    assert_eq!(count(&sys.areas["kainuu"].db, "service_events").await, 0);

    // AVI applied both transfers (2 issued + 2 acknowledged + 2 transferred) …
    wait_for(
        "AVI to apply the transfers",
        Duration::from_secs(30),
        || async {
            (supervisor_count(&sys, "SELECT COUNT(*) FROM inbox").await == 8).then_some(())
        },
    )
    .await;
    // … and two weeks on, only the interview that fell due while the client was the area's is
    // reported.
    set_day(&sys, day(2024, 9, 20));
    assert_eq!(sys.sweeper.run_now().await.unwrap(), 1);
    let events = all_events(&sys).await;
    assert_eq!(of(&events, &later), []);
    assert_eq!(
        of(&events, &earlier),
        [(
            ComplianceKind::DeadlineMissed as i32,
            DeadlineKind::InitialInterview as i32
        )]
    );
    sys.stop().await;
}

async fn discussion(sys: &InProcess, id: &str, on: NaiveDate) {
    set_day(sys, on);
    record(sys, id, ta::ServiceEventKind::JobSearchDiscussion, on).await;
}

async fn wait_facts(sys: &InProcess, n: i64) {
    wait_for(
        &format!("AVI to apply {n} facts"),
        Duration::from_secs(30),
        || async { (supervisor_count(sys, "SELECT COUNT(*) FROM inbox").await == n).then_some(()) },
    )
    .await;
}

async fn half_yearly_discussions_count_only_in_their_month(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu"]).await else {
        return;
    };
    // Job search from Monday 4.3.2024, initial interview the next day: two discussions are due
    // in the month after the 6-month mark 4.9, by Friday 4.10.
    set_day(&sys, day(2024, 3, 4));
    let id = referred(&sys, 50, day(2024, 3, 4)).await;
    acknowledged(&sys, &id).await;
    set_day(&sys, day(2024, 3, 5));
    record(
        &sys,
        &id,
        ta::ServiceEventKind::InitialInterview,
        day(2024, 3, 5),
    )
    .await;
    // Before the mark: counts for the regular discussions, not the half-yearly ones.
    discussion(&sys, &id, day(2024, 8, 1)).await;
    discussion(&sys, &id, day(2024, 9, 10)).await;
    wait_facts(&sys, 6).await;
    let half = DeadlineKind::HalfYearlyDiscussions as i32;
    let half_yearly = |events: &[ComplianceEvent]| {
        of(events, &id)
            .into_iter()
            .filter(|(_, d)| *d == half)
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
    };
    set_day(&sys, day(2024, 10, 4));
    sys.sweeper.run_now().await.unwrap();
    assert!(
        half_yearly(&all_events(&sys).await).is_empty(),
        "due on 4.10 itself"
    );
    // One of two held by the due date: missed, and the next 6 months begin.
    set_day(&sys, day(2024, 10, 7));
    sys.sweeper.run_now().await.unwrap();
    assert_eq!(
        half_yearly(&all_events(&sys).await),
        [ComplianceKind::DeadlineMissed as i32]
    );
    discussion(&sys, &id, day(2024, 10, 8)).await;
    wait_facts(&sys, 7).await;
    assert_eq!(
        half_yearly(&all_events(&sys).await),
        [
            ComplianceKind::DeadlineMissed as i32,
            ComplianceKind::DeadlineMetLate as i32
        ]
    );
    assert_eq!(
        supervisor_count(&sys, "SELECT COUNT(*) FROM deadlines WHERE kind = 6").await,
        2,
        "the second period is open"
    );
    sys.stop().await;
}
