//! The NATS half of Kokeilu's authorisation (DESIGN.md §5: enforced in each service *and* in
//! NATS) lives in `deploy/nats/accounts.conf`, which no service test loads. A typo there would
//! either lock a service out of its own subjects in production or let one agency read or forge
//! another's messages, and nothing else would notice. These tests run a real nats-server with that
//! very file and check, using the subjects and consumer names the services themselves use
//! (`kokeilu_proto::subjects`, the services' consumer configs), that every agency can do its job
//! and nothing more: in particular, that only the operator creates or changes streams
//! (`kokeilu nats provision`) and that nobody purges or deletes their messages. They also check
//! that `deploy/nats/cluster` and `deploy/nats/local.conf` are configurations nats-server accepts
//! (`nats-server -t`).
//!
//! TLS: the cluster configuration includes its TLS blocks from `cluster/tls-client.conf` and
//! `cluster/tls-routes.conf`, which point at certificates under /etc/nats/tls. The configuration
//! check replaces those two snippets with empty stand-ins (this machine has no certificates) and
//! checks the rest of the cluster file as is.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, consumer::pull};
use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerError};
use futures::StreamExt;
use kokeilu_bus::ConsumerConfig;
use kokeilu_bus::streams::{self, CheckError, Outcome};
use kokeilu_devtools::nats_server::{NatsOptions, NatsProcess};
use kokeilu_proto::subjects;
use kokeilu_test_support::{TestBackend, wait_for, workspace_root};

mod support;

/// Longest wait for any single outcome (a denial, an ack, a fetched message).
const SHORT: Duration = Duration::from_secs(3);

/// A throwaway password and its bcrypt hash (cost 6), to check the documented hashed form.
const KAINUU_PASSWORD: &str = "kainuu-test-password";
const KAINUU_BCRYPT: &str = "$2b$06$BsiPGDv95Qu3KKQQGS301OM0sBrMxql2cnvwP2Xa0pRAjmXx5sue.";

/// One user of accounts.conf: the server's environment variable, the user name, the password the
/// client sends, and the value the server gets (quoted, as deploy/nats/accounts.conf documents).
struct Login {
    var: &'static str,
    user: &'static str,
    password: &'static str,
    server_value: String,
}

fn logins() -> Vec<Login> {
    let plain = |var, user, password| Login {
        var,
        user,
        password,
        server_value: format!("\"{password}\""),
    };
    vec![
        plain(
            "KOKEILU_NATS_PASS_TE_OFFICE",
            "te-office",
            "te-office-test-pw",
        ),
        Login {
            var: "KOKEILU_NATS_PASS_KAINUU",
            user: "area-kainuu",
            password: KAINUU_PASSWORD,
            server_value: format!("\"{KAINUU_BCRYPT}\""),
        },
        plain(
            "KOKEILU_NATS_PASS_PIRKANMAA",
            "area-pirkanmaa",
            "pirkanmaa-test-pw",
        ),
        plain(
            "KOKEILU_NATS_PASS_HELSINKI",
            "area-helsinki",
            "helsinki-test-pw",
        ),
        plain("KOKEILU_NATS_PASS_AVI", "avi", "avi-test-pw"),
        plain("KOKEILU_NATS_PASS_OPERATOR", "operator", "operator-test-pw"),
    ]
}

fn deploy_nats() -> PathBuf {
    workspace_root().join("deploy/nats")
}

fn nats_binary() -> PathBuf {
    kokeilu_devtools::nats_server::locate(&workspace_root().join(".tools"))
        .unwrap_or_else(|e| panic!("no usable nats-server: {e:#}"))
}

/// The nats-server environment holding every user's password, as accounts.conf expects.
fn login_env() -> Vec<(String, String)> {
    logins()
        .into_iter()
        .map(|l| (l.var.to_owned(), l.server_value))
        .collect()
}

fn with_logins(cmd: &mut Command) -> &mut Command {
    cmd.envs(login_env())
}

/// nats-server running `deploy/nats/accounts.conf`, included from the server's configuration in
/// a temporary folder (includes are relative to the including file, so the accounts file is
/// copied beside it unchanged). Stopped on drop.
struct Server {
    nats: NatsProcess,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("kokeilu-nats-perms-")
            .tempdir()
            .unwrap();
        std::fs::copy(
            deploy_nats().join("accounts.conf"),
            dir.path().join("accounts.conf"),
        )
        .unwrap();
        let log = dir.path().join("nats-server.log");
        // Without streams: the operator provisions them, as in production.
        let nats = kokeilu_test_support::nats_unprovisioned_with(&NatsOptions {
            store_dir: Some(dir.path().to_path_buf()),
            sync_always: true,
            log_file: Some(log.clone()),
            extra_config: "include \"accounts.conf\"".to_owned(),
            env: login_env(),
            ..Default::default()
        });
        Self {
            nats,
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        self.nats.url()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// One agency's connection, recording the errors the server reports asynchronously (a denied
/// publish or subscription is not an error of the call: the server answers `-ERR 'Permissions
/// Violation …'` and keeps the connection).
struct Agency {
    user: &'static str,
    client: async_nats::Client,
    js: jetstream::Context,
    errors: Arc<Mutex<Vec<String>>>,
}

async fn login(server: &Server, user: &str) -> Agency {
    let login = logins().into_iter().find(|l| l.user == user).unwrap();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let client = ConnectOptions::with_user_and_password(login.user.into(), login.password.into())
        .name(format!("nats-permissions-test {user}"))
        // The services' own inbox prefix (crates/bus): the only inbox this user may read.
        .custom_inbox_prefix(
            kokeilu_bus::nats::Login {
                urls: server.url(),
                user: Some((user.to_owned(), Default::default())),
                ca: None,
            }
            .inbox_prefix(),
        )
        .event_callback(move |event| {
            let sink = sink.clone();
            async move {
                if let Event::ServerError(ServerError::Other(e)) = event {
                    sink.lock().unwrap().push(e);
                }
            }
        })
        .connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("{user} cannot log in: {e}\n{}", server.log()));
    let js = jetstream::ContextBuilder::new()
        .timeout(SHORT)
        .build(client.clone());
    Agency {
        user: login.user,
        client,
        js,
        errors,
    }
}

impl Agency {
    /// Waits until the server has reported a permissions violation for `what` ("Publish" or
    /// "Subscription") on `subject`.
    async fn denied(&self, what: &str, subject: &str) {
        let needle = format!("permissions violation for {what} to \"{subject}\"").to_lowercase();
        let errors = self.errors.clone();
        wait_for(
            &format!("{what} of {} to {subject} to be refused", self.user),
            SHORT,
            || {
                let found = errors
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|e| e.to_lowercase().contains(&needle));
                async move { found.then_some(()) }
            },
        )
        .await;
    }

    /// Publishes through JetStream and requires the stream's ack: the server let the message in
    /// and a Kokeilu stream stored it.
    async fn can_publish(&self, subject: &str) -> jetstream::publish::PublishAck {
        let outcome = tokio::time::timeout(SHORT, async {
            self.js
                .publish(subject.to_owned(), format!("from {}", self.user).into())
                .await?
                .await
                .map_err(async_nats::Error::from)
        })
        .await;
        match outcome {
            Ok(Ok(ack)) => ack,
            Ok(Err(e)) => panic!("{} could not publish {subject}: {e}", self.user),
            Err(_) => panic!("{} got no ack publishing {subject}", self.user),
        }
    }

    /// Publishes on core NATS and requires the server to refuse it.
    async fn cannot_publish(&self, subject: &str) {
        self.client
            .publish(subject.to_owned(), "forged".into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
        self.denied("Publish", subject).await;
    }

    /// Subscribes and requires the server to refuse it.
    async fn cannot_subscribe(&self, subject: &str) {
        let _sub = self.client.subscribe(subject.to_owned()).await.unwrap();
        self.client.flush().await.unwrap();
        self.denied("Subscription", subject).await;
    }
}

/// Looks up or creates a durable pull consumer exactly as `kokeilu_bus::Consumer::ensure` does.
async fn ensure_consumer(
    js: &jetstream::Context,
    c: &ConsumerConfig,
) -> anyhow::Result<jetstream::consumer::PullConsumer> {
    let stream = js.get_stream(&c.stream).await?;
    let consumer = stream
        .get_or_create_consumer(
            &c.durable,
            pull::Config {
                durable_name: Some(c.durable.clone()),
                // One filter goes as `filter_subject`: the client then names it in the API subject
                // ($JS.API.CONSUMER.CREATE.<stream>.<durable>.<filter>), where NATS permissions
                // can pin it.
                filter_subject: match c.filter_subjects.as_slice() {
                    [one] => one.clone(),
                    _ => String::new(),
                },
                filter_subjects: match c.filter_subjects.as_slice() {
                    [_] => Vec::new(),
                    many => many.to_vec(),
                },
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: c.ack_wait,
                max_deliver: -1,
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

/// Every durable consumer each user runs in production, from the services' own configs.
fn consumers_of(user: &str) -> Vec<ConsumerConfig> {
    match user {
        "te-office" => vec![
            te_office::events::consumer_config(1),
            te_office::supervision::actions_consumer(),
        ],
        "avi" => vec![
            supervisor::events::facts_consumer(1),
            supervisor::events::answers_consumer(),
        ],
        area => {
            let slug = area.strip_prefix("area-").unwrap();
            vec![
                trial_area::events::consumer_config(slug, 1),
                trial_area::supervision::actions_consumer(slug, 1),
            ]
        }
    }
}

/// Fetches the next message of `consumer`, requiring one within [`SHORT`].
async fn next_message(consumer: &jetstream::consumer::PullConsumer) -> jetstream::Message {
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(SHORT)
        .messages()
        .await
        .unwrap();
    tokio::time::timeout(SHORT + Duration::from_secs(1), batch.next())
        .await
        .expect("no message within the fetch window")
        .expect("the fetch ended without a message")
        .unwrap()
}

/// `kokeilu nats provision` as `agency` (the operator): every stream exists and is Kokeilu's.
async fn provision(agency: &Agency) -> Vec<(String, Outcome)> {
    streams::provision(&agency.js, 1)
        .await
        .unwrap_or_else(|e| panic!("{} cannot provision the streams: {e}", agency.user))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_agency_publishes_only_its_own_subjects() {
    let server = Server::start();
    let te = login(&server, "te-office").await;
    let kainuu = login(&server, "area-kainuu").await;
    let avi = login(&server, "avi").await;
    // The operator provisions the streams; every service only looks them up.
    let operator = login(&server, "operator").await;
    provision(&operator).await;
    for agency in [&te, &kainuu, &avi] {
        kokeilu_bus::streams::check(&agency.js, 1)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", agency.user));
    }

    // The TE office issues referrals to any area and reports facts about them; never answers.
    te.can_publish(&subjects::referral_issued("kainuu")).await;
    te.can_publish(&subjects::referral_issued("helsinki")).await;
    te.can_publish(&subjects::te_office_fact()).await;
    for c in consumers_of("te-office") {
        te.can_publish(&subjects::dead_letter(&c.durable)).await;
    }
    te.cannot_publish(&subjects::referral_acknowledged("kainuu"))
        .await;
    te.cannot_publish(&subjects::avi_action("kainuu")).await;
    te.cannot_publish(&subjects::compliance("kainuu", "deadline_missed"))
        .await;
    te.cannot_publish(&subjects::supervision_fact("avi")).await;
    te.cannot_publish(&subjects::supervision_fact("kainuu"))
        .await;

    // An area answers referrals of its own area only, and never issues them.
    for subject in [
        subjects::referral_received("kainuu"),
        subjects::referral_acknowledged("kainuu"),
        subjects::referral_rejected("kainuu"),
        subjects::supervision_fact("kainuu"),
        subjects::avi_answer("kainuu"),
    ] {
        kainuu.can_publish(&subject).await;
    }
    for c in consumers_of("area-kainuu") {
        kainuu.can_publish(&subjects::dead_letter(&c.durable)).await;
    }
    for subject in [
        subjects::referral_acknowledged("helsinki"),
        subjects::referral_received("helsinki"),
        subjects::referral_issued("kainuu"),
        subjects::referral_issued("helsinki"),
        subjects::supervision_fact("helsinki"),
        subjects::te_office_fact(),
        subjects::avi_answer("helsinki"),
        subjects::avi_action("kainuu"),
        subjects::compliance("kainuu", "deadline_missed"),
        subjects::dead_letter("te-office-answers"),
        subjects::dead_letter("area-helsinki-referrals"),
    ] {
        kainuu.cannot_publish(&subject).await;
    }

    // AVI publishes compliance events and supervisory actions; it cannot touch referrals or
    // speak for a party.
    avi.can_publish(&subjects::compliance("kainuu", "deadline_missed"))
        .await;
    avi.can_publish(&subjects::avi_action("kainuu")).await;
    for c in consumers_of("avi") {
        avi.can_publish(&subjects::dead_letter(&c.durable)).await;
    }
    for subject in [
        subjects::referral_issued("kainuu"),
        subjects::referral_acknowledged("kainuu"),
        subjects::supervision_fact("kainuu"),
        subjects::avi_answer("kainuu"),
    ] {
        avi.cannot_publish(&subject).await;
    }

    // What was refused never reached a stream: no helsinki answer at all, and the last kainuu
    // referral is the TE office's, not kainuu's forgery.
    let referrals = operator
        .js
        .get_stream(subjects::REFERRAL_STREAM)
        .await
        .unwrap();
    let forged = referrals
        .get_last_raw_message_by_subject(&subjects::referral_acknowledged("helsinki"))
        .await;
    match forged {
        Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => {}
        other => panic!("expected no message on the refused subject, got {other:?}"),
    }
    let issued = referrals
        .get_last_raw_message_by_subject(&subjects::referral_issued("kainuu"))
        .await
        .unwrap();
    assert_eq!(issued.payload, "from te-office");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_subscribes_to_kokeilu_subjects_directly() {
    let server = Server::start();
    let avi = login(&server, "avi").await;
    let kainuu = login(&server, "area-kainuu").await;
    let te = login(&server, "te-office").await;

    // AVI sees supervision data only, and only through its consumers: never a referral.
    avi.cannot_subscribe("kokeilu.v1.referral.>").await;
    avi.cannot_subscribe(&subjects::referral_issued("kainuu"))
        .await;
    // An area reads its referrals through its durable consumer, not by subscribing; and never
    // another area's.
    kainuu
        .cannot_subscribe(&subjects::referral_issued("kainuu"))
        .await;
    kainuu
        .cannot_subscribe(&subjects::referral_issued("helsinki"))
        .await;
    kainuu.cannot_subscribe("kokeilu.v1.supervision.>").await;
    te.cannot_subscribe("kokeilu.v1.>").await;
    // Each reads its own inbox only: not the shared prefix, not another user's.
    kainuu.cannot_subscribe("_INBOX.>").await;
    kainuu.cannot_subscribe("_INBOX_area-helsinki.>").await;
    avi.cannot_subscribe("_INBOX_area-kainuu.>").await;
    te.cannot_subscribe("_INBOX_avi.>").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_consumes_its_referrals_through_its_own_durable_consumer() {
    let server = Server::start();
    let te = login(&server, "te-office").await;
    let kainuu = login(&server, "area-kainuu").await;
    let helsinki = login(&server, "area-helsinki").await;
    let avi = login(&server, "avi").await;

    provision(&login(&server, "operator").await).await;
    // Each service can create and look up each of its consumers, as it does at start.
    for agency in [&te, &kainuu, &helsinki, &avi] {
        for c in consumers_of(agency.user) {
            ensure_consumer(&agency.js, &c)
                .await
                .unwrap_or_else(|e| panic!("{} cannot create {}: {e}", agency.user, c.durable));
        }
    }
    let [area_referrals, _] = &consumers_of("area-kainuu")[..] else {
        panic!("trial-area has two consumers")
    };
    assert_eq!(area_referrals.durable, "area-kainuu-referrals");

    // TE office → kainuu.
    let issued = te.can_publish(&subjects::referral_issued("kainuu")).await;
    let consumer = ensure_consumer(&kainuu.js, area_referrals).await.unwrap();
    let msg = next_message(&consumer).await;
    assert_eq!(msg.subject.as_str(), subjects::referral_issued("kainuu"));
    assert_eq!(msg.payload, "from te-office");
    // A double ack waits for the server's confirmation: the ack subject is allowed.
    msg.double_ack().await.unwrap();
    let mut consumer = consumer;
    let info = consumer.info().await.unwrap();
    assert_eq!(info.ack_floor.stream_sequence, issued.sequence);
    assert_eq!(info.num_ack_pending, 0);

    // Helsinki's consumer never sees kainuu's referral.
    let helsinki_referrals = &consumers_of("area-helsinki")[0];
    let mut theirs = ensure_consumer(&helsinki.js, helsinki_referrals)
        .await
        .unwrap();
    let info = theirs.info().await.unwrap();
    assert_eq!((info.num_pending, info.delivered.stream_sequence), (0, 0));

    // kainuu → TE office, through te-office-answers.
    let answered = kainuu
        .can_publish(&subjects::referral_acknowledged("kainuu"))
        .await;
    let answers = ensure_consumer(&te.js, &consumers_of("te-office")[0])
        .await
        .unwrap();
    let msg = next_message(&answers).await;
    assert_eq!(
        msg.subject.as_str(),
        subjects::referral_acknowledged("kainuu")
    );
    assert_eq!(msg.info().unwrap().stream_sequence, answered.sequence);
    msg.double_ack().await.unwrap();

    // A second referral waits for kainuu while others try to take it.
    let waiting = te.can_publish(&subjects::referral_issued("kainuu")).await;

    // Kainuu cannot use, inspect or create helsinki's consumer, pin a consumer to helsinki's
    // subject, read the stream directly, or create a stream of its own (say, one sourcing
    // KOKEILU_REFERRAL).
    let stolen = ensure_consumer(&kainuu.js, helsinki_referrals).await;
    assert!(stolen.is_err(), "kainuu opened area-helsinki-referrals");
    kainuu
        .denied(
            "Publish",
            "$JS.API.CONSUMER.INFO.KOKEILU_REFERRAL.area-helsinki-referrals",
        )
        .await;
    for subject in [
        "$JS.API.CONSUMER.MSG.NEXT.KOKEILU_REFERRAL.area-helsinki-referrals",
        "$JS.API.CONSUMER.CREATE.KOKEILU_REFERRAL.area-helsinki-referrals",
        "$JS.API.CONSUMER.DURABLE.CREATE.KOKEILU_REFERRAL.area-helsinki-referrals",
        "$JS.API.CONSUMER.CREATE.KOKEILU_REFERRAL.kainuu-snoop.kokeilu.v1.referral.helsinki.issued",
        "$JS.API.CONSUMER.CREATE.KOKEILU_REFERRAL.area-kainuu-referrals.kokeilu.v1.referral.helsinki.issued",
        // Its own durable only with its own filter in the subject (so the body cannot differ).
        "$JS.API.CONSUMER.CREATE.KOKEILU_REFERRAL.area-kainuu-referrals",
        "$JS.API.CONSUMER.DURABLE.CREATE.KOKEILU_REFERRAL.area-kainuu-referrals",
        "$JS.API.CONSUMER.DELETE.KOKEILU_REFERRAL.area-helsinki-referrals",
        "$JS.API.STREAM.MSG.GET.KOKEILU_REFERRAL",
        "$JS.API.DIRECT.GET.KOKEILU_REFERRAL",
        "$JS.API.STREAM.CREATE.KOKEILU_SNOOP",
        "$JS.API.STREAM.DELETE.KOKEILU_REFERRAL",
        "$JS.API.STREAM.PURGE.KOKEILU_REFERRAL",
    ] {
        kainuu.cannot_publish(subject).await;
    }
    // Neither can helsinki or AVI fetch from kainuu's consumer, nor anyone create other streams.
    for other in [&helsinki, &avi] {
        other
            .cannot_publish("$JS.API.CONSUMER.MSG.NEXT.KOKEILU_REFERRAL.area-kainuu-referrals")
            .await;
    }
    for agency in [&te, &avi] {
        agency
            .cannot_publish("$JS.API.STREAM.CREATE.KOKEILU_SNOOP")
            .await;
    }

    // The refused fetches took nothing: the second referral still waits, undelivered, and goes
    // to kainuu.
    let info = consumer.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (1, 0));
    let msg = next_message(&consumer).await;
    assert_eq!(msg.info().unwrap().stream_sequence, waiting.sequence);
    msg.double_ack().await.unwrap();
    let info = theirs.info().await.unwrap();
    assert_eq!(info.delivered.stream_sequence, 0);
}

/// Streams are provisioned, not improvised: no service user can create, change, purge or delete
/// a stream (it keeps only `STREAM.INFO`), the operator provisions them idempotently, and once
/// provisioned their messages cannot be purged or deleted by anyone, the operator included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_operator_provisions_streams_and_nobody_removes_messages() {
    let server = Server::start();
    let te = login(&server, "te-office").await;
    let kainuu = login(&server, "area-kainuu").await;
    let avi = login(&server, "avi").await;
    let operator = login(&server, "operator").await;
    let services = [&te, &kainuu, &avi];

    // A service user cannot create the streams; a service starting first finds them missing.
    for agency in services {
        let refused = streams::provision(&agency.js, 1).await;
        assert!(refused.is_err(), "{} created a stream", agency.user);
        agency
            .denied(
                "Publish",
                &format!("$JS.API.STREAM.CREATE.{}", subjects::REFERRAL_STREAM),
            )
            .await;
        match streams::check(&agency.js, 1).await {
            Err(CheckError::Invalid {
                missing,
                mismatches,
            }) => {
                assert_eq!(missing, streams::names().collect::<Vec<_>>());
                assert!(mismatches.is_empty());
            }
            other => panic!("{}: expected missing streams, got {other:?}", agency.user),
        }
    }

    // The operator provisions every stream; provisioning again changes nothing.
    let first = provision(&operator).await;
    assert_eq!(first.len(), streams::names().count());
    assert!(
        first.iter().all(|(_, o)| *o == Outcome::Created),
        "{first:?}"
    );
    let again = provision(&operator).await;
    assert!(
        again.iter().all(|(_, o)| *o == Outcome::Unchanged),
        "{again:?}"
    );
    for agency in services {
        streams::check(&agency.js, 1)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", agency.user));
    }

    // Looking a stream up is all a service user may do with it.
    for agency in services {
        for name in streams::names() {
            for op in [
                "CREATE",
                "UPDATE",
                "PURGE",
                "DELETE",
                "MSG.DELETE",
                "MSG.GET",
            ] {
                agency
                    .cannot_publish(&format!("$JS.API.STREAM.{op}.{name}"))
                    .await;
            }
        }
    }
    let issued = te.can_publish(&subjects::referral_issued("kainuu")).await;
    let referrals = kainuu
        .js
        .get_stream(subjects::REFERRAL_STREAM)
        .await
        .unwrap();
    assert!(referrals.purge().await.is_err(), "kainuu purged referrals");
    assert!(
        referrals.delete_message(issued.sequence).await.is_err(),
        "kainuu deleted a referral"
    );
    assert!(
        kainuu
            .js
            .delete_stream(subjects::REFERRAL_STREAM)
            .await
            .is_err(),
        "kainuu deleted the referral stream"
    );

    // The streams themselves refuse purges and deletes (deny_purge, deny_delete), even from the
    // operator, whose JetStream API rights are complete.
    let referrals = operator
        .js
        .get_stream(subjects::REFERRAL_STREAM)
        .await
        .unwrap();
    match referrals.purge().await {
        Err(e) => assert!(e.to_string().contains("purge not permitted"), "{e}"),
        Ok(p) => panic!("the operator purged referrals: {p:?}"),
    }
    match referrals.delete_message(issued.sequence).await {
        Err(e) => assert!(e.to_string().contains("delete not permitted"), "{e}"),
        Ok(d) => panic!("the operator deleted a referral: {d:?}"),
    }
    let mut referrals = referrals;
    let state = referrals.info().await.unwrap().state.clone();
    assert_eq!((state.messages, state.last_sequence), (1, issued.sequence));

    // The account's JetStream limits (accounts.conf) hold Kokeilu's streams and no more.
    let account = operator.js.query_account().await.unwrap();
    assert_eq!(
        account.limits.max_streams,
        Some(i64::try_from(streams::names().count()).unwrap())
    );
    assert!(account.limits.max_consumers.is_some_and(|n| n > 0));
    assert!(account.limits.max_storage.is_some_and(|n| n > 0));
    let sixth = operator
        .js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "KOKEILU_EXTRA".into(),
            subjects: vec!["kokeilu.extra.>".into()],
            ..Default::default()
        })
        .await;
    match sixth {
        Err(e) => assert!(e.to_string().contains("maximum number of streams"), "{e}"),
        Ok(_) => panic!("a sixth stream was created"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused() {
    let server = Server::start();
    let refused = ConnectOptions::with_user_and_password("area-kainuu".into(), "guess".into())
        .connect(server.url())
        .await;
    match refused {
        Err(e) => assert_eq!(e.kind(), ConnectErrorKind::AuthorizationViolation, "{e}"),
        Ok(_) => panic!("area-kainuu logged in with a wrong password"),
    }
    // The right one (checked against the bcrypt hash the server holds) works.
    let kainuu = login(&server, "area-kainuu").await;
    kainuu.client.flush().await.unwrap();
}

/// Runs `nats-server -t -c config` (parse and check, then exit) with `env`.
/// `unset` names variables to leave out of the environment.
fn check_config(config: &Path, env: &[(&str, &str)], unset: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(nats_binary());
    with_logins(cmd.arg("-t").arg("-c").arg(config));
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Lays out deploy/nats/cluster and accounts.conf in a temporary folder as they are on a node,
/// with the TLS snippets (`tls-*.conf`) replaced by empty stand-ins.
fn cluster_layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cluster")).unwrap();
    std::fs::copy(
        deploy_nats().join("accounts.conf"),
        dir.path().join("accounts.conf"),
    )
    .unwrap();
    for entry in std::fs::read_dir(deploy_nats().join("cluster")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let target = dir.path().join("cluster").join(&name);
        if name.starts_with("tls-") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.contains("tls {") && text.contains("/etc/nats/tls/"),
                "{name} should be a tls {{ }} block with certificates under /etc/nats/tls"
            );
            std::fs::write(target, "# TLS stand-in for the configuration check\n").unwrap();
        } else {
            std::fs::copy(&path, target).unwrap();
        }
    }
    dir
}

#[test]
fn the_cluster_configuration_is_valid() {
    let layout = cluster_layout();
    let mut checked = 0;
    for entry in std::fs::read_dir(layout.path().join("cluster")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("tls-") || !name.ends_with(".conf") {
            continue;
        }
        let (ok, out) = check_config(&path, &cluster_env(), &[]);
        assert!(ok, "nats-server -t rejects cluster/{name}:\n{out}");
        assert!(out.contains("is valid"), "{out}");
        let text = std::fs::read_to_string(&path).unwrap();
        let settings: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .collect();
        for required in [
            "sync_interval: always",
            "max_payload: 8MB",
            "include \"tls-client.conf\"",
            "include \"tls-routes.conf\"",
            "include \"../accounts.conf\"",
            // Encryption at rest, with the key from the environment.
            "cipher: chachapoly",
            "key: $KOKEILU_NATS_JETSTREAM_KEY",
        ] {
            assert!(
                settings.contains(&required),
                "cluster/{name} lacks `{required}`"
            );
        }
        checked += 1;
    }
    assert!(
        checked > 0,
        "no server configuration in deploy/nats/cluster"
    );

    // The check is not vacuous: the included accounts file is parsed and its variables resolved.
    let (ok, out) = check_config(
        &layout.path().join("cluster/nats.conf"),
        &cluster_env(),
        &["KOKEILU_NATS_PASS_AVI"],
    );
    assert!(
        !ok,
        "a missing password variable should fail the check:\n{out}"
    );
    assert!(out.contains("KOKEILU_NATS_PASS_AVI"), "{out}");
    // Nor does a node start without its encryption key.
    let (ok, out) = check_config(
        &layout.path().join("cluster/nats.conf"),
        &[("NATS_SERVER_NAME", "nats-0")],
        &["KOKEILU_NATS_JETSTREAM_KEY"],
    );
    assert!(
        !ok,
        "a missing encryption key should fail the check:\n{out}"
    );
    assert!(out.contains("KOKEILU_NATS_JETSTREAM_KEY"), "{out}");
}

/// A cluster node's environment besides the passwords: its name and the JetStream key.
fn cluster_env() -> [(&'static str, &'static str); 2] {
    [
        ("NATS_SERVER_NAME", "nats-0"),
        (
            "KOKEILU_NATS_JETSTREAM_KEY",
            "\"test-only-jetstream-key-0123456789abcdef\"",
        ),
    ]
}

#[test]
fn the_local_configuration_is_valid() {
    let (ok, out) = check_config(&deploy_nats().join("local.conf"), &[], &[]);
    assert!(ok, "nats-server -t rejects deploy/nats/local.conf:\n{out}");
    let text = std::fs::read_to_string(deploy_nats().join("local.conf")).unwrap();
    assert!(text.lines().any(|l| l.trim() == "sync_interval: always"));
    assert!(text.lines().any(|l| l.trim() == "listen: 127.0.0.1:4333"));
}

/// The real services, each logged in as its own user of accounts.conf, carry a referral from
/// the TE office to kainuu and back, and AVI's supervisor receives the facts: the permissions are
/// enough for everything the services do (a refused publish, subscription or consumer would stop
/// the flow).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_work_under_their_own_users() {
    let server = Server::start();
    provision(&login(&server, "operator").await).await;
    let user_of = |name: &str| {
        logins().into_iter().find(|l| l.user == name).map(|l| {
            (
                l.user.to_owned(),
                kokeilu_platform::config::Secret::new(l.password),
            )
        })
    };
    let sys =
        support::InProcess::start_on(TestBackend::Sqlite, &["kainuu"], &server.url(), user_of)
            .await
            .unwrap();
    let mut te = sys.te().await;
    let id = te
        .submit_referral(support::referral(1, "205"))
        .await
        .unwrap()
        .into_inner()
        .referral_id;
    support::wait_status(
        &mut te,
        &id,
        kokeilu_proto::teoffice::ReferralStatus::Delivered,
    )
    .await;
    sys.area("kainuu")
        .await
        .acknowledge_client(kokeilu_proto::trialarea::AcknowledgeClientRequest {
            area_id: "kainuu".into(),
            referral_id: id.clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    support::wait_status(
        &mut te,
        &id,
        kokeilu_proto::teoffice::ReferralStatus::Acknowledged,
    )
    .await;
    // AVI applied the three facts (issued by te-office, received and acknowledged by kainuu).
    wait_for("AVI to take in the three facts", SHORT * 6, || async {
        (support::count(&sys.supervisor.db, "inbox").await == 3).then_some(())
    })
    .await;
    sys.stop().await;
}
