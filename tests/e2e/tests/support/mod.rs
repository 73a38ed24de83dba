//! The whole system in one test process: a real nats-server, te-office and trial areas as
//! in-process applications on port 0, each with its own database on the chosen backend.

#![allow(dead_code, unused_macros, clippy::unwrap_used)]

pub mod raw;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use kokeilu_bus::Db;
use kokeilu_devtools::nats_server::NatsProcess;
use kokeilu_platform::config::Secret;
use kokeilu_platform::grpc::TraceContextInterceptor;
use kokeilu_platform::identity::Identity;
use kokeilu_platform::{ManualClock, SharedClock};
use kokeilu_proto::date_from_naive;
use kokeilu_proto::supervisor::supervisor_service_client::SupervisorServiceClient;
use kokeilu_proto::teoffice::{self as te, te_office_service_client::TeOfficeServiceClient};
use kokeilu_proto::trialarea::trial_area_service_client::TrialAreaServiceClient;
use kokeilu_rules::hetu::Hetu;
use kokeilu_test_support::{TestBackend, TestDb};
use sqlx::Row;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type TeClient = TeOfficeServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;
pub type AreaClient = TrialAreaServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;
pub type AviClient = SupervisorServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;

/// A running service and how to stop it.
pub struct Running {
    pub db: Db,
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _test_db: TestDb,
}

impl Running {
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await
                .expect("service task panicked")
                .expect("service failed");
        }
    }
}

pub struct InProcess {
    /// The test's own nats-server (`None` when started on a given server).
    pub nats: Option<NatsProcess>,
    pub nats_url: String,
    pub clock: ManualClock,
    pub te_office: Running,
    pub areas: BTreeMap<String, Running>,
    pub supervisor: Running,
    /// Runs AVI's deadline sweep now (the periodic sweep is off in tests).
    pub sweeper: supervisor::startup::Sweeper,
    pub stats_url: String,
    pub backend: TestBackend,
    /// te-office's pseudonym key (no other service holds it).
    pub pseudonym_key: kokeilu_platform::privacy::PseudonymKey,
}

/// The start of the service clock in tests: a Monday in the 2021–2024 trial.
pub fn test_start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap()
}

async fn channel(url: &str, identity: &Identity) -> Channel {
    kokeilu_test_support::channel(url, identity).await
}

/// The TLS files of a service's own identity, from the test PKI.
pub fn tls(identity: &Identity) -> kokeilu_platform::tls::TlsFiles {
    kokeilu_test_support::pki().files(identity)
}

impl InProcess {
    /// `None` when the backend is PostgreSQL and no server is reachable (the test then skips).
    pub async fn start(backend: TestBackend, areas: &[&str]) -> Option<Self> {
        let nats = kokeilu_test_support::nats();
        let url = nats.url();
        let mut sys = Self::start_on(backend, areas, &url, |_| None).await?;
        sys.nats = Some(nats);
        Some(sys)
    }

    /// The services on an existing NATS server at `nats_url`, each logging in as `user_of` its
    /// NATS user name (`te-office`, `area-<slug>`, `avi`) says.
    pub async fn start_on(
        backend: TestBackend,
        areas: &[&str],
        nats_url: &str,
        user_of: impl Fn(&str) -> Option<(String, Secret)>,
    ) -> Option<Self> {
        let clock = ManualClock::new(test_start());
        let shared: SharedClock = std::sync::Arc::new(clock.clone());
        let te_db = TestDb::new(backend).await?;
        let mut config = kokeilu_platform::config::ServiceConfig::local(
            te_db.url(),
            nats_url,
            tls(&Identity::TeOffice),
        );
        config.nats_user = user_of("te-office");
        let pseudonym_key = kokeilu_platform::privacy::PseudonymKey::generate("test-1").unwrap();
        config.pseudonym_key = Some(pseudonym_key.clone());
        let app = te_office::Application::build(&config, shared.clone())
            .await
            .unwrap();
        let te_office = spawn(app.db().clone(), app.port(), te_db, |stop| {
            tokio::spawn(app.run_until(async move {
                let _ = stop.await;
            }))
        });
        let mut running = BTreeMap::new();
        for area in areas {
            let db = TestDb::new(backend).await?;
            let mut config = kokeilu_platform::config::ServiceConfig::local(
                db.url(),
                nats_url,
                tls(&Identity::Area((*area).to_owned())),
            );
            config.nats_user = user_of(&format!("area-{area}"));
            let app = trial_area::Application::build(&config, area, shared.clone())
                .await
                .unwrap();
            running.insert(
                (*area).to_owned(),
                spawn(app.db().clone(), app.port(), db, |stop| {
                    tokio::spawn(app.run_until(async move {
                        let _ = stop.await;
                    }))
                }),
            );
        }
        let db = TestDb::new(backend).await?;
        let mut config =
            supervisor::config::SupervisorConfig::local(db.url(), nats_url, tls(&Identity::Avi));
        config.service.nats_user = user_of("avi");
        // Sweeps happen when a test asks for one, on the test's clock.
        config.sweep_interval = Duration::from_secs(3600);
        let app = supervisor::Application::build(&config, shared.clone())
            .await
            .unwrap();
        let sweeper = app.sweeper();
        let stats_url = format!("http://127.0.0.1:{}", app.stats_port());
        let supervisor = spawn(app.db().clone(), app.port(), db, |stop| {
            tokio::spawn(app.run_until(async move {
                let _ = stop.await;
            }))
        });
        Some(Self {
            nats: None,
            nats_url: nats_url.to_owned(),
            clock,
            te_office,
            areas: running,
            supervisor,
            sweeper,
            stats_url,
            backend,
            pseudonym_key,
        })
    }

    /// te-office's API as the TE office's systems.
    pub async fn te(&self) -> TeClient {
        TeOfficeServiceClient::with_interceptor(
            channel(&self.te_office.url, &Identity::TeOffice).await,
            TraceContextInterceptor,
        )
    }

    /// An area's API as that area's own systems.
    pub async fn area(&self, area: &str) -> AreaClient {
        TrialAreaServiceClient::with_interceptor(
            channel(&self.areas[area].url, &Identity::Area(area.to_owned())).await,
            TraceContextInterceptor,
        )
    }

    /// AVI's API as a named inspector (who may read identifying answers).
    pub async fn avi(&self) -> AviClient {
        self.avi_as(&Identity::AviStaff("inspector".into())).await
    }

    /// AVI's API as `identity`.
    pub async fn avi_as(&self, identity: &Identity) -> AviClient {
        SupervisorServiceClient::with_interceptor(
            channel(&self.supervisor.url, identity).await,
            TraceContextInterceptor,
        )
    }

    pub async fn js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(async_nats::connect(&self.nats_url).await.unwrap())
    }

    pub async fn stop(mut self) {
        for a in self.areas.values_mut() {
            a.stop().await;
        }
        self.te_office.stop().await;
        self.supervisor.stop().await;
    }
}

fn spawn(
    db: Db,
    port: u16,
    test_db: TestDb,
    run: impl FnOnce(oneshot::Receiver<()>) -> JoinHandle<anyhow::Result<()>>,
) -> Running {
    let (tx, rx) = oneshot::channel();
    Running {
        db,
        url: format!("https://127.0.0.1:{port}"),
        stop: Some(tx),
        task: Some(run(rx)),
        _test_db: test_db,
    }
}

/// A valid henkilötunnus for test person `n` (born 1990–1999, so over 24 in 2024).
pub fn person(n: u32) -> Hetu {
    let birth = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
        + chrono::Duration::days(i64::from(n % 3000));
    Hetu::generate(birth, 2 + (n / 3000) as u16 % 897, false).unwrap()
}

/// A SubmitReferral request for person `n` living in `municipality`.
pub fn referral(n: u32, municipality: &str) -> te::SubmitReferralRequest {
    te::SubmitReferralRequest {
        idempotency_key: format!("test-{n}"),
        jobseeker: Some(te::Jobseeker {
            henkilotunnus: person(n).expose().to_owned(),
            home_municipality_code: municipality.to_owned(),
            job_search_start_date: Some(date_from_naive(
                chrono::NaiveDate::from_ymd_opt(2024, 8, 28).unwrap(),
            )),
            grounds: vec![
                kokeilu_proto::referral::TargetGroupGround::NoEarningsRelatedAllowance as i32,
            ],
            facts: None,
            ..Default::default()
        }),
    }
}

/// `SELECT COUNT(*)` of a table on a service's database.
pub async fn count(db: &Db, table: &'static str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {table}"
    )))
    .fetch_one(db.pool())
    .await
    .unwrap()
    .try_get("n")
    .unwrap()
}

/// Row counts of every table of every service database (SQLite), as `service.table`, leaving out
/// the tables named in `except`.
pub async fn table_counts(sys: &InProcess, except: &[&str]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut dbs = vec![
        ("te-office", sys.te_office.db.clone()),
        ("supervisor", sys.supervisor.db.clone()),
    ];
    for (area, running) in &sys.areas {
        dbs.push((area.as_str(), running.db.clone()));
    }
    for (name, db) in dbs {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        for table in tables.iter().filter(|t| !except.contains(&t.as_str())) {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM \"{table}\""
            )))
            .fetch_one(db.pool())
            .await
            .unwrap();
            out.insert(format!("{name}.{table}"), n);
        }
    }
    out
}

/// Messages stored in a JetStream stream.
pub async fn stream_messages(js: &async_nats::jetstream::Context, stream: &str) -> u64 {
    js.get_stream(stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

/// Waits until `referral_id` has `status` at te-office.
pub async fn wait_status(
    te: &mut TeClient,
    referral_id: &str,
    status: te::ReferralStatus,
) -> te::Referral {
    kokeilu_test_support::wait_for(
        &format!("referral {referral_id} to become {status:?}"),
        Duration::from_secs(30),
        || {
            let mut te = te.clone();
            let id = referral_id.to_owned();
            async move {
                let r = te
                    .get_referral(te::GetReferralRequest { referral_id: id })
                    .await
                    .ok()?
                    .into_inner();
                (r.status == status as i32).then_some(r)
            }
        },
    )
    .await
}

/// A date from constant parts.
pub fn day(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Moves the shared service clock to 09:00 Finnish time on `d`.
pub fn set_day(sys: &InProcess, d: chrono::NaiveDate) {
    sys.clock
        .set(Utc.from_utc_datetime(&d.and_hms_opt(6, 0, 0).unwrap()));
}
