//! The open statistics: published only for closed months, computed once per month and stored
//! (later facts do not change a published month), and protected so that no suppressed cell can
//! be recovered from the published cells and totals.

#![allow(clippy::unwrap_used)]
use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, TimeZone, Utc};
use kokeilu_bus::{Db, Outbox};
use kokeilu_platform::clock::{ManualClock, SharedClock};
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use proptest::prelude::*;
use supervisor::domain::CaseSummary;
use supervisor::ledger::Ledger;
use supervisor::reports::{PublishedArea, protect_area};
use supervisor::startup::MIGRATIONS;

on_both_backends!(a_month_is_published_once_after_it_closes);

/// Noon in Finland on `d` (the clock the ledger reads "today" from).
fn noon(d: &str) -> chrono::DateTime<Utc> {
    let d: NaiveDate = d.parse().unwrap();
    Utc.from_utc_datetime(&d.and_hms_opt(10, 0, 0).unwrap())
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn case(db: &Db, n: u32, municipality: &str, referral_date: &str, acknowledged: bool) {
    let ack = if acknowledged {
        format!("'{referral_date}'")
    } else {
        "NULL".into()
    };
    exec(
        db,
        &format!(
            "INSERT INTO cases (referral_id, area_id, client_pseudonym, municipality_code, \
             referral_date, job_search_start, grounds, acknowledged_on, created_at) VALUES \
             ('r{n}', 'kainuu', 'p{n}', '{municipality}', '{referral_date}', '{referral_date}', \
             '', {ack}, 0)"
        ),
    )
    .await;
}

fn row<'a>(rows: &'a [PublishedArea], month: &str) -> &'a PublishedArea {
    rows.iter()
        .find(|r| r.month == month)
        .unwrap_or_else(|| panic!("no {month} in {rows:?}"))
}

async fn a_month_is_published_once_after_it_closes(backend: TestBackend) {
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let db = Db::connect(test_db.url(), 2, &MIGRATIONS).await.unwrap();
    let clock = ManualClock::new(noon("2024-09-20"));
    let shared: SharedClock = std::sync::Arc::new(clock.clone());
    let ledger = Ledger::new(db.clone(), Outbox::new(), shared, 2);
    // September: 6 referrals in Kajaani and 9 in Sotkamo, one acknowledged in Kajaani.
    for n in 0..6 {
        case(&db, n, "205", "2024-09-02", n == 0).await;
    }
    for n in 6..15 {
        case(&db, n, "765", "2024-09-03", false).await;
    }
    case(&db, 100, "205", "2024-10-01", false).await;

    // September is open: nothing is published.
    assert!(ledger.open_statistics().await.unwrap().is_empty());

    // October: September closed and published; October is not.
    clock.set(noon("2024-10-01"));
    let first = ledger.open_statistics().await.unwrap();
    assert!(first.iter().all(|r| r.month == "2024-09"), "{first:?}");
    let sept = row(&first, "2024-09").clone();
    assert_eq!(sept.referrals, Some(15));
    assert_eq!(sept.acknowledged, None, "one acknowledgement is suppressed");
    // Kajaani's one acknowledgement is the area's only one: with the area total hidden there is
    // nothing to subtract from, and each municipality's referrals are shown.
    let kajaani = &sept.municipalities[0];
    assert_eq!(kajaani.municipality_code, "205");
    assert_eq!(kajaani.referrals, Some(6));
    assert_eq!(kajaani.acknowledged, None);

    // Later facts about September (four more acknowledgements, a late referral) do not change
    // what was published: the difference would single those people out.
    exec(
        &db,
        "UPDATE cases SET acknowledged_on = '2024-10-01' WHERE referral_id IN ('r1','r2','r3','r4')",
    )
    .await;
    case(&db, 101, "205", "2024-09-30", false).await;
    let again = ledger.open_statistics().await.unwrap();
    assert_eq!(row(&again, "2024-09"), &sept);

    // November: October is published too, September still as it was.
    clock.set(noon("2024-11-01"));
    let later = ledger.open_statistics().await.unwrap();
    assert_eq!(row(&later, "2024-09"), &sept);
    assert_eq!(
        row(&later, "2024-10").referrals,
        None,
        "one referral: suppressed"
    );
    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) AS n FROM published_statistics")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 2);
}

// --- The suppression property -------------------------------------------------------------

/// One generated case: its municipality, and whether it was acknowledged or rejected.
#[derive(Debug, Clone, Copy)]
enum Decision {
    Undecided,
    Acknowledged,
    Rejected,
}

fn summaries(cases: &[(usize, Decision)]) -> Vec<CaseSummary> {
    let day: NaiveDate = "2024-09-02".parse().unwrap();
    cases
        .iter()
        .map(|&(m, d)| CaseSummary {
            area: "kainuu".into(),
            municipality_code: format!("m{m}"),
            referral_date: day,
            job_search_start: day,
            acknowledged_on: matches!(d, Decision::Acknowledged).then_some(day),
            rejected_on: matches!(d, Decision::Rejected).then_some(day),
            initial_interview_on: None,
            late_initial_interview: false,
        })
        .collect()
}

/// The cells an outsider reads: the area's referrals, acknowledged, rejected, and per listed
/// municipality its referrals and acknowledged. `None` is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Figures {
    referrals: Option<u32>,
    acknowledged: Option<u32>,
    rejected: Option<u32>,
    municipalities: Vec<(Option<u32>, Option<u32>)>,
}

fn figures(p: &PublishedArea) -> Figures {
    Figures {
        referrals: p.referrals,
        acknowledged: p.acknowledged,
        rejected: p.rejected,
        municipalities: p
            .municipalities
            .iter()
            .map(|m| (m.referrals, m.acknowledged))
            .collect(),
    }
}

/// A published figure admits `v`: equal when shown; when suppressed, not zero (zeros are shown).
fn admits(shown: Option<u32>, v: u32) -> bool {
    match shown {
        Some(s) => s == v,
        None => v > 0,
    }
}

/// Every assignment of true values an outsider cannot rule out: each listed municipality has
/// `referrals ≥ 1` and `acknowledged ≤ referrals`, the area's figures are the sums, and
/// `acknowledged + rejected ≤ referrals`; every figure must agree with what is published.
/// Returns, per cell (area referrals, acknowledged, rejected, then each municipality's
/// referrals and acknowledged), the set of values it can have.
fn feasible(f: &Figures, max_per_municipality: u32) -> Vec<BTreeSet<u32>> {
    let n = f.municipalities.len();
    let mut out = vec![BTreeSet::new(); 3 + 2 * n];
    // Each municipality's candidate (referrals, acknowledged) pairs, filtered by its own cells.
    let options: Vec<Vec<(u32, u32)>> = f
        .municipalities
        .iter()
        .map(|&(r, a)| {
            let mut v = Vec::new();
            for refs in 1..=max_per_municipality {
                for acks in 0..=refs {
                    if admits(r, refs) && admits(a, acks) {
                        v.push((refs, acks));
                    }
                }
            }
            v
        })
        .collect();
    let mut chosen = Vec::with_capacity(n);
    search(f, &options, &mut chosen, &mut out);
    out
}

fn search(
    f: &Figures,
    options: &[Vec<(u32, u32)>],
    chosen: &mut Vec<(u32, u32)>,
    out: &mut [BTreeSet<u32>],
) {
    let refs: u32 = chosen.iter().map(|c| c.0).sum();
    let acks: u32 = chosen.iter().map(|c| c.1).sum();
    // Prune on shown area totals.
    if f.referrals.is_some_and(|t| refs > t) || f.acknowledged.is_some_and(|t| acks > t) {
        return;
    }
    if chosen.len() < options.len() {
        for &o in &options[chosen.len()] {
            chosen.push(o);
            search(f, options, chosen, out);
            chosen.pop();
        }
        return;
    }
    if !admits(f.referrals, refs) || !admits(f.acknowledged, acks) {
        return;
    }
    for rejected in 0..=(refs - acks) {
        if !admits(f.rejected, rejected) {
            continue;
        }
        out[0].insert(refs);
        out[1].insert(acks);
        out[2].insert(rejected);
        for (i, c) in chosen.iter().enumerate() {
            out[3 + 2 * i].insert(c.0);
            out[4 + 2 * i].insert(c.1);
        }
    }
}

fn decision() -> impl Strategy<Value = Decision> {
    prop_oneof![
        3 => Just(Decision::Undecided),
        4 => Just(Decision::Acknowledged),
        2 => Just(Decision::Rejected),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// No suppressed cell can be derived from the published cells and totals: for each one, the
    /// outsider's feasible values include at least two, and every published figure is true.
    #[test]
    fn no_suppressed_cell_follows_from_the_published_ones(
        cases in prop::collection::vec((0usize..3, decision()), 1..16)
    ) {
        let summaries = summaries(&cases);
        let refs: Vec<&CaseSummary> = summaries.iter().collect();
        let published = protect_area("2024-09", "kainuu", &refs);
        let f = figures(&published);

        // The truth, cell by cell, in the order `feasible` uses.
        let mut by_m: BTreeMap<usize, (u32, u32)> = BTreeMap::new();
        let (mut ack, mut rej) = (0, 0);
        for &(m, d) in &cases {
            let e = by_m.entry(m).or_default();
            e.0 += 1;
            match d {
                Decision::Acknowledged => { e.1 += 1; ack += 1; }
                Decision::Rejected => rej += 1,
                Decision::Undecided => {}
            }
        }
        let mut truth = vec![cases.len() as u32, ack, rej];
        for (r, a) in by_m.values() {
            truth.push(*r);
            truth.push(*a);
        }
        let mut shown = vec![f.referrals, f.acknowledged, f.rejected];
        for (r, a) in &f.municipalities {
            shown.push(*r);
            shown.push(*a);
        }
        prop_assert_eq!(shown.len(), truth.len());
        for (s, t) in shown.iter().zip(&truth) {
            if let Some(s) = s {
                prop_assert_eq!(s, t, "a published figure is the true one");
            } else {
                prop_assert!(*t > 0, "zeros are shown");
            }
            // Primary suppression: no small count is published.
            prop_assert!(!matches!(s, Some(1..=4)), "{:?}", f);
        }

        let feasible = feasible(&f, 15);
        for (i, (s, t)) in shown.iter().zip(&truth).enumerate() {
            prop_assert!(feasible[i].contains(t), "cell {}: the truth is feasible", i);
            if s.is_none() {
                prop_assert!(
                    feasible[i].len() >= 2,
                    "cell {} ({}) is suppressed but follows from {:?}: {:?}",
                    i, t, f, feasible[i]
                );
            }
        }
    }
}
