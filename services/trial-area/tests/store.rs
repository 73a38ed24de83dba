//! The trial area's store on both backends: what it writes it reads back as the same domain
//! values, and a stored value that does not decode is an error (INTERNAL to a caller), never a
//! default. Corrupt rows are written here with raw SQL, as a broken migration or a hand edit
//! would leave them.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kokeilu_bus::{Db, Outbox};
use kokeilu_platform::ManualClock;
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction};
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use prost::Message;
use trial_area::desk::{Desk, Idem};
use trial_area::domain::{IncomingReferral, IncomingStatus, Rejection, ServiceEvent, Transfer};
use trial_area::error::Error;
use trial_area::store::Store;

on_both_backends!(
    what_is_written_reads_back_the_same,
    a_corrupt_referral_is_an_error_not_a_default,
    corrupt_client_records_are_errors_not_skipped,
);

const AREA: &str = "kainuu";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap()
}

/// A desk over a fresh, migrated database; `None` where PostgreSQL is not reachable.
async fn desk(backend: TestBackend) -> Option<(Desk, TestDb)> {
    let test_db = TestDb::new(backend).await?;
    let db = Db::connect(test_db.url(), 2, &trial_area::startup::MIGRATIONS)
        .await
        .unwrap();
    let desk = Desk::new(
        AREA.to_owned(),
        Store::new(db),
        Outbox::new(),
        Arc::new(ManualClock::new(now())),
    );
    Some((desk, test_db))
}

/// A fresh idempotency key (the test's requests differ by key only).
fn idem() -> Idem {
    let key = uuid::Uuid::now_v7().to_string();
    Idem::new("test", &key, &key).unwrap()
}

fn referral(n: u8) -> IncomingReferral {
    IncomingReferral {
        referral_id: uuid::Uuid::now_v7().to_string(),
        area_id: AREA.into(),
        henkilotunnus: format!("0101900{n}2A"),
        home_municipality_code: "205".into(),
        grounds: vec![1, 3],
        job_search_start: NaiveDate::from_ymd_opt(2024, 8, 28).unwrap(),
        referral_date: NaiveDate::from_ymd_opt(2024, 9, 1).unwrap(),
        status: IncomingStatus::Received,
        received_at: now(),
        decided_at: None,
        rejection_reason: None,
        rejection_detail: String::new(),
        issued_message_id: uuid::Uuid::now_v7().to_string(),
        client_pseudonym: format!("{n:02x}").repeat(32),
        pseudonym_key_id: "test-1".into(),
        trace_context: vec![("traceparent".into(), "00-abc-def-01".into())],
        cursor: 0,
        residence_municipality_code: "205".into(),
        decided_by_residence: false,
        te_office_interview: Some(NaiveDate::from_ymd_opt(2024, 8, 29).unwrap()),
        previous_job_search_end: None,
        employment_plan: Some(trial_area::domain::Plan {
            plan_id: "plan-1".into(),
            kind: 1,
            made_on: NaiveDate::from_ymd_opt(2024, 8, 29).unwrap(),
            next_review_on: Some(NaiveDate::from_ymd_opt(2024, 11, 29).unwrap()),
        }),
        plan_revised_on: None,
    }
}

async fn receive(desk: &Desk, r: &IncomingReferral) {
    let mut tx = desk.store.begin().await.unwrap();
    assert!(desk.receive(&mut tx, r).await.unwrap());
    tx.commit().await.unwrap();
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `result` failed on a stored value of `column` that does not decode.
fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, sqlx::Error>, column: &str) {
    match result {
        Err(sqlx::Error::ColumnDecode { index, .. }) => assert_eq!(index, column),
        other => panic!("expected a decode error on {column}, got {other:?}"),
    }
}

/// A use case failed on stored data: a database error, INTERNAL to the caller.
fn assert_internal<T: std::fmt::Debug>(result: Result<T, Error>) {
    match result {
        Err(e @ Error::Database(sqlx::Error::ColumnDecode { .. })) => {
            assert_eq!(tonic::Status::from(e).code(), tonic::Code::Internal);
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

async fn what_is_written_reads_back_the_same(backend: TestBackend) {
    let Some((desk, _test_db)) = desk(backend).await else {
        return;
    };
    let store = &desk.store;
    let r = referral(1);
    receive(&desk, &r).await;
    let mut tx = store.begin().await.unwrap();
    assert!(
        !store.insert_referral(&mut tx, &r).await.unwrap(),
        "stored twice"
    );
    tx.rollback().await.unwrap();

    let stored = store.referral(&r.referral_id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        IncomingReferral {
            cursor: 1,
            ..r.clone()
        }
    );

    desk.reject(
        &idem(),
        &r.referral_id,
        Rejection::validate(2, "ei kohderyhmää").unwrap(),
    )
    .await
    .unwrap();
    let stored = store.referral(&r.referral_id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        IncomingReferral {
            cursor: 2,
            status: IncomingStatus::Rejected,
            decided_at: Some(now()),
            rejection_reason: Some(trial_area::domain::RejectionReason::NotInTargetGroup),
            rejection_detail: "ei kohderyhmää".into(),
            ..r.clone()
        }
    );
    let feed = store.feed_after(0, 10).await.unwrap();
    assert_eq!(
        feed.iter()
            .map(|c| (c.cursor, c.status))
            .collect::<Vec<_>>(),
        vec![(1, IncomingStatus::Rejected), (2, IncomingStatus::Rejected)]
    );
    assert_eq!(store.last_feed_seq().await.unwrap(), 2);

    let client = referral(2);
    receive(&desk, &client).await;
    desk.acknowledge(&idem(), &client.referral_id)
        .await
        .unwrap();
    let only = |s| store.list_referrals(Some(s), 10, None);
    assert_eq!(only(IncomingStatus::Acknowledged).await.unwrap().len(), 1);
    assert_eq!(only(IncomingStatus::Rejected).await.unwrap().len(), 1);
    assert_eq!(only(IncomingStatus::Received).await.unwrap().len(), 0);
    assert_eq!(store.list_referrals(None, 10, None).await.unwrap().len(), 2);

    let date = NaiveDate::from_ymd_opt(2024, 8, 30).unwrap();
    desk.record_service_event(
        &idem(),
        &client.referral_id,
        ServiceEvent::EmploymentPlan,
        date,
    )
    .await
    .unwrap();
    desk.transfer_client(&idem(), &client.referral_id, "te-office", date)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let events = store
        .service_events_of(&mut tx, &client.referral_id)
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| (e.kind, e.date)).collect::<Vec<_>>(),
        vec![(ServiceEvent::EmploymentPlan, date)]
    );
    assert_eq!(
        store
            .transfer_of(&mut tx, &client.referral_id)
            .await
            .unwrap(),
        Some(Transfer {
            destination: "te-office".into(),
            date,
        })
    );
}

async fn a_corrupt_referral_is_an_error_not_a_default(backend: TestBackend) {
    let Some((desk, _test_db)) = desk(backend).await else {
        return;
    };
    let db = desk.store.db().clone();
    let r = referral(1);
    receive(&desk, &r).await;
    let id = &r.referral_id;
    let corruptions = [
        ("status", "status = 9"),
        ("job_search_start", "job_search_start = 'garbage'"),
        ("referral_date", "referral_date = '2024-02-30'"),
        ("received_at", "received_at = 9223372036854775807"),
        ("decided_at", "decided_at = -9223372036854775807"),
        ("rejection_reason", "rejection_reason = 7"),
        ("grounds", "grounds = '1,x'"),
        ("trace_context", "trace_context = 'garbage'"),
        ("te_office_interview", "te_office_interview = '2024-13-01'"),
        ("previous_job_search_end", "previous_job_search_end = 'x'"),
        ("plan_revised_on", "plan_revised_on = ''"),
        ("employment_plan", "employment_plan = '{}'"),
        ("decided_by_residence", "decided_by_residence = 2"),
    ];
    for (column, set) in corruptions {
        exec(
            &db,
            "UPDATE incoming_referrals SET status = 1, job_search_start = '2024-08-28', \
                   referral_date = '2024-09-01', received_at = 0, decided_at = NULL, \
                   rejection_reason = 0, grounds = '1', trace_context = '[]', \
                   te_office_interview = NULL, previous_job_search_end = NULL, \
                   plan_revised_on = NULL, employment_plan = NULL, decided_by_residence = 0",
        )
        .await;
        desk.referral(id).await.unwrap();
        exec(&db, &format!("UPDATE incoming_referrals SET {set}")).await;
        assert_corrupt(desk.store.referral(id).await, column);
        assert_corrupt(desk.store.list_referrals(None, 10, None).await, column);
        assert_corrupt(desk.store.feed_after(0, 10).await, column);
        assert_internal(desk.referral(id).await);
        assert_internal(desk.acknowledge(&idem(), id).await);
    }
    // Nothing was decided on the corrupt row.
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox")
            .fetch_one(db.pool())
            .await
            .unwrap(),
        2,
        "only the receipt and its fact for AVI are queued"
    );
}

async fn corrupt_client_records_are_errors_not_skipped(backend: TestBackend) {
    let Some((desk, _test_db)) = desk(backend).await else {
        return;
    };
    let db = desk.store.db().clone();
    let r = referral(1);
    receive(&desk, &r).await;
    let id = &r.referral_id;
    desk.acknowledge(&idem(), id).await.unwrap();
    let date = NaiveDate::from_ymd_opt(2024, 8, 30).unwrap();
    desk.record_service_event(&idem(), id, ServiceEvent::InitialInterview, date)
        .await
        .unwrap();
    let request = SupervisoryAction {
        action_id: uuid::Uuid::now_v7().to_string(),
        area_id: AREA.into(),
        kind: ActionKind::InformationRequest as i32,
        referral_ids: vec![id.clone()],
        ..Default::default()
    };
    let mut tx = desk.store.begin().await.unwrap();
    assert!(
        desk.store
            .insert_action(&mut tx, &request, now())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    // An unknown service event kind, then a date that is no date: the answer to AVI fails
    // instead of leaving the event out.
    for (column, set) in [
        ("kind", "kind = 9"),
        ("event_date", "event_date = 'garbage'"),
    ] {
        exec(
            &db,
            "UPDATE service_events SET kind = 1, event_date = '2024-08-30'",
        )
        .await;
        exec(&db, &format!("UPDATE service_events SET {set}")).await;
        let mut tx = desk.store.begin().await.unwrap();
        assert_corrupt(desk.store.service_events_of(&mut tx, id).await, column);
        tx.rollback().await.unwrap();
        assert_internal(
            desk.answer_information_request(&idem(), &request.action_id)
                .await,
        );
    }
    exec(
        &db,
        "UPDATE service_events SET kind = 1, event_date = '2024-08-30'",
    )
    .await;

    // A stored action that is no protobuf message, or answered at no representable time.
    let set_payload = |bytes: Vec<u8>| {
        sqlx::query("UPDATE supervisory_actions SET payload = $1")
            .bind(bytes)
            .execute(db.pool())
    };
    set_payload(vec![0xff, 0xff]).await.unwrap();
    assert_corrupt(desk.store.actions(None, 10).await, "payload");
    assert_internal(desk.actions(None, 10).await);
    assert_internal(
        desk.answer_information_request(&idem(), &request.action_id)
            .await,
    );
    set_payload(request.encode_to_vec()).await.unwrap();
    exec(
        &db,
        "UPDATE supervisory_actions SET answered_at = 9223372036854775807",
    )
    .await;
    assert_corrupt(desk.store.actions(None, 10).await, "answered_at");
    assert_internal(desk.actions(None, 10).await);
    assert_internal(
        desk.answer_information_request(&idem(), &request.action_id)
            .await,
    );
    exec(&db, "UPDATE supervisory_actions SET answered_at = NULL").await;
    assert_eq!(
        desk.answer_information_request(&idem(), &request.action_id)
            .await
            .unwrap()
            .records,
        1
    );

    // A transfer date that does not parse no longer reads as the earliest date.
    desk.transfer_client(&idem(), id, "te-office", date)
        .await
        .unwrap();
    exec(&db, "UPDATE transfers SET transfer_date = 'garbage'").await;
    let mut tx = desk.store.begin().await.unwrap();
    assert_corrupt(desk.store.transfer_of(&mut tx, id).await, "transfer_date");
    tx.rollback().await.unwrap();
    assert_internal(desk.transfer_client(&idem(), id, "te-office", date).await);
    assert_internal(
        desk.record_service_event(&idem(), id, ServiceEvent::EmploymentPlan, date)
            .await,
    );
}
