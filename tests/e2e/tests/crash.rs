//! Nothing lost, nothing doubled, when processes die: services run as their own processes
//! (`kokeilu serve …`) and are killed with SIGKILL.

// Test harness code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kokeilu_devtools::nats_server::NatsOptions;
use kokeilu_proto::teoffice::te_office_service_client::TeOfficeServiceClient;
use kokeilu_proto::trialarea::{self as ta, trial_area_service_client::TrialAreaServiceClient};
use kokeilu_test_support::{ServiceProcess, wait_for};
use sqlx::Row;
use support::referral;

const CLOCK: &str = "2024-09-02T06:00:00Z";
/// Municipalities of Kainuu.
const KAINUU: [&str; 7] = ["105", "205", "290", "765", "777", "578", "697"];

fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(format!("{name}.db")).display())
}

async fn scalar(url: &str, sql: &'static str) -> i64 {
    let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=ro"))
        .await
        .unwrap();
    let n = sqlx::query(sql)
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap();
    pool.close().await;
    n
}

/// te-office's pseudonym key file (32 hex bytes); no other service holds the key.
fn pseudonym_key_file(dir: &Path) -> String {
    let path = dir.join("pseudonym.key");
    std::fs::write(&path, "c7".repeat(32)).unwrap();
    path.display().to_string()
}

fn start_te_office(dir: &Path, nats_url: &str) -> ServiceProcess {
    ServiceProcess::start(
        &["serve", "te-office"],
        &[
            ("KOKEILU_DATABASE_URL", sqlite_url(dir, "te_office")),
            ("KOKEILU_NATS_URL", nats_url.to_owned()),
            ("KOKEILU_CLOCK_START", CLOCK.to_owned()),
            ("KOKEILU_PSEUDONYM_KEY_FILE", pseudonym_key_file(dir)),
            ("KOKEILU_PSEUDONYM_KEY_ID", "crash-1".to_owned()),
        ],
        dir.join("te-office.log"),
    )
}

fn start_area(dir: &Path, nats_url: &str) -> ServiceProcess {
    ServiceProcess::start(
        &["serve", "trial-area"],
        &[
            ("KOKEILU_AREA", "kainuu".to_owned()),
            ("KOKEILU_DATABASE_URL", sqlite_url(dir, "kainuu")),
            ("KOKEILU_NATS_URL", nats_url.to_owned()),
            ("KOKEILU_CLOCK_START", CLOCK.to_owned()),
        ],
        dir.join("kainuu.log"),
    )
}

fn start_supervisor(dir: &Path, nats_url: &str) -> ServiceProcess {
    ServiceProcess::start(
        &["serve", "supervisor"],
        &[
            ("KOKEILU_DATABASE_URL", sqlite_url(dir, "supervisor")),
            ("KOKEILU_NATS_URL", nats_url.to_owned()),
            ("KOKEILU_CLOCK_START", CLOCK.to_owned()),
            ("KOKEILU_STATS_LISTEN", "127.0.0.1:0".to_owned()),
        ],
        dir.join("supervisor.log"),
    )
}

/// Plays Kainuu's municipal system: acknowledges every received referral, and after any
/// disconnection (the area restarting) replays the area's feed from the start.
fn spawn_acker(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let Ok(ch) = kokeilu_test_support::channel_with(
                &url,
                &kokeilu_test_support::pki()
                    .files(&kokeilu_platform::identity::Identity::Area("kainuu".into())),
            )
            .await
            else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let mut client = TrialAreaServiceClient::new(ch);
            let Ok(stream) = client
                .watch_incoming_referrals(ta::WatchIncomingReferralsRequest {
                    area_id: "kainuu".into(),
                    after_cursor: "0".into(),
                })
                .await
            else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let mut stream = stream.into_inner();
            while let Some(Ok(r)) = stream.next().await {
                if r.status == ta::IncomingStatus::Received as i32 {
                    // A failure here (the area dying) is retried by the replay after reconnecting.
                    let _ = client
                        .acknowledge_client(ta::AcknowledgeClientRequest {
                            area_id: "kainuu".into(),
                            referral_id: r.referral_id,
                            idempotency_key: uuid::Uuid::now_v7().to_string(),
                        })
                        .await;
                }
            }
        }
    })
}

async fn submit_range(te_url: &str, range: std::ops::Range<u32>) {
    let ch = kokeilu_test_support::channel(te_url, &kokeilu_platform::identity::Identity::TeOffice)
        .await;
    let te = TeOfficeServiceClient::new(ch);
    futures::stream::iter(range)
        .map(|n| {
            let mut te = te.clone();
            async move {
                let req = referral(n, KAINUU[n as usize % KAINUU.len()]);
                te.submit_referral(req).await.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

async fn assert_exactly_once(dir: &Path, n: i64) {
    let te = sqlite_url(dir, "te_office");
    let area = sqlite_url(dir, "kainuu");
    assert_eq!(scalar(&te, "SELECT COUNT(*) FROM referrals").await, n);
    assert_eq!(
        scalar(&te, "SELECT COUNT(*) FROM referrals WHERE status = 3").await,
        n
    );
    // One "delivered" and one "acknowledged" per referral: no effect applied twice.
    assert_eq!(
        scalar(&te, "SELECT COUNT(*) FROM referral_events WHERE status = 2").await,
        n
    );
    assert_eq!(
        scalar(&te, "SELECT COUNT(*) FROM referral_events WHERE status = 3").await,
        n
    );
    assert_eq!(
        scalar(&area, "SELECT COUNT(*) FROM incoming_referrals").await,
        n
    );
    assert_eq!(
        scalar(
            &area,
            "SELECT COUNT(*) FROM incoming_referrals WHERE status = 2"
        )
        .await,
        n
    );
    // One receipt and one acknowledgement, each with its fact for AVI, per referral.
    assert_eq!(scalar(&area, "SELECT COUNT(*) FROM outbox").await, 4 * n);
    assert_eq!(scalar(&te, "SELECT COUNT(*) FROM outbox").await, 2 * n);
}

async fn wait_acknowledged(dir: &Path, n: i64, what: &str) {
    let te = sqlite_url(dir, "te_office");
    wait_for(what, Duration::from_secs(180), || {
        let te = te.clone();
        async move {
            (scalar(&te, "SELECT COUNT(*) FROM referrals WHERE status = 3").await == n)
                .then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn area_killed_mid_stream_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let nats = kokeilu_test_support::nats();
    let te = start_te_office(dir.path(), &nats.url());
    let mut area = start_area(dir.path(), &nats.url());
    let stop = Arc::new(AtomicBool::new(false));
    let acker = spawn_acker(area.url(), stop.clone());

    // First half; kill the area while it is working through it.
    submit_range(&te.url(), 0..500).await;
    let area_db = sqlite_url(dir.path(), "kainuu");
    wait_for("the area to be mid-stream", Duration::from_secs(60), || {
        let area_db = area_db.clone();
        async move {
            (scalar(&area_db, "SELECT COUNT(*) FROM incoming_referrals").await >= 100).then_some(())
        }
    })
    .await;
    area.kill9();
    // Second half arrives while the area is down.
    submit_range(&te.url(), 500..1000).await;
    area.restart();

    wait_acknowledged(dir.path(), 1000, "1000 acknowledged at te-office").await;
    stop.store(true, Ordering::Relaxed);
    acker.abort();
    assert_exactly_once(dir.path(), 1000).await;
    drop(te);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn te_office_killed_between_commit_and_publish_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nats");
    let mut nats = kokeilu_test_support::nats_with(&NatsOptions {
        store_dir: Some(store.clone()),
        ..Default::default()
    });
    let port = nats.port();
    let mut te = start_te_office(dir.path(), &nats.url());
    let area = start_area(dir.path(), &nats.url());
    let stop = Arc::new(AtomicBool::new(false));
    let acker = spawn_acker(area.url(), stop.clone());

    submit_range(&te.url(), 0..100).await;
    wait_acknowledged(dir.path(), 100, "the first 100 acknowledged").await;

    // With the broker unreachable, referrals commit but cannot be published…
    nats.stop(Duration::from_secs(10));
    submit_range(&te.url(), 100..300).await;
    let te_db = sqlite_url(dir.path(), "te_office");
    assert_eq!(
        scalar(&te_db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await,
        400,
        "200 referrals and their 200 facts for AVI"
    );
    // …and te-office dies with them committed and unpublished.
    te.kill9();

    let nats = kokeilu_test_support::nats_with(&NatsOptions {
        port: Some(port),
        store_dir: Some(store),
        ..Default::default()
    });
    te.restart();
    wait_acknowledged(dir.path(), 300, "all 300 acknowledged after the restart").await;
    assert_eq!(
        scalar(&te_db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await,
        0
    );
    stop.store(true, Ordering::Relaxed);
    acker.abort();
    assert_exactly_once(dir.path(), 300).await;
    drop(nats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_killed_mid_stream_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let nats = kokeilu_test_support::nats();
    let te = start_te_office(dir.path(), &nats.url());
    let area = start_area(dir.path(), &nats.url());
    let mut avi = start_supervisor(dir.path(), &nats.url());
    let stop = Arc::new(AtomicBool::new(false));
    let acker = spawn_acker(area.url(), stop.clone());

    submit_range(&te.url(), 0..500).await;
    let avi_db = sqlite_url(dir.path(), "supervisor");
    wait_for("AVI to be mid-stream", Duration::from_secs(60), || {
        let avi_db = avi_db.clone();
        async move { (scalar(&avi_db, "SELECT COUNT(*) FROM inbox").await >= 100).then_some(()) }
    })
    .await;
    avi.kill9();
    // Facts keep coming while AVI is down; they wait in JetStream.
    submit_range(&te.url(), 500..1000).await;
    wait_acknowledged(dir.path(), 1000, "1000 acknowledged at te-office").await;
    avi.restart();

    // Every referral's three facts (issued, received, acknowledged) applied once.
    wait_for("AVI to apply 3000 facts", Duration::from_secs(180), || {
        let avi_db = avi_db.clone();
        async move { (scalar(&avi_db, "SELECT COUNT(*) FROM inbox").await == 3000).then_some(()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    acker.abort();
    assert_eq!(scalar(&avi_db, "SELECT COUNT(*) FROM cases").await, 1000);
    assert_eq!(
        scalar(
            &avi_db,
            "SELECT COUNT(*) FROM cases WHERE acknowledged_on IS NOT NULL"
        )
        .await,
        1000
    );
    // One acknowledgement deadline (met) and one initial-interview deadline (open) per case.
    assert_eq!(
        scalar(
            &avi_db,
            "SELECT COUNT(*) FROM deadlines WHERE kind = 1 AND status = 2"
        )
        .await,
        1000
    );
    assert_eq!(
        scalar(
            &avi_db,
            "SELECT COUNT(*) FROM deadlines WHERE kind = 2 AND status = 1"
        )
        .await,
        1000
    );
    assert_eq!(
        scalar(&avi_db, "SELECT COUNT(*) FROM deadlines").await,
        2000
    );
    drop(te);
    drop(area);
}

/// History entries (status order) recorded at an earlier time than the entry before them, and
/// referrals whose receipt or decision at the area precede their issue at te-office.
async fn out_of_time_order(dir: &Path) -> (i64, i64) {
    let te = sqlite_url(dir, "te_office");
    let backwards = scalar(
        &te,
        "SELECT COUNT(*) FROM referral_events a JOIN referral_events b \
         ON a.referral_id = b.referral_id AND a.status < b.status WHERE a.at > b.at",
    )
    .await
        + scalar(
            &te,
            "SELECT COUNT(*) FROM referral_events e JOIN referrals r \
             ON r.referral_id = e.referral_id WHERE e.at < r.created_at",
        )
        .await;
    let area = sqlite_url(dir, "kainuu");
    let pool = sqlx::SqlitePool::connect(&format!("{area}?mode=ro"))
        .await
        .unwrap();
    let decided_before_received = sqlx::query(
        "SELECT COUNT(*) FROM incoming_referrals WHERE decided_at IS NOT NULL \
         AND decided_at < received_at",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .try_get::<i64, _>(0)
    .unwrap();
    pool.close().await;
    (backwards, decided_before_received)
}

// Open defect: in about one run in five, one or two receipts (DELIVERED) are refused by
// te-office as timestamped before their referral's issue, so the history lacks them (every
// history that is recorded stays in time order). Run it with `--ignored` until that is found.
#[ignore = "open defect: a rare receipt is refused as before its issue (see the comment above)"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_under_a_simulated_clock_keep_every_history_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let nats = kokeilu_test_support::nats();
    let mut te = start_te_office(dir.path(), &nats.url());
    let mut area = start_area(dir.path(), &nats.url());
    let stop = Arc::new(AtomicBool::new(false));
    let acker = spawn_acker(area.url(), stop.clone());

    submit_range(&te.url(), 0..200).await;
    let area_db = sqlite_url(dir.path(), "kainuu");
    wait_for("the area to be mid-stream", Duration::from_secs(60), || {
        let area_db = area_db.clone();
        async move {
            (scalar(&area_db, "SELECT COUNT(*) FROM incoming_referrals").await >= 50).then_some(())
        }
    })
    .await;
    area.kill9();
    te.kill9();
    // A restarted process starts its clock at --clock-start again: a stack that had run for a
    // day would be a day behind. Stand for that day by restarting both a day earlier.
    let day_earlier = "2024-09-01T06:00:00Z".to_owned();
    te.set_env("KOKEILU_CLOCK_START", day_earlier.clone());
    area.set_env("KOKEILU_CLOCK_START", day_earlier);
    te.restart();
    area.restart();
    submit_range(&te.url(), 200..400).await;
    wait_acknowledged(dir.path(), 400, "400 acknowledged after the restarts").await;
    stop.store(true, Ordering::Relaxed);
    acker.abort();
    assert_eq!(out_of_time_order(dir.path()).await, (0, 0));
    // The history is complete: issued, delivered, acknowledged for each.
    let te_db = sqlite_url(dir.path(), "te_office");
    assert_eq!(
        scalar(&te_db, "SELECT COUNT(*) FROM referral_events").await,
        3 * 400
    );
}
