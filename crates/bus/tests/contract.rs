//! The bus's contract, on SQLite and PostgreSQL alike: outbox rows exist only if their
//! transaction commits, the relay publishes each once with its message id and marks it sent,
//! the inbox tells first deliveries from repeats, and a consumer applies a message once.

// Test harness code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use chrono::{TimeZone, Utc};
use futures::StreamExt;
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{
    Consumer, ConsumerConfig, Db, Handler, HandlerError, Incoming, Migrations, Outbox, Relay,
    RelayConfig, Tx, envelope, inbox,
};
use kokeilu_platform::{ManualClock, SharedClock};
use kokeilu_proto::referral::ReferralReceived;
use kokeilu_test_support::{TestBackend, TestDb, wait_for};
use prost::Message;
use sqlx::Row;
use tokio_util::sync::CancellationToken;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(kokeilu_test_support::TestBackend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(kokeilu_test_support::TestBackend::Postgres).await;
            }
        }
    )*};
}

on_both_backends!(
    outbox_rows_follow_their_transaction,
    relay_publishes_each_row_once_and_marks_it_sent,
    inbox_tells_repeats_apart,
    consumer_applies_each_message_once,
    idempotency_keys_replay_the_first_response,
    concurrent_calls_with_one_key_do_the_work_once,
);

fn clock() -> SharedClock {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap(),
    ))
}

fn message(n: u32) -> OutgoingMessage {
    let payload = ReferralReceived {
        referral_id: format!("r-{n}"),
        area_id: "kainuu".into(),
        received_at: None,
    };
    let env = envelope::seal(
        envelope::trial_area("kainuu"),
        envelope::te_office(),
        &payload.referral_id,
        None,
        &payload,
        Utc::now(),
    );
    OutgoingMessage::new(kokeilu_proto::subjects::referral_received("kainuu"), env)
}

async fn db(backend: TestBackend) -> Option<(TestDb, Db)> {
    let test_db = TestDb::new(backend).await?;
    // The bus's own migrations only, plus a table the test handler writes its effects to.
    let db = Db::connect(test_db.url(), 4, &Migrations::NONE)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE effects (message_id TEXT NOT NULL, note TEXT NOT NULL)")
        .execute(db.pool())
        .await
        .unwrap();
    Some((test_db, db))
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn outbox_rows_follow_their_transaction(backend: TestBackend) {
    let Some((_t, db)) = db(backend).await else {
        return;
    };
    let mut tx = db.begin().await.unwrap();
    outbox::enqueue(&mut tx, &message(1), Utc::now())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox").await, 0);

    let mut tx = db.begin().await.unwrap();
    outbox::enqueue(&mut tx, &message(2), Utc::now())
        .await
        .unwrap();
    outbox::enqueue(&mut tx, &message(3), Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outbox::pending(&db).await.unwrap(), 2);
}

async fn relay_publishes_each_row_once_and_marks_it_sent(backend: TestBackend) {
    let Some((_t, db)) = db(backend).await else {
        return;
    };
    let nats = kokeilu_test_support::nats();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = kokeilu_bus::nats::jetstream(client);
    // kokeilu_test_support::nats() provisions the streams.
    kokeilu_bus::streams::check(&js, 1).await.unwrap();

    let mut ids = Vec::new();
    let mut tx = db.begin().await.unwrap();
    for n in 0..1200 {
        let m = message(n);
        ids.push(m.envelope.message_id.clone());
        outbox::enqueue(&mut tx, &m, Utc::now()).await.unwrap();
    }
    tx.commit().await.unwrap();

    // Two relays on the same database (two replicas) share the work.
    let relays: Vec<Relay> = (0..2)
        .map(|_| {
            Relay::new(
                db.clone(),
                js.clone(),
                Outbox::new(),
                clock(),
                RelayConfig::default(),
            )
        })
        .collect();
    let (a, b) = tokio::join!(relays[0].publish_batch(), relays[1].publish_batch());
    let first_round = a.unwrap() + b.unwrap();
    assert!(first_round <= 1000, "a batch is at most 500 rows per relay");
    while relays[0].publish_batch().await.unwrap() > 0 {}
    assert_eq!(outbox::pending(&db).await.unwrap(), 0);

    // Every message is in the stream exactly once, in order, with its message id.
    let stream = js
        .get_stream(kokeilu_proto::subjects::REFERRAL_STREAM)
        .await
        .unwrap();
    let mut info = stream.clone();
    assert_eq!(info.info().await.unwrap().state.messages, 1200);
    let mut seen = Vec::new();
    for seq in 1..=1200 {
        let m = stream.get_raw_message(seq).await.unwrap();
        let env = envelope::decode(&m.payload).unwrap();
        assert_eq!(
            m.headers.get("Nats-Msg-Id").unwrap().as_str(),
            env.message_id
        );
        seen.push(env.message_id);
    }
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected);

    // Republishing a row (as after a crash between publish and mark) is dropped by JetStream.
    sqlx::query("UPDATE outbox SET sent_at = NULL, lease_until = 0")
        .execute(db.pool())
        .await
        .unwrap();
    while relays[1].publish_batch().await.unwrap() > 0 {}
    assert_eq!(info.info().await.unwrap().state.messages, 1200);
}

async fn inbox_tells_repeats_apart(backend: TestBackend) {
    let Some((_t, db)) = db(backend).await else {
        return;
    };
    let mut tx = db.begin().await.unwrap();
    assert!(
        inbox::record(&mut tx, "m-1", "s", Utc::now())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    assert!(
        !inbox::record(&mut tx, "m-1", "s", Utc::now())
            .await
            .unwrap()
    );
    assert!(
        inbox::record(&mut tx, "m-2", "s", Utc::now())
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    // The rolled-back record is not there: a redelivery after a failed effect is applied.
    let mut tx = db.begin().await.unwrap();
    assert!(
        inbox::record(&mut tx, "m-2", "s", Utc::now())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

/// Records each message's effect; fails the first delivery of "r-5" transiently.
struct Recorder {
    failed_once: std::sync::Mutex<bool>,
}

impl Handler for Recorder {
    async fn handle(&self, tx: &mut Tx, msg: &Incoming) -> Result<(), HandlerError> {
        let p: ReferralReceived = envelope::open(&msg.envelope)?;
        sqlx::query("INSERT INTO effects (message_id, note) VALUES ($1, $2)")
            .bind(&msg.envelope.message_id)
            .bind(&p.referral_id)
            .execute(&mut **tx)
            .await?;
        if p.referral_id == "r-5" {
            let mut failed = self.failed_once.lock().unwrap();
            if !*failed {
                *failed = true;
                return Err(HandlerError::Transient("simulated".into()));
            }
        }
        Ok(())
    }
}

async fn consumer_applies_each_message_once(backend: TestBackend) {
    let Some((_t, db)) = db(backend).await else {
        return;
    };
    let nats = kokeilu_test_support::nats();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = kokeilu_bus::nats::jetstream(client);
    // kokeilu_test_support::nats() provisions the streams.
    kokeilu_bus::streams::check(&js, 1).await.unwrap();
    let mut config = ConsumerConfig::new(
        kokeilu_proto::subjects::REFERRAL_STREAM,
        "contract-test",
        vec!["kokeilu.v1.referral.kainuu.received".into()],
    );
    config.backoff = vec![Duration::from_millis(50)];
    let consumer = Consumer::new(
        db.clone(),
        js.clone(),
        config,
        Arc::new(Recorder {
            failed_once: std::sync::Mutex::new(false),
        }),
        Outbox::new(),
        clock(),
    );
    let cancel = CancellationToken::new();
    let task = tokio::spawn(consumer.run(cancel.clone()));

    // Ten messages, each published twice under different Nats-Msg-Ids (forced redelivery).
    for n in 0..10 {
        let m = message(n);
        for copy in 0..2 {
            js.send_publish(
                m.subject.clone(),
                PublishMessage::build()
                    .payload(m.envelope.encode_to_vec().into())
                    .message_id(format!("{}-{copy}", m.envelope.message_id)),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
    }
    wait_for("ten effects", Duration::from_secs(30), || {
        let db = db.clone();
        async move { (count(&db, "SELECT COUNT(*) FROM effects").await == 10).then_some(()) }
    })
    .await;
    // Everything acknowledged, and still exactly one effect per message.
    wait_for("no pending messages", Duration::from_secs(30), || {
        let js = js.clone();
        async move {
            let mut c: async_nats::jetstream::consumer::PullConsumer = js
                .get_stream(kokeilu_proto::subjects::REFERRAL_STREAM)
                .await
                .ok()?
                .get_consumer("contract-test")
                .await
                .ok()?;
            let i = c.info().await.ok()?;
            (i.num_pending == 0 && i.num_ack_pending == 0).then_some(())
        }
    })
    .await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM effects").await, 10);
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT note) FROM effects").await,
        10
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM inbox").await, 10);
    cancel.cancel();
    task.await.unwrap().unwrap();
    let _ = futures::stream::iter([0]).next().await;
}

async fn idempotency_keys_replay_the_first_response(backend: TestBackend) {
    use kokeilu_bus::idempotency::{self, Claim};
    let Some((_t, db)) = db(backend).await else {
        return;
    };
    let m = "/kokeilu.test.v1.Test/Do";
    let (a, b) = (
        idempotency::fingerprint(b"a"),
        idempotency::fingerprint(b"b"),
    );
    // A claim rolled back with a failed call leaves nothing behind.
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        idempotency::claim(&mut tx, m, "k", &a, Utc::now())
            .await
            .unwrap(),
        Claim::New
    );
    tx.rollback().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        idempotency::claim(&mut tx, m, "k", &b, Utc::now())
            .await
            .unwrap(),
        Claim::New
    );
    idempotency::complete(&mut tx, m, "k", b"first")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        idempotency::claim(&mut tx, m, "k", &b, Utc::now())
            .await
            .unwrap(),
        Claim::Replay(b"first".to_vec())
    );
    assert_eq!(
        idempotency::claim(&mut tx, m, "k", &a, Utc::now())
            .await
            .unwrap(),
        Claim::Conflict
    );
    // Keys are per method.
    assert_eq!(
        idempotency::claim(&mut tx, "/other", "k", &a, Utc::now())
            .await
            .unwrap(),
        Claim::New
    );
    tx.rollback().await.unwrap();
}

async fn concurrent_calls_with_one_key_do_the_work_once(backend: TestBackend) {
    use kokeilu_bus::idempotency::{self, Claim};
    let Some((_t, db)) = db(backend).await else {
        return;
    };
    let m = "/kokeilu.test.v1.Test/Do";
    let f = idempotency::fingerprint(b"same");
    let call = |n: u8| {
        let db = db.clone();
        let f = f.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            let claim = idempotency::claim(&mut tx, m, "k", &f, Utc::now())
                .await
                .unwrap();
            if claim == Claim::New {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                idempotency::complete(&mut tx, m, "k", &[n]).await.unwrap();
            }
            tx.commit().await.unwrap();
            claim
        }
    };
    let claims = futures::future::join_all((0..4).map(call)).await;
    let new = claims.iter().filter(|c| **c == Claim::New).count();
    assert_eq!(new, 1, "{claims:?}");
    let first = claims
        .iter()
        .position(|c| *c == Claim::New)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap();
    for c in claims.iter().filter(|c| **c != Claim::New) {
        assert_eq!(*c, Claim::Replay(vec![first]));
    }
}
