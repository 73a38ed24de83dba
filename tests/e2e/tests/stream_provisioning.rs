//! Streams are provisioned, not improvised: the operator creates every JetStream stream with its
//! exact configuration (`kokeilu nats provision`, `kokeilu_bus::streams::provision`), and each
//! service checks the live configuration at start and refuses to run on a missing stream or a
//! mismatch, with a message naming the stream, the field, both values, and the command to run.
//! Provisioning is idempotent, repairs drift where NATS allows it, and fails clearly where it
//! does not. (That service users cannot create, purge or delete streams, under the real
//! deploy/nats/accounts.conf, is in nats_permissions.rs.)

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use kokeilu_bus::streams::{self, Outcome, ProvisionError};
use kokeilu_platform::config::ServiceConfig;
use kokeilu_platform::{ManualClock, SharedClock};
use kokeilu_proto::subjects;
use kokeilu_test_support::TestDb;

fn clock() -> SharedClock {
    Arc::new(ManualClock::new(
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2024, 9, 2, 6, 0, 0).unwrap(),
    ))
}

async fn jetstream_at(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url).await.unwrap())
}

/// Starts te-office on `nats_url` with `replicas` expected, and returns why it refused to start.
async fn te_office_refusal(nats_url: &str, replicas: usize) -> String {
    let db = TestDb::sqlite();
    let mut config = ServiceConfig::local(
        db.url(),
        nats_url,
        kokeilu_test_support::pki().files(&kokeilu_platform::identity::Identity::TeOffice),
    );
    config.stream_replicas = replicas;
    match te_office::Application::build(&config, clock()).await {
        Ok(_) => panic!("te-office started on streams it should refuse"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_refuses_to_start_without_provisioned_streams() {
    let nats = kokeilu_test_support::nats_unprovisioned();
    let hint = "run `kokeilu nats provision`";

    let refusal = te_office_refusal(&nats.url(), 1).await;
    assert!(
        refusal.contains(
            "JetStream streams KOKEILU_REFERRAL, KOKEILU_SUPERVISION, KOKEILU_COMPLIANCE, \
             KOKEILU_AVI, KOKEILU_DLQ do not exist"
        ),
        "{refusal}"
    );
    assert!(refusal.contains(hint), "{refusal}");

    let db = TestDb::sqlite();
    let config = ServiceConfig::local(
        db.url(),
        &nats.url(),
        kokeilu_test_support::pki()
            .files(&kokeilu_platform::identity::Identity::Area("kainuu".into())),
    );
    let Err(e) = trial_area::Application::build(&config, "kainuu", clock()).await else {
        panic!("the trial area started without streams");
    };
    assert!(format!("{e:#}").contains(hint), "{e:#}");

    let db = TestDb::sqlite();
    let config = supervisor::config::SupervisorConfig::local(
        db.url(),
        &nats.url(),
        kokeilu_test_support::pki().files(&kokeilu_platform::identity::Identity::Avi),
    );
    let Err(e) = supervisor::Application::build(&config, clock()).await else {
        panic!("the supervisor started without streams");
    };
    assert!(format!("{e:#}").contains(hint), "{e:#}");

    // Nothing was created by the services' attempts.
    let js = jetstream_at(&nats.url()).await;
    let mut names = js.stream_names();
    assert!(
        futures::StreamExt::next(&mut names).await.is_none(),
        "a service created a stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_configured_otherwise_stops_the_service_until_provisioned() {
    let nats = kokeilu_test_support::nats_unprovisioned();
    let js = jetstream_at(&nats.url()).await;
    // Streams improvised by hand: the referral stream with a two-minute duplicate window and
    // deletable messages, the others as Kokeilu defines them.
    for config in streams::configs(1) {
        let config = if config.name == subjects::REFERRAL_STREAM {
            stream::Config {
                duplicate_window: Duration::from_secs(120),
                deny_delete: false,
                ..config
            }
        } else {
            config
        };
        js.create_stream(config).await.unwrap();
    }

    let refusal = te_office_refusal(&nats.url(), 1).await;
    for expected in [
        "stream KOKEILU_REFERRAL: duplicate_window is 2m, expected 1d",
        "stream KOKEILU_REFERRAL: deny_delete is false, expected true",
        "run `kokeilu nats provision`",
    ] {
        assert!(refusal.contains(expected), "{expected:?} not in: {refusal}");
    }
    // Replicas are what the service's --stream-replicas says.
    let refusal = te_office_refusal(&nats.url(), 3).await;
    assert!(
        refusal.contains("stream KOKEILU_AVI: num_replicas is 1, expected 3"),
        "{refusal}"
    );

    // Provisioning repairs the drift and says what it changed; then the service starts.
    let done = streams::provision(&js, 1).await.unwrap();
    let referral = &done
        .iter()
        .find(|(name, _)| name == subjects::REFERRAL_STREAM)
        .unwrap()
        .1;
    let Outcome::Updated(changes) = referral else {
        panic!("the referral stream was not updated: {done:?}");
    };
    let fields: Vec<&str> = changes.iter().map(|m| m.field).collect();
    assert_eq!(fields, ["duplicate_window", "deny_delete"]);
    assert!(
        done.iter()
            .filter(|(name, _)| name != subjects::REFERRAL_STREAM)
            .all(|(_, o)| *o == Outcome::Unchanged),
        "{done:?}"
    );
    let info = js
        .get_stream(subjects::REFERRAL_STREAM)
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    assert!(info.deny_delete);
    assert_eq!(info.duplicate_window, streams::DUPLICATE_WINDOW);

    let db = TestDb::sqlite();
    let mut config = ServiceConfig::local(
        db.url(),
        &nats.url(),
        kokeilu_test_support::pki().files(&kokeilu_platform::identity::Identity::TeOffice),
    );
    config.pseudonym_key =
        Some(kokeilu_platform::privacy::PseudonymKey::generate("test-1").unwrap());
    let app = te_office::Application::build(&config, clock())
        .await
        .unwrap_or_else(|e| panic!("te-office refused provisioned streams: {e:#}"));
    drop(app);

    // Provisioning again changes nothing.
    let again = streams::provision(&js, 1).await.unwrap();
    assert!(
        again.iter().all(|(_, o)| *o == Outcome::Unchanged),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_fails_clearly_where_nats_cannot_change_a_stream() {
    let nats = kokeilu_test_support::nats_unprovisioned();
    let js = jetstream_at(&nats.url()).await;
    let avi = streams::configs(1)
        .into_iter()
        .find(|c| c.name == subjects::AVI_STREAM)
        .unwrap();
    js.create_stream(stream::Config {
        storage: stream::StorageType::Memory,
        max_bytes: 16 * 1024 * 1024,
        ..avi
    })
    .await
    .unwrap();

    let error = streams::provision(&js, 1).await.unwrap_err();
    assert!(matches!(error, ProvisionError::Immutable(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("stream KOKEILU_AVI: storage is memory, expected file")
            && text.contains("NATS cannot change"),
        "{text}"
    );
    // The stream is as it was; the service still refuses it.
    let refusal = te_office_refusal(&nats.url(), 1).await;
    assert!(
        refusal.contains("stream KOKEILU_AVI: storage is memory, expected file"),
        "{refusal}"
    );
}

/// The test harness's server comes provisioned, so every other test's services start on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_server_is_provisioned() {
    let nats = kokeilu_test_support::nats();
    streams::check(&jetstream_at(&nats.url()).await, 1)
        .await
        .unwrap();
}
