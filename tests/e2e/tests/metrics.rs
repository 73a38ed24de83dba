//! Operators see the outbox back up while NATS is down and drain when it returns, and every
//! gRPC call by method and status code, on the admin port's `/metrics`.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use kokeilu_devtools::nats_server::NatsOptions;
use kokeilu_platform::{ManualClock, SharedClock};
use kokeilu_proto::subjects;
use kokeilu_proto::teoffice::{self as te, te_office_service_client::TeOfficeServiceClient};
use kokeilu_test_support::{TestBackend, TestDb, nats_with, wait_for};
use support::{referral, test_start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Referrals submitted while NATS is down.
const N: u32 = 5;

/// The test process has one metrics recorder, so the backends run one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_backlog_rises_while_nats_is_down_and_drains_after() {
    kokeilu_platform::metrics::install("te-office");
    backlog_rises_and_drains(TestBackend::Sqlite, 0).await;
    backlog_rises_and_drains(TestBackend::Postgres, 1000).await;
}

const BACKLOG: &str = "kokeilu_outbox_backlog";
const OLDEST_AGE: &str = "kokeilu_outbox_oldest_age_seconds";
const SENT: &str = "messaging_client_sent_messages_total";
const RPC_COUNT: &str = "rpc_server_call_duration_seconds_count";

async fn backlog_rises_and_drains(backend: TestBackend, first: u32) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let options = NatsOptions {
        store_dir: Some(store.path().to_path_buf()),
        ..NatsOptions::default()
    };
    let mut nats = nats_with(&options);
    let port = nats.port();

    let clock = ManualClock::new(test_start());
    let shared: SharedClock = Arc::new(clock.clone());
    let mut config = kokeilu_platform::config::ServiceConfig::local(
        db.url(),
        &nats.url(),
        kokeilu_test_support::pki().files(&kokeilu_platform::identity::Identity::TeOffice),
    );
    config.pseudonym_key =
        Some(kokeilu_platform::privacy::PseudonymKey::generate("test-1").unwrap());
    let app = te_office::Application::build(&config, shared)
        .await
        .unwrap();
    let te_db = app.db().clone();
    let grpc_url = format!("https://127.0.0.1:{}", app.port());
    // The application's own admin port (`--admin-listen`), as `kokeilu up` and deployments use it.
    let admin_addr = app.admin_addr();
    let (stop_app, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let read = |name: &'static str, labels: Vec<(&'static str, String)>| async move {
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        metric(admin_addr, name, &labels).await
    };
    let issued = || {
        vec![(
            "messaging_destination_name",
            subjects::referral_issued("kainuu"),
        )]
    };
    let call = |code: &str| {
        vec![
            ("service_name", "te-office".to_owned()),
            ("rpc_system", "grpc".to_owned()),
            (
                "rpc_service",
                "kokeilu.teoffice.v1.TeOfficeService".to_owned(),
            ),
            ("rpc_method", "SubmitReferral".to_owned()),
            ("rpc_grpc_status_code", code.to_owned()),
        ]
    };

    assert_eq!(get(admin_addr, "/healthz").await, "ok");
    // The relay reports an empty outbox before anything is submitted.
    wait_for("an empty backlog", Duration::from_secs(30), || async {
        (read(BACKLOG, vec![]).await == Some(0.0)).then_some(())
    })
    .await;
    let sent_before = read(SENT, issued()).await.unwrap_or(0.0);
    let all_sent_before = read(SENT, vec![]).await.unwrap_or(0.0);
    let ok_before = read(RPC_COUNT, call("0")).await.unwrap_or(0.0);
    let invalid_before = read(RPC_COUNT, call("3")).await.unwrap_or(0.0);

    nats.stop(Duration::from_secs(10));
    drop(nats);

    let mut te = TeOfficeServiceClient::new(
        kokeilu_test_support::channel(&grpc_url, &kokeilu_platform::identity::Identity::TeOffice)
            .await,
    );
    for n in first..first + N {
        te.submit_referral(referral(n, "205")).await.unwrap();
    }
    let err = te
        .submit_referral(referral(first, "998"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // Each referral leaves a message to its area, and one to AVI, in the outbox.
    let unsent = kokeilu_bus::outbox::pending(&te_db).await.unwrap();
    assert!(unsent >= i64::from(N), "{unsent} unsent rows");
    wait_for("the backlog to rise", Duration::from_secs(30), || async {
        (read(BACKLOG, vec![]).await == Some(unsent as f64)).then_some(())
    })
    .await;
    // The messages wait while the service clock moves on: the oldest one ages.
    clock.advance(chrono::Duration::seconds(90));
    wait_for("the oldest row to age", Duration::from_secs(30), || async {
        (read(OLDEST_AGE, vec![]).await? >= 90.0).then_some(())
    })
    .await;
    assert_eq!(
        read(SENT, vec![]).await.unwrap_or(0.0),
        all_sent_before,
        "nothing is sent while NATS is down"
    );

    let _nats = nats_with(&NatsOptions {
        port: Some(port),
        ..options
    });
    wait_for("the backlog to drain", Duration::from_secs(90), || async {
        (read(BACKLOG, vec![]).await == Some(0.0)).then_some(())
    })
    .await;
    wait_for("the sent counters", Duration::from_secs(30), || async {
        let sent = read(SENT, issued()).await?;
        let all = read(SENT, vec![]).await?;
        (sent >= sent_before + f64::from(N) && all >= all_sent_before + unsent as f64).then_some(())
    })
    .await;
    assert_eq!(read(OLDEST_AGE, vec![]).await, Some(0.0));
    // The consumers report their lag (nothing te-office consumes was sent).
    wait_for(
        "the answers consumer's lag",
        Duration::from_secs(30),
        || async {
            let durable = vec![(
                "messaging_consumer_group_name",
                "te-office-answers".to_owned(),
            )];
            (read("kokeilu_consumer_lag", durable).await == Some(0.0)).then_some(())
        },
    )
    .await;

    let ok = read(RPC_COUNT, call("0")).await.unwrap_or(0.0);
    assert!(ok >= ok_before + f64::from(N), "SubmitReferral OK: {ok}");
    let mut all_calls = call("0");
    all_calls.push(("le", "+Inf".to_owned()));
    assert_eq!(
        read("rpc_server_call_duration_seconds_bucket", all_calls).await,
        Some(ok),
        "a histogram with buckets"
    );
    let invalid = read(RPC_COUNT, call("3")).await.unwrap_or(0.0);
    assert!(
        invalid > invalid_before,
        "SubmitReferral INVALID_ARGUMENT: {invalid}"
    );

    // A server stream is recorded when it ends: here when the client leaves (CANCELLED) and
    // when the service stops (UNAVAILABLE).
    let watch = |code: &str| {
        let mut labels = call(code);
        labels[3].1 = "WatchReferrals".to_owned();
        labels
    };
    let cancelled_before = read(RPC_COUNT, watch("1")).await.unwrap_or(0.0);
    let unavailable_before = read(RPC_COUNT, watch("14")).await.unwrap_or(0.0);
    for keep in [false, true] {
        let mut stream = te
            .watch_referrals(te::WatchReferralsRequest::default())
            .await
            .unwrap()
            .into_inner();
        stream.message().await.unwrap().unwrap();
        if keep {
            let _ = stop_app.send(());
            while let Ok(Some(_)) = stream.message().await {}
            break;
        }
    }
    // The service (and its admin port) has stopped: read the process's recorder, which its
    // admin port served.
    let recorded = |labels: Vec<(&'static str, String)>| {
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let text = kokeilu_platform::metrics::install("te-office").render();
        sample(&text, RPC_COUNT, &labels)
    };
    wait_for(
        "the watch left by its client",
        Duration::from_secs(30),
        || async { (recorded(watch("1"))? > cancelled_before).then_some(()) },
    )
    .await;
    wait_for(
        "the watch ended by the service",
        Duration::from_secs(30),
        || async { (recorded(watch("14"))? > unavailable_before).then_some(()) },
    )
    .await;

    running.await.unwrap().unwrap();
}

/// The body of `GET path` on the admin port.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    body.to_owned()
}

/// The sum of every `name` series on `/metrics` with all of `labels`; `None` if there is none.
async fn metric(addr: std::net::SocketAddr, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    sample(&get(addr, "/metrics").await, name, labels)
}

/// The sum of the samples of `name` carrying `labels` in a Prometheus text exposition.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
        if series_name != name
            || !labels
                .iter()
                .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\"")))
        {
            continue;
        }
        *found.get_or_insert(0.0) += value.parse::<f64>().unwrap();
    }
    found
}
