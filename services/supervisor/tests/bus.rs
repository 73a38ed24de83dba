//! AVI over a real NATS server, on both backends: facts that overtake their referral wait for it
//! (parked) instead of failing into the dead-letter stream, and are applied when it arrives.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::nats::{Login, connect, jetstream};
use kokeilu_platform::clock::{ManualClock, SharedClock};
use kokeilu_platform::identity::Identity;
use kokeilu_proto::supervision::{FactKind, ServiceFact};
use kokeilu_proto::{date_from_naive, subjects, timestamp_from};
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends, pki, wait_for};
use prost::Message;
use supervisor::config::SupervisorConfig;

on_both_backends!(facts_before_their_referral_wait_and_nothing_is_dead_lettered);

const REFERRAL: &str = "0190a1b2-0000-7000-8000-0000000000aa";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap()
}

fn fact(kind: FactKind, fact_id: &str) -> ServiceFact {
    ServiceFact {
        kind: kind as i32,
        referral_id: REFERRAL.into(),
        area_id: "kainuu".into(),
        client_pseudonym: "a".repeat(64),
        date: Some(date_from_naive(start().date_naive())),
        municipality_code: "205".into(),
        fact_id: fact_id.into(),
        ..Default::default()
    }
}

async fn count(db: &kokeilu_bus::Db, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(db.pool())
        .await
        .unwrap();
    n
}

async fn facts_before_their_referral_wait_and_nothing_is_dead_lettered(backend: TestBackend) {
    let nats = kokeilu_test_support::nats();
    let Some(test_db) = TestDb::new(backend).await else {
        return;
    };
    let clock = ManualClock::new(start());
    let shared: SharedClock = std::sync::Arc::new(clock.clone());
    let mut config =
        SupervisorConfig::local(test_db.url(), &nats.url(), pki().files(&Identity::Avi));
    config.sweep_interval = Duration::from_secs(3600);
    let app = supervisor::Application::build(&config, shared)
        .await
        .unwrap();
    let db = app.db().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = connect(
        &Login::anonymous(&nats.url()),
        "test",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let js = jetstream(client);
    let publish = |subject: String, sender: kokeilu_proto::common::Agency, f: ServiceFact| {
        let js = js.clone();
        async move {
            let env = seal(sender, envelope::supervisor(), REFERRAL, None, &f, start());
            js.publish(subject, env.encode_to_vec().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    };
    // The area's receipt and acknowledgement reach AVI before the TE office's referral.
    let receipt = ServiceFact {
        received_at: Some(timestamp_from(start())),
        ..fact(FactKind::ReferralReceived, "r:received")
    };
    let area = || envelope::trial_area("kainuu");
    publish(subjects::supervision_fact("kainuu"), area(), receipt).await;
    publish(
        subjects::supervision_fact("kainuu"),
        area(),
        fact(FactKind::ReferralAcknowledged, "r:acknowledged"),
    )
    .await;
    wait_for("both facts parked", Duration::from_secs(30), || {
        let db = db.clone();
        async move { (count(&db, "SELECT COUNT(*) AS n FROM parked_facts").await == 2).then_some(()) }
    })
    .await;
    let issued = ServiceFact {
        grounds: vec!["under_30".into()],
        job_search_start_date: Some(date_from_naive(start().date_naive())),
        ..fact(FactKind::ReferralIssued, REFERRAL)
    };
    publish(subjects::te_office_fact(), envelope::te_office(), issued).await;
    // Applied on the referral's arrival: the acknowledgement deadline opened at receipt is met.
    wait_for("the parked facts applied", Duration::from_secs(30), || {
        let db = db.clone();
        async move {
            (count(
                &db,
                "SELECT COUNT(*) AS n FROM deadlines WHERE kind = 1 AND status = 2",
            )
            .await
                == 1)
                .then_some(())
        }
    })
    .await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM parked_facts").await,
        0
    );
    let dead = js
        .get_stream(subjects::DEAD_LETTER_STREAM)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(dead, 0, "nothing in the dead-letter stream");
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
