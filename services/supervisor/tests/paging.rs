//! AVI's list RPCs page: walking `ListActions` (newest first, keyset on issue time and id) and
//! `ListComplianceEvents` (oldest first, by cursor) visits every item exactly once, also when
//! several actions share their issue time. Both backends.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use kokeilu_bus::feed::{self, PageToken};
use kokeilu_bus::{Db, Outbox};
use kokeilu_platform::clock::SystemClock;
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction};
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use supervisor::ledger::Ledger;
use supervisor::startup::MIGRATIONS;

on_both_backends!(
    actions_page_through_every_one_once,
    compliance_events_page_through_every_one_once,
);

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap()
}

async fn ledger(backend: TestBackend) -> Option<(Ledger, Db, TestDb)> {
    let test_db = TestDb::new(backend).await?;
    let db = Db::connect(test_db.url(), 2, &MIGRATIONS).await.unwrap();
    let ledger = Ledger::new(db.clone(), Outbox::new(), SystemClock::new().shared(), 2);
    Some((ledger, db, test_db))
}

async fn actions_page_through_every_one_once(backend: TestBackend) {
    let Some((ledger, _db, _t)) = ledger(backend).await else {
        return;
    };
    let mut expected: Vec<(DateTime<Utc>, String, String)> = Vec::new();
    for n in 0..10u32 {
        let at = base() + Duration::seconds(i64::from(n / 3));
        let area = if n % 2 == 0 { "kainuu" } else { "helsinki" };
        let action = SupervisoryAction {
            action_id: uuid::Uuid::new_v4().to_string(),
            kind: ActionKind::Remark as i32,
            area_id: area.into(),
            text: format!("remark {n}"),
            ..Default::default()
        };
        let mut tx = ledger.store.begin().await.unwrap();
        ledger
            .store
            .insert_action(&mut tx, &action, at)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        expected.push((at, action.action_id, area.to_owned()));
    }
    expected.sort();
    expected.reverse();
    for area in ["", "kainuu", "helsinki"] {
        let want: Vec<&String> = expected
            .iter()
            .filter(|(_, _, a)| area.is_empty() || a == area)
            .map(|(_, id, _)| id)
            .collect();
        for page in [1, 2, 3, 10, 100] {
            let mut seen = Vec::new();
            let mut token = String::new();
            loop {
                // As ListActions cuts a page.
                let after = PageToken::parse("page_token", &token).unwrap();
                let rows = ledger
                    .actions(area, after.map(|t| (t.at, t.id)), page + 1)
                    .await
                    .unwrap();
                let (rows, next) = feed::keyset_page(rows, page, |(at, a)| PageToken {
                    at: *at,
                    id: a.action_id.clone(),
                });
                seen.extend(rows.into_iter().map(|(_, a)| a.action_id));
                if next.is_empty() {
                    break;
                }
                token = next;
            }
            let seen: Vec<&String> = seen.iter().collect();
            assert_eq!(seen, want, "area {area:?}, page size {page}");
        }
    }
}

async fn compliance_events_page_through_every_one_once(backend: TestBackend) {
    let Some((ledger, db, _t)) = ledger(backend).await else {
        return;
    };
    let mut expected = Vec::new();
    for n in 0..7 {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO compliance_events (event_id, kind, area_id, referral_id, \
             client_pseudonym, deadline_kind, due, event_date, detail, rule, detected_at) \
             VALUES ($1, 1, 'kainuu', $2, 'p', 1, '2024-09-09', '2024-09-09', '', 'rule', 0)",
        )
        .bind(&id)
        .bind(format!("r{n}"))
        .execute(db.pool())
        .await
        .unwrap();
        expected.push(id);
    }
    for page in [1, 2, 7, 100] {
        // As ListComplianceEvents pages: after the cursor of the last event of the previous
        // page, until a page comes back empty.
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let events = ledger
                .events_after(after, "", &[], false, page)
                .await
                .unwrap();
            let Some(last) = events.last() else { break };
            after = last.seq;
            assert!(events.len() as i64 <= page);
            seen.extend(events.into_iter().map(|e| e.event_id));
        }
        assert_eq!(seen, expected, "page size {page}");
    }
}
