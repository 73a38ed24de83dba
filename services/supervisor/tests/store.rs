//! The store on both backends: a stored value that does not decode (a status or kind number no
//! enum has, a date that does not parse, an out-of-range timestamp) is an error from the store,
//! the sweep and the RPC layer, never a default.

#![allow(clippy::unwrap_used)]
use chrono::NaiveDate;
use kokeilu_bus::{Db, Outbox};
use kokeilu_platform::clock::SystemClock;
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use supervisor::error::Error;
use supervisor::ledger::Ledger;
use supervisor::startup::MIGRATIONS;
use supervisor::store::Store;

on_both_backends!(
    corrupt_compliance_events_are_errors,
    corrupt_deadlines_are_errors,
    corrupt_case_dates_are_errors,
);

const REFERRAL: &str = "0190a1b2-0000-7000-8000-000000000001";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn setup(backend: TestBackend) -> Option<(TestDb, Db, Store)> {
    let test_db = TestDb::new(backend).await?;
    let db = Db::connect(test_db.url(), 2, &MIGRATIONS)
        .await
        .expect("connect and migrate");
    let store = Store::new(db.clone());
    Some((test_db, db, store))
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn insert_case(db: &Db, referral_id: &str, referral_date: &str, job_search_start: &str) {
    exec(
        db,
        &format!(
            "INSERT INTO cases (referral_id, area_id, client_pseudonym, municipality_code, \
             referral_date, job_search_start, grounds, created_at) VALUES ('{referral_id}', \
             'tampere', 'p1', '837', '{referral_date}', '{job_search_start}', '', 0)"
        ),
    )
    .await;
}

async fn insert_deadline(db: &Db, referral_id: &str, kind: i64, due: &str, status: i64) {
    exec(
        db,
        &format!(
            "INSERT INTO deadlines (referral_id, area_id, client_pseudonym, kind, due, required, \
             done, status, rule) VALUES ('{referral_id}', 'tampere', 'p1', {kind}, '{due}', 1, 0, \
             {status}, 'rule')"
        ),
    )
    .await;
}

async fn insert_event(db: &Db, id: &str, kind: i64, deadline_kind: i64, due: &str, at: i64) {
    exec(
        db,
        &format!(
            "INSERT INTO compliance_events (event_id, kind, area_id, referral_id, \
             client_pseudonym, deadline_kind, due, event_date, detail, rule, detected_at) \
             VALUES ('{id}', {kind}, 'tampere', '{REFERRAL}', 'p1', {deadline_kind}, '{due}', \
             '2024-09-09', 'detail', 'rule', {at})"
        ),
    )
    .await;
}

fn assert_decode<T: std::fmt::Debug>(r: Result<T, sqlx::Error>, what: &str) {
    match r {
        Err(e @ sqlx::Error::ColumnDecode { .. }) => eprintln!("{what}: {e}"),
        other => panic!("{what}: expected a decode error, got {other:?}"),
    }
}

fn ledger(db: &Db) -> Ledger {
    Ledger::new(db.clone(), Outbox::new(), SystemClock::new().shared(), 2)
}

/// The feed: an unknown compliance kind, an unknown deadline kind, a bad due date and an
/// out-of-range detection time each fail the read (and the RPC with INTERNAL), while the good
/// rows before them read back.
async fn corrupt_compliance_events_are_errors(backend: TestBackend) {
    let Some((_t, db, store)) = setup(backend).await else {
        return;
    };
    insert_event(&db, "e1", 1, 2, "2024-09-06", 1_725_000_000_000_000).await;
    insert_event(&db, "e2", 3, 0, "", 1_725_000_000_000_000).await;
    let events = store
        .events_after(0, "", &[], false, 10)
        .await
        .expect("good rows");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].due, Some(day("2024-09-06")));
    assert_eq!(events[1].due, None);
    assert_eq!(events[1].deadline, None);
    assert_eq!(store.last_event_seq().await.unwrap(), events[1].seq);

    let cursor = events[1].seq;
    let cases = [
        ("kind", 99, 1, "2024-09-06", 1_725_000_000_000_000),
        ("deadline kind", 1, 42, "2024-09-06", 1_725_000_000_000_000),
        ("due", 1, 2, "garbage", 1_725_000_000_000_000),
        ("detected_at", 1, 2, "2024-09-06", i64::MAX),
    ];
    for (i, (what, kind, deadline_kind, due, at)) in cases.into_iter().enumerate() {
        // Each corrupt row is read alone: after the previous one.
        let after = cursor + i64::try_from(i).unwrap();
        insert_event(&db, &format!("bad{i}"), kind, deadline_kind, due, at).await;
        assert_decode(store.events_after(after, "", &[], false, 10).await, what);
        // Through the ledger and the service's error: INTERNAL to a caller.
        let e = ledger(&db)
            .events_after(after, "", &[], false, 10)
            .await
            .expect_err(what);
        let status = tonic::Status::from(Error::from(e));
        assert_eq!(status.code(), tonic::Code::Internal, "{what}");
        assert_eq!(status.message(), "internal error");
    }
}

/// Deadlines: an unknown status or kind fails the summary counts; a bad due date fails the
/// sweep instead of becoming today.
async fn corrupt_deadlines_are_errors(backend: TestBackend) {
    let Some((_t, db, store)) = setup(backend).await else {
        return;
    };
    insert_case(&db, REFERRAL, "2024-09-02", "2024-08-30").await;
    insert_deadline(&db, REFERRAL, 1, "2024-09-04", 1).await;
    let counts = store.deadline_counts("tampere").await.expect("good rows");
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].count, 1);

    insert_deadline(&db, REFERRAL, 2, "2024-09-06", 7).await;
    assert_decode(store.deadline_counts("tampere").await, "status 7");
    exec(&db, "UPDATE deadlines SET status = 1 WHERE status = 7").await;
    store.deadline_counts("tampere").await.expect("repaired");
    insert_deadline(&db, REFERRAL, 9, "2024-09-06", 2).await;
    assert_decode(store.deadline_counts("tampere").await, "kind 9");
    exec(&db, "DELETE FROM deadlines WHERE kind = 9").await;

    // Two good overdue deadlines read back; one with a bad due date fails the read.
    let today = day("2024-10-01");
    assert_eq!(store.overdue(today, 100).await.expect("good rows").len(), 2);
    insert_deadline(&db, REFERRAL, 4, "2024-09-garbage", 1).await;
    assert_decode(store.overdue(today, 100).await, "due garbage");
    let e = ledger(&db)
        .sweep(today)
        .await
        .expect_err("the sweep fails on a corrupt deadline");
    assert!(matches!(e, sqlx::Error::ColumnDecode { .. }), "{e:?}");
    let (status,): (i64,) = sqlx::query_as("SELECT status FROM deadlines WHERE kind = 4")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(
        status, 1,
        "the corrupt deadline is not swept as if due today"
    );
}

/// Cases: a bad job-search start fails loading the case (a fact about it is a handler error)
/// and the statistics; a bad decision date fails the statistics instead of being skipped.
async fn corrupt_case_dates_are_errors(backend: TestBackend) {
    let Some((_t, db, store)) = setup(backend).await else {
        return;
    };
    insert_case(&db, REFERRAL, "2024-09-02", "2024-08-30").await;
    let mut tx = store.begin().await.unwrap();
    let case = store.case(&mut tx, REFERRAL).await.expect("good row");
    tx.rollback().await.unwrap();
    assert_eq!(case.unwrap().job_search_start, day("2024-08-30"));
    assert_eq!(store.case_summaries("").await.expect("good rows").len(), 1);

    let other = "0190a1b2-0000-7000-8000-000000000002";
    insert_case(&db, other, "2024-09-02", "garbage").await;
    let mut tx = store.begin().await.unwrap();
    assert_decode(store.case(&mut tx, other).await, "job_search_start");
    tx.rollback().await.unwrap();
    assert_decode(store.case_summaries("").await, "summaries");
    let e = ledger(&db).monthly("").await.expect_err("monthly");
    assert_eq!(
        tonic::Status::from(Error::from(e)).code(),
        tonic::Code::Internal
    );

    exec(
        &db,
        &format!(
            "UPDATE cases SET job_search_start = '2024-08-30', initial_interview_on = '2024-13-45' \
             WHERE referral_id = '{other}'"
        ),
    )
    .await;
    assert_decode(store.case_summaries("").await, "initial_interview_on");
}
