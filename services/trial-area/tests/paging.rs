//! The area's list RPCs page by keyset: walking `ListIncomingReferrals` (oldest first) and
//! `ListSupervisoryActions` (newest first) page by page visits every item exactly once, also when
//! several share their time. Both backends.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kokeilu_bus::Db;
use kokeilu_bus::feed::{self, PageToken};
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction};
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use trial_area::domain::{IncomingReferral, IncomingStatus};
use trial_area::store::Store;

on_both_backends!(
    incoming_referrals_page_through_every_one_once,
    supervisory_actions_page_through_every_one_once,
);

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap()
}

async fn store(backend: TestBackend) -> Option<(Store, TestDb)> {
    let test_db = TestDb::new(backend).await?;
    let db = Db::connect(test_db.url(), 2, &trial_area::startup::MIGRATIONS)
        .await
        .unwrap();
    Some((Store::new(db), test_db))
}

fn referral(n: u32, received_at: DateTime<Utc>) -> IncomingReferral {
    IncomingReferral {
        referral_id: uuid::Uuid::new_v4().to_string(),
        area_id: "kainuu".into(),
        henkilotunnus: format!("010190-{n:03}X"),
        home_municipality_code: "205".into(),
        grounds: vec![1],
        job_search_start: NaiveDate::from_ymd_opt(2024, 8, 28).unwrap(),
        referral_date: NaiveDate::from_ymd_opt(2024, 9, 1).unwrap(),
        status: IncomingStatus::Received,
        received_at,
        decided_at: None,
        rejection_reason: None,
        rejection_detail: String::new(),
        issued_message_id: uuid::Uuid::now_v7().to_string(),
        trace_context: Vec::new(),
        client_pseudonym: format!("{n:064x}"),
        pseudonym_key_id: "test-1".into(),
        cursor: 0,
        residence_municipality_code: String::new(),
        decided_by_residence: false,
        te_office_interview: None,
        previous_job_search_end: None,
        employment_plan: None,
        plan_revised_on: None,
    }
}

async fn incoming_referrals_page_through_every_one_once(backend: TestBackend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let mut expected = Vec::new();
    for n in 0..9u32 {
        // Three at each time.
        let r = referral(n, base() + Duration::seconds(i64::from(n / 3)));
        let mut tx = store.begin().await.unwrap();
        assert!(store.insert_referral(&mut tx, &r).await.unwrap());
        tx.commit().await.unwrap();
        expected.push((r.received_at, r.referral_id));
    }
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    for page in [1, 2, 4, 9, 100] {
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            // As ListIncomingReferrals cuts a page.
            let after = PageToken::parse("page_token", &token)
                .unwrap()
                .map(|t| (DateTime::from_timestamp_micros(t.at).unwrap(), t.id));
            let rows = store.list_referrals(None, page + 1, after).await.unwrap();
            let (rows, next) = feed::keyset_page(rows, page, |r| PageToken {
                at: r.received_at.timestamp_micros(),
                id: r.referral_id.clone(),
            });
            seen.extend(rows.into_iter().map(|r| r.referral_id));
            if next.is_empty() {
                break;
            }
            token = next;
        }
        assert_eq!(seen, expected, "page size {page}");
    }
}

async fn supervisory_actions_page_through_every_one_once(backend: TestBackend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let mut expected = Vec::new();
    for n in 0..8u32 {
        // Pairs received at the same time.
        let at = base() + Duration::seconds(i64::from(n / 2));
        let action = SupervisoryAction {
            action_id: uuid::Uuid::new_v4().to_string(),
            kind: ActionKind::Remark as i32,
            area_id: "kainuu".into(),
            text: format!("remark {n}"),
            ..Default::default()
        };
        let mut tx = store.begin().await.unwrap();
        assert!(store.insert_action(&mut tx, &action, at).await.unwrap());
        tx.commit().await.unwrap();
        expected.push((at, action.action_id));
    }
    expected.sort();
    expected.reverse();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    for page in [1, 3, 8, 100] {
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            // As ListSupervisoryActions cuts a page.
            let after = PageToken::parse("page_token", &token).unwrap();
            let rows = store
                .actions(after.map(|t| (t.at, t.id)), page + 1)
                .await
                .unwrap();
            let (rows, next) = feed::keyset_page(rows, page, |(at, a)| PageToken {
                at: *at,
                id: a.action.action_id.clone(),
            });
            seen.extend(rows.into_iter().map(|(_, a)| a.action.action_id));
            if next.is_empty() {
                break;
            }
            token = next;
        }
        assert_eq!(seen, expected, "page size {page}");
    }
}
