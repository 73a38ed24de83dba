//! A stored value that does not decode is an error, never a default: the test corrupts rows with
//! raw SQL and sees the store fail with a decode error and the RPCs answer `INTERNAL`. Each
//! scenario runs on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, TimeZone, Utc};
use kokeilu_platform::{ManualClock, SharedClock};
use kokeilu_proto::date_from_naive;
use kokeilu_proto::teoffice::{self as pb, te_office_service_client::TeOfficeServiceClient};
use kokeilu_rules::hetu::Hetu;
use kokeilu_test_support::{TestBackend, TestDb, on_both_backends};
use te_office::Application;
use te_office::store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::Channel;

on_both_backends!(
    corrupt_referral_is_an_error,
    corrupt_suspension_date_is_an_error
);

/// te-office on its own database and a real nats-server, served on port 0.
struct TeOffice {
    store: Store,
    client: TeOfficeServiceClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _nats: kokeilu_devtools::nats_server::NatsProcess,
    _db: TestDb,
}

impl TeOffice {
    /// `None` when the backend is PostgreSQL and no server is reachable.
    async fn start(backend: TestBackend) -> Option<Self> {
        let db = TestDb::new(backend).await?;
        let nats = kokeilu_test_support::nats();
        let clock: SharedClock = std::sync::Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap(),
        ));
        let mut config = kokeilu_platform::config::ServiceConfig::local(
            db.url(),
            &nats.url(),
            kokeilu_test_support::pki().files(&kokeilu_platform::identity::Identity::TeOffice),
        );
        config.pseudonym_key =
            Some(kokeilu_platform::privacy::PseudonymKey::generate("test-1").unwrap());
        let app = Application::build(&config, clock).await.unwrap();
        let store = Store::new(app.db().clone());
        let url = format!("https://127.0.0.1:{}", app.port());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let client = TeOfficeServiceClient::new(
            kokeilu_test_support::channel(&url, &kokeilu_platform::identity::Identity::TeOffice)
                .await,
        );
        Some(Self {
            store,
            client,
            stop: Some(stop),
            task: Some(task),
            _nats: nats,
            _db: db,
        })
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Runs one statement (with one text or integer parameter and the referral id) directly.
    async fn corrupt(&self, sql: &'static str, value: Value, referral_id: &str) {
        let q = sqlx::query(sql);
        let q = match value {
            Value::Text(s) => q.bind(s),
            Value::Int(n) => q.bind(n),
            Value::Null => q.bind(None::<String>),
            Value::NullInt => q.bind(None::<i64>),
        };
        let done = q.bind(referral_id).execute(self.store.db().pool()).await;
        assert_eq!(done.unwrap().rows_affected(), 1, "{sql}");
    }
}

#[derive(Debug, Clone, Copy)]
enum Value {
    Text(&'static str),
    Int(i64),
    Null,
    NullInt,
}

/// A valid henkilötunnus for test person `n` (born in the 1990s).
fn person(n: u32) -> String {
    let birth = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Duration::days(i64::from(n));
    Hetu::generate(birth, 2, false).unwrap().expose().to_owned()
}

fn referral(n: u32, municipality: &str) -> pb::SubmitReferralRequest {
    pb::SubmitReferralRequest {
        idempotency_key: format!("store-test-{n}"),
        jobseeker: Some(pb::Jobseeker {
            henkilotunnus: person(n),
            home_municipality_code: municipality.to_owned(),
            job_search_start_date: Some(date_from_naive(
                NaiveDate::from_ymd_opt(2024, 8, 28).unwrap(),
            )),
            grounds: vec![
                kokeilu_proto::referral::TargetGroupGround::NoEarningsRelatedAllowance as i32,
            ],
            facts: None,
            ..Default::default()
        }),
    }
}

fn is_decode_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::ColumnDecode { .. })
}

/// Every stored column the service decodes, each corrupted in turn: the store fails with a
/// decode error, the RPCs that read it answer INTERNAL, and with the good value back all is well.
async fn corrupt_referral_is_an_error(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend).await else {
        return;
    };
    let submitted = te
        .client
        .submit_referral(referral(1, "205"))
        .await
        .unwrap()
        .into_inner();
    let id = submitted.referral_id;
    let good = te.store.get(&id).await.unwrap().unwrap();
    assert_eq!(te.store.history(&id).await.unwrap().len(), 1);

    let corruptions: [(&'static str, Value, Value); 9] = [
        (
            "UPDATE referrals SET decided_by_residence = $1 WHERE referral_id = $2",
            Value::Int(7),
            Value::Int(0),
        ),
        (
            "UPDATE referrals SET initial_interview_date = $1 WHERE referral_id = $2",
            Value::Text("2024-13-01"),
            Value::Null,
        ),
        // A plan kind without the plan's id and date is half a plan, not a plan.
        (
            "UPDATE referrals SET plan_kind = $1 WHERE referral_id = $2",
            Value::Int(1),
            Value::NullInt,
        ),
        (
            "UPDATE referrals SET status = $1 WHERE referral_id = $2",
            Value::Int(99),
            Value::Int(1),
        ),
        (
            "UPDATE referrals SET referral_date = $1 WHERE referral_id = $2",
            Value::Text("garbage"),
            Value::Text("2024-09-02"),
        ),
        (
            "UPDATE referrals SET job_search_start = $1 WHERE referral_id = $2",
            Value::Text("2024-02-30"),
            Value::Text("2024-08-28"),
        ),
        (
            "UPDATE referrals SET grounds = $1 WHERE referral_id = $2",
            Value::Text("1,x"),
            Value::Text("1"),
        ),
        (
            "UPDATE referrals SET rejection_reason = $1 WHERE referral_id = $2",
            Value::Int(1 << 40),
            Value::Int(0),
        ),
        (
            "UPDATE referrals SET created_at = $1 WHERE referral_id = $2",
            Value::Int(i64::MAX),
            Value::Int(good.created_at.timestamp_micros()),
        ),
    ];
    for (sql, bad, fine) in corruptions {
        te.corrupt(sql, bad, &id).await;
        let err = te.store.get(&id).await.unwrap_err();
        assert!(is_decode_error(&err), "{sql} with {bad:?}: {err:?}");
        let status = te
            .client
            .get_referral(pb::GetReferralRequest {
                referral_id: id.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Internal, "{sql} with {bad:?}");
        // The caller learns nothing of the cause.
        assert_eq!(status.message(), "internal error");
        let status = te
            .client
            .list_referrals(pb::ListReferralsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Internal, "{sql} with {bad:?}");
        // The same person again: the live referral cannot be read, so no answer is made up.
        let status = te
            .client
            .submit_referral(referral(1, "205"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Internal, "{sql} with {bad:?}");
        te.corrupt(sql, fine, &id).await;
        assert_eq!(te.store.get(&id).await.unwrap().unwrap(), good);
    }

    // A history entry with a status no enum has, or an instant out of range.
    for (sql, bad) in [
        (
            "UPDATE referral_events SET status = $1 WHERE referral_id = $2",
            Value::Int(0),
        ),
        (
            "UPDATE referral_events SET at = $1 WHERE referral_id = $2",
            Value::Int(i64::MIN),
        ),
    ] {
        te.corrupt(sql, bad, &id).await;
        let err = te.store.history(&id).await.unwrap_err();
        assert!(is_decode_error(&err), "{sql} with {bad:?}: {err:?}");
        let err = te.store.changes_after(0, None, 10).await.unwrap_err();
        assert!(is_decode_error(&err), "{sql} with {bad:?}: {err:?}");
        let status = te
            .client
            .get_referral(pb::GetReferralRequest {
                referral_id: id.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Internal, "{sql} with {bad:?}");
        let mut watch = te
            .client
            .watch_referrals(pb::WatchReferralsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let first = watch.message().await.unwrap_err();
        assert_eq!(first.code(), Code::Internal, "{sql} with {bad:?}");
    }
    te.stop().await;
}

/// A suspension whose effective date (or partial scope) does not parse stops the submission with
/// INTERNAL instead of being read as "no suspension" (which would refer the client to a suspended
/// area).
async fn corrupt_suspension_date_is_an_error(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend).await else {
        return;
    };
    sqlx::query(
        "INSERT INTO suspensions (action_id, area_id, effective_from, partial, text, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind("action-1")
    .bind("kainuu")
    .bind("2024-02-30")
    .bind(0_i64)
    .bind("suspended")
    .bind(0_i64)
    .execute(te.store.db().pool())
    .await
    .unwrap();
    let mut tx = te.store.begin().await.unwrap();
    let err = te
        .store
        .suspensions_of(
            &mut tx,
            "kainuu",
            NaiveDate::from_ymd_opt(2024, 9, 2).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(is_decode_error(&err), "{err:?}");
    tx.rollback().await.unwrap();
    let status = te
        .client
        .submit_referral(referral(2, "205"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(
        te.store
            .count_by_status(te_office::domain::Status::Issued)
            .await
            .unwrap(),
        0
    );
    // Another area is unaffected.
    te.client.submit_referral(referral(3, "837")).await.unwrap();
    // A partial suspension whose scope does not decode is not read as "covers nobody".
    sqlx::query(
        "INSERT INTO suspensions (action_id, area_id, effective_from, partial, text, received_at, \
         scope) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind("action-2")
    .bind("helsinki")
    .bind("2024-09-01")
    .bind(1_i64)
    .bind("suspended in part")
    .bind(0_i64)
    .bind("{\"client_groups\": 7}")
    .execute(te.store.db().pool())
    .await
    .unwrap();
    let status = te
        .client
        .submit_referral(referral(4, "091"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    te.stop().await;
}
