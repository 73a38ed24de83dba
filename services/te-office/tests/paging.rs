//! `ListReferrals` pages: walking the pages visits every referral exactly once, newest first,
//! also when several were created in the same microsecond; and each referral comes with exactly
//! its own status history, however many referrals the page holds (the page and the histories are
//! read together, not one query per referral). Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kokeilu_bus::Db;
use kokeilu_bus::feed::{self, PageToken};
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use te_office::domain::{Ground, Referral, ReferralFilter, Status};
use te_office::store::Store;

on_both_backends!(paging_walks_every_referral_once_with_its_own_history);

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap()
}

fn referral(n: u32, area: &str, created_at: DateTime<Utc>) -> Referral {
    Referral {
        referral_id: uuid::Uuid::now_v7().to_string(),
        idempotency_key: format!("key-{n}"),
        request_hash: format!("hash-{n}"),
        henkilotunnus: format!("010190-{n:03}X"),
        home_municipality_code: "205".into(),
        area_id: area.into(),
        grounds: vec![Ground::Under30],
        job_search_start: NaiveDate::from_ymd_opt(2024, 8, 28).unwrap(),
        referral_date: NaiveDate::from_ymd_opt(2024, 9, 2).unwrap(),
        status: Status::Issued,
        rejection_reason: 0,
        issued_message_id: uuid::Uuid::now_v7().to_string(),
        created_at,
        residence_municipality_code: String::new(),
        decided_by_residence: false,
        initial_interview_date: None,
        previous_job_search_end: None,
        employment_plan: None,
    }
}

/// Every page of a listing, as the handler cuts them.
async fn walk(store: &Store, area: Option<&str>, page: i64) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let after = PageToken::parse("page_token", &token).unwrap();
        let rows = store
            .list(&ReferralFilter {
                area_id: area.map(str::to_owned),
                status: None,
                limit: page + 1,
                after: after.map(|t| (t.at, t.id)),
            })
            .await
            .unwrap();
        let (rows, next) = feed::keyset_page(rows, page, |(r, _)| PageToken {
            at: r.created_at.timestamp_micros(),
            id: r.referral_id.clone(),
        });
        assert!(rows.len() as i64 <= page);
        for (r, history) in rows {
            assert!(history.iter().all(|h| h.referral_id == r.referral_id));
            assert!(
                history.windows(2).all(|w| w[0].seq < w[1].seq),
                "oldest first"
            );
            out.push((
                r.referral_id,
                history.into_iter().map(|h| h.detail).collect(),
            ));
        }
        if next.is_empty() {
            return out;
        }
        token = next;
    }
}

async fn paging_walks_every_referral_once_with_its_own_history(backend: TestBackend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let db = Db::connect(test_db.url(), 2, &te_office::startup::MIGRATIONS)
        .await
        .unwrap();
    let store = Store::new(db);
    // 11 referrals in two areas; three pairs share their creation time. Referral n has n + 1
    // history entries beyond the first, each naming the referral and its place.
    let mut expected: BTreeMap<String, (DateTime<Utc>, String, Vec<String>)> = BTreeMap::new();
    for n in 0..11u32 {
        let at = base() + Duration::seconds(i64::from(n / 2));
        let area = if n % 3 == 0 { "helsinki" } else { "kainuu" };
        let r = referral(n, area, at);
        let mut tx = store.begin().await.unwrap();
        store.insert_referral(&mut tx, &r).await.unwrap();
        let mut history = vec![String::new()];
        for k in 0..=n % 4 {
            let detail = format!("{n}/{k}");
            store
                .append_change(
                    &mut tx,
                    &r.referral_id,
                    area,
                    Status::Delivered,
                    at,
                    &detail,
                )
                .await
                .unwrap();
            history.push(detail);
        }
        tx.commit().await.unwrap();
        expected.insert(r.referral_id.clone(), (at, area.to_owned(), history));
    }
    let newest_first = |area: Option<&str>| {
        let mut v: Vec<(&DateTime<Utc>, &String)> = expected
            .iter()
            .filter(|(_, (_, a, _))| area.is_none_or(|x| x == a))
            .map(|(id, (at, _, _))| (at, id))
            .collect();
        v.sort();
        v.reverse();
        v.into_iter().map(|(_, id)| id.clone()).collect::<Vec<_>>()
    };
    for page in [1, 2, 3, 4, 100] {
        for area in [None, Some("kainuu"), Some("helsinki")] {
            let seen = walk(&store, area, page).await;
            let ids: Vec<String> = seen.iter().map(|(id, _)| id.clone()).collect();
            assert_eq!(ids, newest_first(area), "page size {page}, area {area:?}");
            for (id, history) in &seen {
                assert_eq!(history, &expected[id].2, "history of {id}");
            }
        }
    }
}
