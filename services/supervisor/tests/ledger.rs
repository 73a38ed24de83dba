//! AVI's ledger on both backends, on a manual clock: deadlines from the area's receipt (1269/2020
//! 24 §), facts in any order (parked until their referral or receipt arrives), the residence
//! basis (149/2023), retractions of misses an on-time fact disproves, the sweep's lateness
//! watermark, and facts counted once by their id.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kokeilu_bus::{Db, Outbox};
use kokeilu_platform::clock::{ManualClock, SharedClock};
use kokeilu_proto::supervision::{FactKind, ServiceFact};
use kokeilu_proto::supervisor::supervisor_service_server::SupervisorService;
use kokeilu_proto::{date_from_naive, timestamp_from};
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use supervisor::domain::{ComplianceEvent, ComplianceKind, DeadlineKind, DeadlineStatus};
use supervisor::ledger::Ledger;
use supervisor::startup::MIGRATIONS;

on_both_backends!(
    referral_facts_apply_in_either_order,
    the_2021_start_batch_raises_nothing_before_the_lawful_deadline,
    an_on_time_interview_after_the_reported_miss_is_met_with_one_retraction,
    a_fact_before_its_referral_is_parked_then_applied,
    a_parked_fact_of_another_area_is_refused_when_applied,
    a_temporary_protection_referral_by_residence_is_no_wrong_area,
    the_sweep_waits_for_the_watermark,
    a_repeated_fact_id_counts_once,
    a_case_recorded_before_receipts_keeps_its_deadlines,
);

const KAINUU: &str = "kainuu";
const KAJAANI: &str = "205";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// `hh:mm` UTC on `d`.
fn at(d: &str, h: u32, m: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day(d).and_hms_opt(h, m, 0).unwrap())
}

fn referral_id(n: u32) -> String {
    format!("0190a1b2-0000-7000-8000-{n:012}")
}

struct Env {
    _test_db: TestDb,
    db: Db,
    ledger: Ledger,
    clock: ManualClock,
}

async fn env(backend: TestBackend, start: DateTime<Utc>, watermark: Duration) -> Option<Env> {
    let test_db = TestDb::new(backend).await?;
    let db = Db::connect(test_db.url(), 2, &MIGRATIONS).await.unwrap();
    let clock = ManualClock::new(start);
    let shared: SharedClock = std::sync::Arc::new(clock.clone());
    let ledger = Ledger::new(db.clone(), Outbox::new(), shared, 2).with_watermark(watermark);
    Some(Env {
        _test_db: test_db,
        db,
        ledger,
        clock,
    })
}

/// The TE office's REFERRAL_ISSUED.
fn issued(n: u32, municipality: &str, start: &str, on: &str) -> ServiceFact {
    ServiceFact {
        kind: FactKind::ReferralIssued as i32,
        referral_id: referral_id(n),
        area_id: KAINUU.into(),
        client_pseudonym: format!("{n:064}"),
        date: Some(date_from_naive(day(on))),
        municipality_code: municipality.into(),
        grounds: vec!["under_30".into()],
        job_search_start_date: Some(date_from_naive(day(start))),
        fact_id: referral_id(n),
        ..Default::default()
    }
}

/// The area's REFERRAL_RECEIVED at `when` (dated its Finnish date).
fn received(n: u32, when: DateTime<Utc>) -> ServiceFact {
    ServiceFact {
        received_at: Some(timestamp_from(when)),
        ..fact(
            n,
            FactKind::ReferralReceived,
            &kokeilu_platform::clock::finnish_date(when).to_string(),
            &format!("{}:received", referral_id(n)),
        )
    }
}

/// An area's fact about referral `n`.
fn fact(n: u32, kind: FactKind, on: &str, fact_id: &str) -> ServiceFact {
    ServiceFact {
        kind: kind as i32,
        referral_id: referral_id(n),
        area_id: KAINUU.into(),
        client_pseudonym: format!("{n:064}"),
        date: Some(date_from_naive(day(on))),
        municipality_code: KAJAANI.into(),
        fact_id: fact_id.into(),
        ..Default::default()
    }
}

impl Env {
    async fn apply(&self, fact: &ServiceFact) {
        let mut tx = self.ledger.store.begin().await.unwrap();
        self.ledger.apply(&mut tx, fact).await.unwrap();
        tx.commit().await.unwrap();
    }

    async fn events(&self, standing_only: bool) -> Vec<ComplianceEvent> {
        self.ledger
            .events_after(0, "", &[], standing_only, 1000)
            .await
            .unwrap()
    }

    /// (kind, due, status, done) of a referral's deadlines, by id.
    async fn deadlines(&self, n: u32) -> Vec<(DeadlineKind, NaiveDate, DeadlineStatus, i64)> {
        let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT kind, due, status, done FROM deadlines WHERE referral_id = $1 ORDER BY id",
        )
        .bind(referral_id(n))
        .fetch_all(self.db.pool())
        .await
        .unwrap();
        rows.into_iter()
            .map(|(k, due, s, done)| {
                (
                    DeadlineKind::try_from(k).unwrap(),
                    day(&due),
                    DeadlineStatus::try_from(s).unwrap(),
                    done,
                )
            })
            .collect()
    }

    async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(self.db.pool())
            .await
            .unwrap();
        n
    }

    async fn sweep_at(&self, now: DateTime<Utc>) -> usize {
        self.clock.set(now);
        self.ledger.sweep_now().await.unwrap()
    }
}

async fn referral_facts_apply_in_either_order(backend: TestBackend) {
    let Some(env) = env(backend, at("2024-09-02", 9, 0), Duration::zero()).await else {
        return;
    };
    // 1: issued Fri 30.8, received Mon 2.9 (the statutory 5 working days from the start, Fri
    // 6.9, fall after the receipt); 2: the same facts, the receipt first.
    for (n, receipt_first) in [(1, false), (2, true)] {
        let issue = issued(n, KAJAANI, "2024-08-30", "2024-08-30");
        let receipt = received(n, at("2024-09-02", 7, 0));
        if receipt_first {
            env.apply(&receipt).await;
            assert!(
                env.deadlines(n).await.is_empty(),
                "nothing opens before the referral"
            );
            env.apply(&issue).await;
        } else {
            env.apply(&issue).await;
            assert!(
                env.deadlines(n).await.is_empty(),
                "nothing opens before receipt"
            );
            env.apply(&receipt).await;
        }
        assert_eq!(
            env.deadlines(n).await,
            [
                (
                    DeadlineKind::Acknowledgement,
                    day("2024-09-04"),
                    DeadlineStatus::Open,
                    0
                ),
                (
                    DeadlineKind::InitialInterview,
                    day("2024-09-06"),
                    DeadlineStatus::Open,
                    0
                ),
            ],
            "referral {n}"
        );
    }
    assert_eq!(env.count("SELECT COUNT(*) AS n FROM parked_facts").await, 0);
    let (received_on,): (Option<String>,) =
        sqlx::query_as("SELECT received_on FROM cases WHERE referral_id = $1")
            .bind(referral_id(2))
            .fetch_one(env.db.pool())
            .await
            .unwrap();
    assert_eq!(received_on.as_deref(), Some("2024-09-02"));
    // An acknowledgement that overtakes the receipt waits for it and then meets its deadline.
    env.apply(&issued(3, KAJAANI, "2024-08-30", "2024-08-30"))
        .await;
    env.apply(&fact(
        3,
        FactKind::ReferralAcknowledged,
        "2024-09-02",
        "r3:acknowledged",
    ))
    .await;
    assert_eq!(env.count("SELECT COUNT(*) AS n FROM parked_facts").await, 1);
    env.apply(&received(3, at("2024-09-02", 7, 0))).await;
    assert_eq!(env.count("SELECT COUNT(*) AS n FROM parked_facts").await, 0);
    assert_eq!(
        env.deadlines(3).await[0],
        (
            DeadlineKind::Acknowledgement,
            day("2024-09-04"),
            DeadlineStatus::Met,
            1
        )
    );
    assert!(env.events(false).await.is_empty());
}

async fn the_2021_start_batch_raises_nothing_before_the_lawful_deadline(backend: TestBackend) {
    let Some(env) = env(backend, at("2021-03-01", 6, 0), Duration::zero()).await else {
        return;
    };
    // Clients whose job search began in autumn 2020, under the TE office, are referred and
    // received on the trial's first day, Mon 1.3.2021, and acknowledged at once. Their
    // statutory interviews (2 weeks from the start, JTYPL 2:4) fell before the trial.
    let starts = [
        "2020-09-01",
        "2020-10-15",
        "2020-11-30",
        "2020-12-21",
        "2021-02-10",
    ];
    for (i, start) in starts.iter().enumerate() {
        let n = u32::try_from(i).unwrap() + 1;
        env.apply(&issued(n, KAJAANI, start, "2021-03-01")).await;
        env.apply(&received(n, at("2021-03-01", 8, 0))).await;
        env.apply(&fact(
            n,
            FactKind::ReferralAcknowledged,
            "2021-03-01",
            &format!("{n}:ack"),
        ))
        .await;
    }
    let mut dues = Vec::new();
    for n in 1..=5u32 {
        dues.push(env_interview_due(&env, n).await);
    }
    // The area's period runs from its receipt: 2 weeks from 1.3.2021 is Mon 15.3.2021.
    assert!(dues.iter().all(|d| *d == day("2021-03-15")), "{dues:?}");
    // Every day up to and including the due date: nothing.
    let mut today = day("2021-03-01");
    while today <= day("2021-03-15") {
        let noon = Utc.from_utc_datetime(&today.and_hms_opt(10, 0, 0).unwrap());
        assert_eq!(env.sweep_at(noon).await, 0, "on {today}");
        today = today.succ_opt().unwrap();
    }
    assert!(env.events(false).await.is_empty());
    // The day after: each client's interview is missed, due no earlier than the receipt.
    assert_eq!(env.sweep_at(at("2021-03-16", 10, 0)).await, 5);
    let events = env.events(false).await;
    assert_eq!(events.len(), 5);
    for e in &events {
        assert_eq!(e.kind, ComplianceKind::DeadlineMissed);
        assert_eq!(e.deadline, Some(DeadlineKind::InitialInterview));
        assert!(e.due.unwrap() >= day("2021-03-01"));
        assert!(e.rule.contains("interpretation"), "{}", e.rule);
        assert_eq!(e.municipality, KAJAANI);
    }
}

async fn env_interview_due(env: &Env, n: u32) -> NaiveDate {
    env.deadlines(n)
        .await
        .into_iter()
        .find(|d| d.0 == DeadlineKind::InitialInterview)
        .unwrap()
        .1
}

async fn an_on_time_interview_after_the_reported_miss_is_met_with_one_retraction(
    backend: TestBackend,
) {
    let Some(env) = env(backend, at("2024-09-02", 9, 0), Duration::zero()).await else {
        return;
    };
    env.apply(&issued(1, KAJAANI, "2024-08-30", "2024-08-30"))
        .await;
    env.apply(&received(1, at("2024-09-02", 7, 0))).await;
    env.apply(&fact(
        1,
        FactKind::ReferralAcknowledged,
        "2024-09-02",
        "ack",
    ))
    .await;
    // The interview is held on its due date, Fri 6.9, but its fact is delayed past the sweep.
    assert_eq!(env.sweep_at(at("2024-09-07", 10, 0)).await, 1);
    let missed = env.events(false).await;
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].kind, ComplianceKind::DeadlineMissed);
    env.clock.set(at("2024-09-07", 11, 0));
    env.apply(&fact(
        1,
        FactKind::InitialInterviewHeld,
        "2024-09-06",
        "interview-1",
    ))
    .await;
    // Redelivered: changes nothing more.
    env.apply(&fact(
        1,
        FactKind::InitialInterviewHeld,
        "2024-09-06",
        "interview-1",
    ))
    .await;
    let interview = env
        .deadlines(1)
        .await
        .into_iter()
        .find(|d| d.0 == DeadlineKind::InitialInterview)
        .unwrap();
    assert_eq!(interview.2, DeadlineStatus::Met);
    let all = env.events(false).await;
    let kinds: Vec<_> = all.iter().map(|e| (e.kind, e.retracted)).collect();
    assert_eq!(
        kinds,
        [
            (ComplianceKind::DeadlineMissed, true),
            (ComplianceKind::Retraction, false)
        ],
        "one correction, no MET_LATE"
    );
    assert_eq!(all[1].retracts_event_id, all[0].event_id);
    assert_eq!(all[1].municipality, KAJAANI);
    assert!(env.events(true).await.is_empty(), "nothing stands");
    // The summaries count standing events only.
    let summary = env.ledger.municipalities(KAINUU).await.unwrap();
    assert_eq!((summary.standing_events, summary.retracted_events), (0, 1));
    assert_eq!(summary.lead, KAJAANI);
    let kajaani = summary.rows.iter().find(|r| r.code == KAJAANI).unwrap();
    assert_eq!(kajaani.name, "Kajaani");
    assert_eq!(
        (
            kajaani.referrals,
            kajaani.initial_interviews,
            kajaani.late_initial_interviews,
            kajaani.standing_events
        ),
        (1, 1, 0, 0)
    );
    let counts = env.ledger.deadline_counts(KAINUU).await.unwrap();
    let row = counts
        .iter()
        .find(|c| c.kind == DeadlineKind::InitialInterview)
        .unwrap();
    assert_eq!((row.met, row.missed, row.met_late), (1, 0, 0));
    let months = env.ledger.monthly(KAINUU).await.unwrap();
    assert_eq!(months[0].late_initial_interviews, 0);
    // The same through the API: the standing list is empty, the full list marks the miss, and
    // the area's report counts nothing against Kajaani.
    let api = supervisor::grpc::Api::new(
        env.ledger.clone(),
        tokio_util::sync::CancellationToken::new(),
        kokeilu_platform::limits::StreamCap::new(1),
    );
    let list = |standing_only| {
        api.list_compliance_events(tonic::Request::new(
            kokeilu_proto::supervisor::ListComplianceEventsRequest {
                area_id: KAINUU.into(),
                standing_only,
                ..Default::default()
            },
        ))
    };
    assert!(list(true).await.unwrap().into_inner().events.is_empty());
    let listed = list(false).await.unwrap().into_inner().events;
    assert_eq!(
        listed
            .iter()
            .map(|e| (e.kind, e.retracted, e.municipality_code.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                kokeilu_proto::supervision::ComplianceKind::DeadlineMissed as i32,
                true,
                KAJAANI
            ),
            (
                kokeilu_proto::supervision::ComplianceKind::Retraction as i32,
                false,
                KAJAANI
            ),
        ]
    );
    assert_eq!(listed[1].retracts_event_id, listed[0].event_id);
    let report = api
        .get_area_summary(tonic::Request::new(
            kokeilu_proto::supervisor::GetAreaSummaryRequest {
                area_id: KAINUU.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.lead_municipality_code, KAJAANI);
    assert_eq!((report.standing_events, report.retracted_events), (0, 1));
    assert_eq!(report.municipalities.len(), 7, "every member of Kainuu");
    let kajaani = report
        .municipalities
        .iter()
        .find(|m| m.municipality_code == KAJAANI)
        .unwrap();
    assert_eq!(
        (
            kajaani.name.as_str(),
            kajaani.referrals,
            kajaani.late_initial_interviews,
            kajaani.standing_events
        ),
        ("Kajaani", 1, 0, 0)
    );
    // One outbox message per raised event: the miss and its correction.
    assert_eq!(env.count("SELECT COUNT(*) AS n FROM outbox").await, 2);
    // A later sweep raises nothing more.
    assert_eq!(env.sweep_at(at("2024-09-10", 10, 0)).await, 0);
    // Every stored column reads through the driver (no SQLite booleans the Any driver refuses).
    for table in [
        "cases",
        "compliance_events",
        "counted_facts",
        "parked_facts",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
            .fetch_all(env.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
    }
}

async fn a_fact_before_its_referral_is_parked_then_applied(backend: TestBackend) {
    let Some(env) = env(backend, at("2024-09-02", 9, 0), Duration::zero()).await else {
        return;
    };
    // The area's facts overtake the TE office's referral: the receipt, the acknowledgement and
    // the interview. None fails (nothing for a redelivery or the dead-letter stream).
    env.apply(&received(1, at("2024-09-02", 7, 0))).await;
    env.apply(&fact(
        1,
        FactKind::ReferralAcknowledged,
        "2024-09-02",
        "ack",
    ))
    .await;
    env.apply(&fact(
        1,
        FactKind::InitialInterviewHeld,
        "2024-09-03",
        "int",
    ))
    .await;
    assert_eq!(env.ledger.store.parked_count().await.unwrap(), 3);
    assert_eq!(env.count("SELECT COUNT(*) AS n FROM cases").await, 0);
    env.apply(&issued(1, KAJAANI, "2024-08-30", "2024-08-30"))
        .await;
    assert_eq!(env.ledger.store.parked_count().await.unwrap(), 0);
    let deadlines = env.deadlines(1).await;
    assert_eq!(
        deadlines[..2],
        [
            (
                DeadlineKind::Acknowledgement,
                day("2024-09-04"),
                DeadlineStatus::Met,
                1
            ),
            (
                DeadlineKind::InitialInterview,
                day("2024-09-06"),
                DeadlineStatus::Met,
                1
            ),
        ]
    );
    // The interview opened the discussions after it.
    assert!(
        deadlines
            .iter()
            .any(|d| d.0 == DeadlineKind::IntensiveDiscussions)
    );
    assert!(env.events(false).await.is_empty());
}

async fn a_parked_fact_of_another_area_is_refused_when_applied(backend: TestBackend) {
    let Some(env) = env(backend, at("2024-09-02", 9, 0), Duration::zero()).await else {
        return;
    };
    // Another area reports on a referral it does not have, before the referral arrives.
    let foreign = ServiceFact {
        area_id: "oulu".into(),
        ..fact(1, FactKind::ReferralAcknowledged, "2024-09-02", "x")
    };
    env.apply(&foreign).await;
    env.apply(&issued(1, KAJAANI, "2024-08-30", "2024-08-30"))
        .await;
    env.apply(&received(1, at("2024-09-02", 7, 0))).await;
    assert_eq!(env.ledger.store.parked_count().await.unwrap(), 0);
    let ack = env.deadlines(1).await[0];
    assert_eq!(ack.0, DeadlineKind::Acknowledgement);
    assert_eq!(
        ack.2,
        DeadlineStatus::Open,
        "the foreign fact counted nothing"
    );
    let (acknowledged,): (Option<String>,) =
        sqlx::query_as("SELECT acknowledged_on FROM cases WHERE referral_id = $1")
            .bind(referral_id(1))
            .fetch_one(env.db.pool())
            .await
            .unwrap();
    assert_eq!(acknowledged, None);
}

async fn a_temporary_protection_referral_by_residence_is_no_wrong_area(backend: TestBackend) {
    let Some(env) = env(backend, at("2024-09-02", 9, 0), Duration::zero()).await else {
        return;
    };
    // Under temporary protection, living in Kajaani, no home municipality in Finland: the
    // TE office decided the area by residence (149/2023).
    let by_residence = ServiceFact {
        residence_municipality_code: KAJAANI.into(),
        decided_by_residence: true,
        grounds: vec!["temporary_protection".into()],
        ..issued(1, KAJAANI, "2024-08-30", "2024-09-02")
    };
    env.apply(&by_residence).await;
    assert!(env.events(false).await.is_empty());
    // A client living in Helsinki referred to Kainuu: wrong area, judged by the residence.
    let elsewhere = ServiceFact {
        residence_municipality_code: "091".into(),
        municipality_code: "091".into(),
        ..by_residence.clone()
    };
    env.apply(&ServiceFact {
        referral_id: referral_id(2),
        ..elsewhere
    })
    .await;
    let events = env.events(false).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, ComplianceKind::WrongArea);
    assert!(events[0].rule.contains("149/2023"), "{}", events[0].rule);
    // Before 1.3.2023 the residence decided nothing: the same referral is in the wrong area.
    env.apply(&ServiceFact {
        referral_id: referral_id(3),
        date: Some(date_from_naive(day("2023-02-28"))),
        ..by_residence
    })
    .await;
    assert_eq!(env.events(false).await.len(), 2);
}

async fn the_sweep_waits_for_the_watermark(backend: TestBackend) {
    let Some(env) = env(backend, at("2024-09-02", 9, 0), Duration::hours(24)).await else {
        return;
    };
    for n in [1, 2] {
        env.apply(&issued(n, KAJAANI, "2024-08-30", "2024-08-30"))
            .await;
        env.apply(&received(n, at("2024-09-02", 7, 0))).await;
    }
    // Acknowledgements due Wed 4.9. On Thu 5.9 and until Thu 23:59 Finnish time nothing is
    // missed: referral 1's acknowledgement of 4.9 arrives then and is simply met.
    assert_eq!(env.sweep_at(at("2024-09-05", 10, 0)).await, 0);
    env.apply(&fact(1, FactKind::ReferralAcknowledged, "2024-09-04", "a1"))
        .await;
    // 5.9 20:59 UTC is 23:59 in Finland (UTC+3): still within the watermark.
    assert_eq!(env.sweep_at(at("2024-09-05", 20, 59)).await, 0);
    // More than 24 hours after the due day ended (Fri 6.9 00:01 Finnish time): missed.
    assert_eq!(env.sweep_at(at("2024-09-05", 21, 1)).await, 1);
    let events = env.events(false).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].referral_id, referral_id(2));
    assert_eq!(env.deadlines(1).await[0].2, DeadlineStatus::Met);
}

async fn a_repeated_fact_id_counts_once(backend: TestBackend) {
    let Some(env) = env(backend, at("2024-09-02", 9, 0), Duration::zero()).await else {
        return;
    };
    env.apply(&issued(1, KAJAANI, "2024-08-30", "2024-08-30"))
        .await;
    env.apply(&received(1, at("2024-09-02", 7, 0))).await;
    env.apply(&fact(
        1,
        FactKind::InitialInterviewHeld,
        "2024-09-03",
        "int",
    ))
    .await;
    // One discussion reported twice (a retried RecordServiceEvent): counts once.
    let discussion = fact(
        1,
        FactKind::JobSearchDiscussionHeld,
        "2024-09-10",
        "event-7",
    );
    env.apply(&discussion).await;
    env.apply(&discussion).await;
    let intensive = |d: Vec<(DeadlineKind, NaiveDate, DeadlineStatus, i64)>| {
        d.into_iter()
            .find(|d| d.0 == DeadlineKind::IntensiveDiscussions)
            .unwrap()
            .3
    };
    assert_eq!(intensive(env.deadlines(1).await), 1);
    // Another discussion (another id) counts.
    env.apply(&fact(
        1,
        FactKind::JobSearchDiscussionHeld,
        "2024-09-17",
        "event-8",
    ))
    .await;
    assert_eq!(intensive(env.deadlines(1).await), 2);
    // A redelivered receipt opens nothing twice.
    let before = env.deadlines(1).await.len();
    env.apply(&received(1, at("2024-09-02", 7, 0))).await;
    assert_eq!(env.deadlines(1).await.len(), before);
}

async fn a_case_recorded_before_receipts_keeps_its_deadlines(backend: TestBackend) {
    let Some(env) = env(backend, at("2024-09-02", 9, 0), Duration::zero()).await else {
        return;
    };
    // A case as an earlier version stored it: deadlines opened at the referral, no receipt.
    sqlx::query(
        "INSERT INTO cases (referral_id, area_id, client_pseudonym, municipality_code, \
         referral_date, job_search_start, grounds, created_at) \
         VALUES ($1, 'kainuu', 'p1', '205', '2024-08-30', '2024-08-30', '', 0)",
    )
    .bind(referral_id(1))
    .execute(env.db.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO deadlines (referral_id, area_id, client_pseudonym, kind, due, required, \
         done, status, rule) VALUES ($1, 'kainuu', 'p1', 1, '2024-09-03', 1, 0, 1, 'rule')",
    )
    .bind(referral_id(1))
    .execute(env.db.pool())
    .await
    .unwrap();
    // Its facts apply at once (nothing waits for a receipt), and a receipt opens nothing new.
    env.apply(&fact(1, FactKind::ReferralAcknowledged, "2024-09-02", "a"))
        .await;
    env.apply(&received(1, at("2024-09-02", 7, 0))).await;
    assert_eq!(env.ledger.store.parked_count().await.unwrap(), 0);
    assert_eq!(
        env.deadlines(1).await,
        [(
            DeadlineKind::Acknowledgement,
            day("2024-09-03"),
            DeadlineStatus::Met,
            1
        )]
    );
}
