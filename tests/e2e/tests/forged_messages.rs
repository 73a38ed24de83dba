//! Messages are bound to the party NATS authenticated (DESIGN.md §5). A trial area holds valid
//! NATS credentials, so it can publish whatever it likes on its own subjects: these tests log in
//! as Kainuu with the real `deploy/nats/accounts.conf` and try to act for Helsinki, for the TE
//! office and for AVI's addressee. Each forgery is either refused by NATS (another party's
//! subject) or reaches a service, which refuses it as a *security event*: a dead letter marked
//! `Kokeilu-Security-Event: true`, with a reason that carries no personal data, and no change of
//! state. Only the addressed area's answer to an information request counts.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::{ConnectOptions, Event, ServerError};
use kokeilu_bus::consumer::{DLQ_CONSUMER, DLQ_REASON, DLQ_SECURITY_EVENT};
use kokeilu_bus::envelope;
use kokeilu_devtools::nats_server::{NatsOptions, NatsProcess};
use kokeilu_platform::config::Secret;
use kokeilu_platform::metrics::SECURITY_EVENTS;
use kokeilu_platform::privacy::contains_identity_code;
use kokeilu_proto::common::Agency;
use kokeilu_proto::referral::ReferralAcknowledged;
use kokeilu_proto::supervision::{ClientRecord, FactKind, InformationAnswer, ServiceFact};
use kokeilu_proto::supervisor as avi_api;
use kokeilu_proto::teoffice::{self as te, ReferralStatus};
use kokeilu_proto::trialarea as area_api;
use kokeilu_proto::{Payload, date_from_naive, subjects, timestamp_from};
use kokeilu_test_support::{TestBackend, wait_for, workspace_root};
use prost::Message;
use support::{InProcess, count, referral, stream_messages, test_start, wait_status};

mod support;

const WAIT: Duration = Duration::from_secs(30);

/// Every user of accounts.conf: its server variable, user name and password.
const USERS: [(&str, &str, &str); 6] = [
    ("KOKEILU_NATS_PASS_TE_OFFICE", "te-office", "te-forged-pw"),
    (
        "KOKEILU_NATS_PASS_KAINUU",
        "area-kainuu",
        "kainuu-forged-pw",
    ),
    (
        "KOKEILU_NATS_PASS_PIRKANMAA",
        "area-pirkanmaa",
        "pirkanmaa-forged-pw",
    ),
    (
        "KOKEILU_NATS_PASS_HELSINKI",
        "area-helsinki",
        "helsinki-forged-pw",
    ),
    ("KOKEILU_NATS_PASS_AVI", "avi", "avi-forged-pw"),
    (
        "KOKEILU_NATS_PASS_OPERATOR",
        "operator",
        "operator-forged-pw",
    ),
];

fn password(user: &str) -> Option<&'static str> {
    USERS.iter().find(|u| u.1 == user).map(|u| u.2)
}

/// nats-server with `deploy/nats/accounts.conf` as is, copied beside its configuration.
fn server() -> (NatsProcess, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("kokeilu-forged-")
        .tempdir()
        .unwrap();
    std::fs::copy(
        workspace_root().join("deploy/nats/accounts.conf"),
        dir.path().join("accounts.conf"),
    )
    .unwrap();
    let nats = kokeilu_test_support::nats_unprovisioned_with(&NatsOptions {
        store_dir: Some(dir.path().to_path_buf()),
        extra_config: "include \"accounts.conf\"".to_owned(),
        // nats-server reads the values as configuration: quoted, as accounts.conf documents.
        env: USERS
            .iter()
            .map(|(var, _, pw)| ((*var).to_owned(), format!("\"{pw}\"")))
            .collect(),
        ..Default::default()
    });
    // The operator provisions the streams, as in production; services only look them up.
    kokeilu_test_support::provision_as(
        &nats.url(),
        Some(("operator", password("operator").unwrap())),
    );
    (nats, dir)
}

/// One NATS user's connection, keeping the errors the server reports (refused publishes).
struct Login {
    client: async_nats::Client,
    js: jetstream::Context,
    errors: Arc<Mutex<Vec<String>>>,
}

async fn login(url: &str, user: &str) -> Login {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let client =
        ConnectOptions::with_user_and_password(user.into(), password(user).unwrap().into())
            .custom_inbox_prefix(
                kokeilu_bus::nats::Login {
                    urls: url.to_owned(),
                    user: Some((user.to_owned(), Secret::default())),
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
            .connect(url)
            .await
            .unwrap();
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .build(client.clone());
    Login { client, js, errors }
}

impl Login {
    /// Publishes an envelope through JetStream; the stream must take it (NATS lets it in).
    async fn publish<P: Payload>(&self, subject: &str, sender: Agency, recipient: Agency, p: &P) {
        let env = envelope::seal(sender, recipient, "forged", None, p, test_start());
        self.js
            .publish(subject.to_owned(), env.encode_to_vec().into())
            .await
            .unwrap()
            .await
            .unwrap_or_else(|e| panic!("{subject} was not stored: {e}"));
    }

    /// Publishes an envelope and requires NATS to refuse it.
    async fn refused<P: Payload>(&self, subject: &str, sender: Agency, recipient: Agency, p: &P) {
        let env = envelope::seal(sender, recipient, "forged", None, p, test_start());
        self.client
            .publish(subject.to_owned(), env.encode_to_vec().into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
        let needle = format!("permissions violation for publish to \"{subject}\"");
        let errors = self.errors.clone();
        wait_for(&format!("NATS to refuse {subject}"), WAIT, || {
            let found = errors
                .lock()
                .unwrap()
                .iter()
                .any(|e| e.to_lowercase().contains(&needle));
            async move { found.then_some(()) }
        })
        .await;
    }
}

/// A dead letter as the operator reads it from KOKEILU_DLQ.
#[derive(Debug)]
struct DeadLetter {
    consumer: String,
    security: bool,
    reason: String,
}

/// Waits until the dead-letter stream holds `n` messages and returns them.
async fn dead_letters(operator: &Login, n: u64) -> Vec<DeadLetter> {
    wait_for(&format!("{n} dead letters"), WAIT, || async {
        (stream_messages(&operator.js, subjects::DEAD_LETTER_STREAM).await >= n).then_some(())
    })
    .await;
    let stream = operator
        .js
        .get_stream(subjects::DEAD_LETTER_STREAM)
        .await
        .unwrap();
    let mut out = Vec::new();
    for seq in 1..=n {
        let m = stream.get_raw_message(seq).await.unwrap();
        let header = |h: &str| {
            m.headers
                .get(h)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        out.push(DeadLetter {
            consumer: header(DLQ_CONSUMER),
            security: header(DLQ_SECURITY_EVENT) == "true",
            reason: header(DLQ_REASON),
        });
    }
    out
}

/// Row counts of `tables` on a service's database.
async fn counts(db: &kokeilu_bus::Db, tables: &[&'static str]) -> Vec<i64> {
    let mut out = Vec::new();
    for t in tables {
        out.push(count(db, t).await);
    }
    out
}

/// te-office's state (its inbox also takes AVI's information request, which it ignores).
const TE_TABLES: [&str; 3] = ["referrals", "referral_events", "suspensions"];

const AVI_TABLES: [&str; 5] = [
    "cases",
    "deadlines",
    "compliance_events",
    "information_answers",
    "inbox",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kainuus_credentials_cannot_act_for_another_party() {
    let (nats, _dir) = server();
    let url = nats.url();
    let user_of = |name: &str| password(name).map(|pw| (name.to_owned(), Secret::new(pw)));
    let sys = InProcess::start_on(TestBackend::Sqlite, &["kainuu", "helsinki"], &url, user_of)
        .await
        .unwrap();
    let kainuu = login(&url, "area-kainuu").await;
    let operator = login(&url, "operator").await;

    // A referral to Helsinki (municipality 091), received there and known to AVI.
    let mut te = sys.te().await;
    let helsinki_referral = te
        .submit_referral(referral(1, "091"))
        .await
        .unwrap()
        .into_inner()
        .referral_id;
    wait_status(&mut te, &helsinki_referral, ReferralStatus::Delivered).await;
    wait_for("AVI to open Helsinki's case", WAIT, || async {
        (count(&sys.supervisor.db, "cases").await == 1).then_some(())
    })
    .await;
    let te_before = te
        .get_referral(te::GetReferralRequest {
            referral_id: helsinki_referral.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let te_rows_before = counts(&sys.te_office.db, &TE_TABLES).await;
    let avi_before = counts(&sys.supervisor.db, &AVI_TABLES).await;

    // 1. Kainuu acknowledges Helsinki's client.
    let ack = |area: &str| ReferralAcknowledged {
        referral_id: helsinki_referral.clone(),
        area_id: area.to_owned(),
        acknowledged_at: Some(timestamp_from(test_start())),
        ..Default::default()
    };
    let te_office = envelope::te_office;
    let as_kainuu = || envelope::trial_area("kainuu");
    let as_helsinki = || envelope::trial_area("helsinki");
    // On Helsinki's subject: NATS refuses.
    kainuu
        .refused(
            &subjects::referral_acknowledged("helsinki"),
            as_helsinki(),
            te_office(),
            &ack("helsinki"),
        )
        .await;
    // On its own subject, the sender lying about itself.
    let own_ack = subjects::referral_acknowledged("kainuu");
    kainuu
        .publish(&own_ack, as_helsinki(), te_office(), &ack("helsinki"))
        .await;
    // Honest sender, Helsinki named in the payload.
    kainuu
        .publish(&own_ack, as_kainuu(), te_office(), &ack("helsinki"))
        .await;
    // Honest throughout, but the referral went to Helsinki.
    kainuu
        .publish(&own_ack, as_kainuu(), te_office(), &ack("kainuu"))
        .await;

    // 2. Kainuu forges the TE office's "referral issued" fact, and reports on Helsinki's case.
    let fact = |kind: FactKind, referral_id: &str| ServiceFact {
        kind: kind as i32,
        referral_id: referral_id.to_owned(),
        area_id: "kainuu".into(),
        client_pseudonym: "ab".repeat(32),
        pseudonym_key_id: "forged".into(),
        date: Some(date_from_naive(test_start().date_naive())),
        job_search_start_date: Some(date_from_naive(test_start().date_naive())),
        municipality_code: "205".into(),
        ..Default::default()
    };
    let issued = fact(FactKind::ReferralIssued, "forged-referral");
    kainuu
        .refused(
            &subjects::te_office_fact(),
            te_office(),
            envelope::supervisor(),
            &issued,
        )
        .await;
    let own_fact = subjects::supervision_fact("kainuu");
    kainuu
        .publish(&own_fact, te_office(), envelope::supervisor(), &issued)
        .await;
    kainuu
        .publish(&own_fact, as_kainuu(), envelope::supervisor(), &issued)
        .await;
    kainuu
        .publish(
            &own_fact,
            as_kainuu(),
            envelope::supervisor(),
            &fact(FactKind::ReferralAcknowledged, &helsinki_referral),
        )
        .await;

    // 3. AVI asks Helsinki about its client; Kainuu answers.
    let mut avi = sys.avi().await;
    let request = avi
        .request_information(avi_api::RequestInformationRequest {
            area_id: "helsinki".into(),
            referral_ids: vec![helsinki_referral.clone()],
            purpose: "forgery test".into(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    let answer = |area: &str| InformationAnswer {
        action_id: request.action_id.clone(),
        area_id: area.to_owned(),
        records: vec![ClientRecord {
            referral_id: helsinki_referral.clone(),
            henkilotunnus: "131052-308T".into(),
            ..Default::default()
        }],
        answered_at: Some(timestamp_from(test_start())),
        masked: false,
    };
    kainuu
        .refused(
            &subjects::avi_answer("helsinki"),
            as_helsinki(),
            envelope::supervisor(),
            &answer("helsinki"),
        )
        .await;
    let own_answer = subjects::avi_answer("kainuu");
    kainuu
        .publish(
            &own_answer,
            as_kainuu(),
            envelope::supervisor(),
            &answer("kainuu"),
        )
        .await;
    kainuu
        .publish(
            &own_answer,
            as_helsinki(),
            envelope::supervisor(),
            &answer("helsinki"),
        )
        .await;

    // Every forgery that got past NATS is a security event, with a reason and no personal data.
    let dead = dead_letters(&operator, 8).await;
    for d in &dead {
        assert!(d.security, "not marked as a security event: {d:?}");
        assert!(!d.reason.is_empty(), "{d:?}");
        assert!(!contains_identity_code(d.reason.as_bytes()), "{d:?}");
    }
    let of = |c: &str| dead.iter().filter(|d| d.consumer == c).count();
    assert_eq!(of("te-office-answers"), 3, "{dead:#?}");
    assert_eq!(of("avi-facts"), 3, "{dead:#?}");
    assert_eq!(of("avi-answers"), 2, "{dead:#?}");
    // And counted: kokeilu_security_events_total per consumer (one recorder for this process;
    // each count follows its dead letter).
    let security = |exposition: &str, consumer: &str| -> f64 {
        exposition
            .lines()
            .filter(|l| l.starts_with(SECURITY_EVENTS) && l.contains(consumer))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    wait_for("the security events to be counted", WAIT, || {
        let exposition = kokeilu_platform::metrics::handle().unwrap().render();
        let counted = [
            security(&exposition, "te-office-answers"),
            security(&exposition, "avi-facts"),
            security(&exposition, "avi-answers"),
        ];
        async move { (counted == [3.0, 3.0, 2.0]).then_some(()) }
    })
    .await;

    // Nothing changed: te-office's referral and history, AVI's cases, deadlines and answers.
    let te_after = te
        .get_referral(te::GetReferralRequest {
            referral_id: helsinki_referral.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(te_after, te_before);
    assert_eq!(te_after.status, ReferralStatus::Delivered as i32);
    assert_eq!(counts(&sys.te_office.db, &TE_TABLES).await, te_rows_before);
    assert_eq!(counts(&sys.supervisor.db, &AVI_TABLES).await, avi_before);

    // Only the addressed area's answer counts: Helsinki answers, and AVI holds that one.
    let helsinki = sys.area("helsinki").await;
    wait_for("Helsinki to answer the request", WAIT, || {
        let mut helsinki = helsinki.clone();
        let action_id = request.action_id.clone();
        async move {
            helsinki
                .answer_information_request(area_api::AnswerInformationRequestRequest {
                    area_id: "helsinki".into(),
                    action_id,
                    idempotency_key: uuid::Uuid::now_v7().to_string(),
                })
                .await
                .ok()
        }
    })
    .await;
    let stored = wait_for("AVI to store Helsinki's answer", WAIT, || {
        let mut avi = avi.clone();
        let action_id = request.action_id.clone();
        async move {
            avi.get_information_answer(avi_api::GetInformationAnswerRequest { action_id })
                .await
                .ok()
        }
    })
    .await
    .into_inner();
    assert_eq!(stored.area_id, "helsinki");
    assert_eq!(stored.records.len(), 1);
    assert_ne!(stored.records[0].henkilotunnus, "131052-308T");
    sys.stop().await;
}
