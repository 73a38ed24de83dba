//! te-office on its own database and a real nats-server, served on port 0, with a manual clock;
//! helpers to act as AVI on NATS and to read what te-office published.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kokeilu_bus::envelope;
use kokeilu_platform::{ManualClock, SharedClock};
use kokeilu_proto::common::Envelope;
use kokeilu_proto::supervision::SupervisoryAction;
use kokeilu_proto::teoffice::te_office_service_client::TeOfficeServiceClient;
use kokeilu_proto::{Payload, subjects};
use kokeilu_rules::hetu::Hetu;
use kokeilu_test_support::{TestBackend, TestDb};
use prost::Message;
use te_office::Application;
use te_office::store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub struct TeOffice {
    pub store: Store,
    pub client: TeOfficeServiceClient<Channel>,
    pub clock: ManualClock,
    pub js: async_nats::jetstream::Context,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _nats: kokeilu_devtools::nats_server::NatsProcess,
    _db: TestDb,
}

/// 08:00 Finnish summer time on `d`.
pub fn morning(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(5, 0, 0).unwrap())
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

impl TeOffice {
    /// `None` when the backend is PostgreSQL and no server is reachable.
    pub async fn start(backend: TestBackend, today: NaiveDate) -> Option<Self> {
        let db = TestDb::new(backend).await?;
        let nats = kokeilu_test_support::nats();
        let clock = ManualClock::new(morning(today));
        let shared: SharedClock = Arc::new(clock.clone());
        let mut config = kokeilu_platform::config::ServiceConfig::local(
            db.url(),
            &nats.url(),
            kokeilu_test_support::pki().files(&kokeilu_platform::identity::Identity::TeOffice),
        );
        config.pseudonym_key =
            Some(kokeilu_platform::privacy::PseudonymKey::generate("test-1").unwrap());
        let app = Application::build(&config, shared).await.unwrap();
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
        let js = async_nats::jetstream::new(async_nats::connect(&nats.url()).await.unwrap());
        Some(Self {
            store,
            client,
            clock,
            js,
            stop: Some(stop),
            task: Some(task),
            _nats: nats,
            _db: db,
        })
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Publishes `action` as AVI does (sender AVI, on the area's action subject).
    pub async fn publish_as_avi(&self, action: &SupervisoryAction) {
        let env = envelope::seal(
            envelope::supervisor(),
            envelope::trial_area(&action.area_id),
            &action.action_id,
            None,
            action,
            self.clock_now(),
        );
        self.js
            .send_publish(
                subjects::avi_action(&action.area_id),
                PublishMessage::build()
                    .payload(env.encode_to_vec().into())
                    .message_id(env.message_id.clone()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    fn clock_now(&self) -> DateTime<Utc> {
        kokeilu_platform::Clock::now(&self.clock)
    }

    /// The last message te-office published on `subject` of `stream`, opened.
    pub async fn last_published<P: Payload + Default>(&self, stream: &str, subject: &str) -> P {
        let stream = self.js.get_stream(stream).await.unwrap();
        let subject = subject.to_owned();
        let raw =
            kokeilu_test_support::wait_for("te-office to publish", Duration::from_secs(30), || {
                let stream = stream.clone();
                let subject = subject.clone();
                async move { stream.get_last_raw_message_by_subject(&subject).await.ok() }
            })
            .await;
        let env = Envelope::decode(raw.payload).unwrap();
        envelope::open(&env).unwrap()
    }

    /// Rows in `referrals`.
    pub async fn referral_rows(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM referrals")
            .fetch_one(self.store.db().pool())
            .await
            .unwrap()
    }
}

/// A valid henkilötunnus for test person `n`, born on `birth` + n days.
pub fn person(birth: NaiveDate, n: u32) -> String {
    let birth = birth + chrono::Duration::days(i64::from(n));
    Hetu::generate(birth, 2 + u16::try_from(n).unwrap(), false)
        .unwrap()
        .expose()
        .to_owned()
}

/// The field names of an INVALID_ARGUMENT's violations.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The descriptions of an INVALID_ARGUMENT's violations.
pub fn reasons(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| v.description)
                .collect()
        })
        .unwrap_or_default()
}
