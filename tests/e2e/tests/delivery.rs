//! Delivery guarantees: a message delivered twice has one effect; a poison message is
//! dead-lettered; one trace follows a referral across the services.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use kokeilu_bus::envelope;
use kokeilu_proto::teoffice as te;
use kokeilu_proto::{subjects, timestamp_from};
use kokeilu_test_support::{TestBackend, wait_for};
use prost::Message;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_twice_has_one_effect() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut te = sys.te().await;
    let resp = te
        .submit_referral(referral(7, "205"))
        .await
        .unwrap()
        .into_inner();
    wait_status(&mut te, &resp.referral_id, te::ReferralStatus::Delivered).await;

    // Take the envelope te-office published and publish it again under another Nats-Msg-Id, so
    // JetStream's own dedup does not catch it: the area's inbox must.
    let js = sys.js().await;
    let stream = js.get_stream(subjects::REFERRAL_STREAM).await.unwrap();
    let original = stream
        .get_last_raw_message_by_subject(&subjects::referral_issued("kainuu"))
        .await
        .unwrap();
    for copy in 0..2 {
        js.send_publish(
            subjects::referral_issued("kainuu"),
            PublishMessage::build()
                .payload(original.payload.clone())
                .message_id(format!("forced-redelivery-{copy}")),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    // Both copies are consumed (acked) by the area…
    let consumer_name = "area-kainuu-referrals";
    wait_for("the copies to be consumed", Duration::from_secs(30), || {
        let js = js.clone();
        async move {
            let mut c: async_nats::jetstream::consumer::PullConsumer = js
                .get_stream(subjects::REFERRAL_STREAM)
                .await
                .ok()?
                .get_consumer(consumer_name)
                .await
                .ok()?;
            let info = c.info().await.ok()?;
            (info.num_ack_pending == 0
                && info.num_pending == 0
                && info.delivered.stream_sequence >= 4)
                .then_some(())
        }
    })
    .await;
    // …with one effect: one stored referral, one receipt, one "delivered" in the history.
    let area_db = &sys.areas["kainuu"].db;
    assert_eq!(count(area_db, "incoming_referrals").await, 1);
    assert_eq!(
        count(area_db, "outbox").await,
        2,
        "the receipt to te-office and its fact to AVI"
    );
    assert_eq!(count(area_db, "inbox").await, 1);
    let r = te
        .get_referral(te::GetReferralRequest {
            referral_id: resp.referral_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let delivered = r
        .history
        .iter()
        .filter(|h| h.status == te::ReferralStatus::Delivered as i32)
        .count();
    assert_eq!(delivered, 1);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dead_letter_subject() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let js = sys.js().await;
    // Not an envelope at all.
    js.send_publish(
        subjects::referral_issued("kainuu"),
        PublishMessage::build()
            .payload("garbage".into())
            .message_id("poison-1"),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    // A well-formed envelope addressed to another area, on this area's subject.
    let payload = kokeilu_proto::referral::ReferralIssued {
        referral_id: uuid::Uuid::now_v7().to_string(),
        area_id: "helsinki".into(),
        issued_at: Some(timestamp_from(test_start())),
        ..Default::default()
    };
    let env = envelope::seal(
        envelope::te_office(),
        envelope::trial_area("helsinki"),
        &payload.referral_id,
        None,
        &payload,
        test_start(),
    );
    js.send_publish(
        subjects::referral_issued("kainuu"),
        PublishMessage::build()
            .payload(env.encode_to_vec().into())
            .message_id("poison-2"),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    wait_for("two dead letters", Duration::from_secs(30), || {
        let js = js.clone();
        async move { (stream_messages(&js, subjects::DEAD_LETTER_STREAM).await == 2).then_some(()) }
    })
    .await;
    let dlq = js.get_stream(subjects::DEAD_LETTER_STREAM).await.unwrap();
    let first = dlq.get_raw_message(1).await.unwrap();
    let reason = first
        .headers
        .get(kokeilu_bus::consumer::DLQ_REASON)
        .unwrap()
        .as_str()
        .to_owned();
    assert!(reason.contains("envelope"), "{reason}");
    let second = dlq.get_raw_message(2).await.unwrap();
    let reason = second
        .headers
        .get(kokeilu_bus::consumer::DLQ_REASON)
        .unwrap()
        .as_str()
        .to_owned();
    assert!(reason.contains("helsinki"), "{reason}");
    assert_eq!(
        second
            .headers
            .get(kokeilu_bus::consumer::DLQ_SUBJECT)
            .unwrap()
            .as_str(),
        subjects::referral_issued("kainuu")
    );
    assert_eq!(
        count(&sys.areas["kainuu"].db, "incoming_referrals").await,
        0
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_follows_a_referral_across_services() {
    let exporter = kokeilu_platform::telemetry::install_test_exporter();
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut te = sys.te().await;
    let resp = te
        .submit_referral(referral(9, "205"))
        .await
        .unwrap()
        .into_inner();
    wait_status(&mut te, &resp.referral_id, te::ReferralStatus::Delivered).await;
    let mut area = sys.area("kainuu").await;
    area.acknowledge_client(kokeilu_proto::trialarea::AcknowledgeClientRequest {
        area_id: "kainuu".into(),
        referral_id: resp.referral_id.clone(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    })
    .await
    .unwrap();
    wait_status(&mut te, &resp.referral_id, te::ReferralStatus::Acknowledged).await;

    let wanted = [
        "kokeilu.v1.referral.kainuu.issued process".to_owned(),
        "kokeilu.v1.referral.kainuu.received process".to_owned(),
        "kokeilu.v1.referral.kainuu.acknowledged process".to_owned(),
    ];
    let spans = wait_for("the spans of the referral", Duration::from_secs(30), || {
        let exporter = exporter.clone();
        let wanted = wanted.clone();
        let id = resp.referral_id.clone();
        async move {
            let spans = exporter.get_finished_spans().ok()?;
            let submit = spans.iter().find(|s| {
                s.name == "SubmitReferral"
                    && spans.iter().any(|c| {
                        c.span_context.trace_id() == s.span_context.trace_id()
                            && c.attributes
                                .iter()
                                .any(|kv| kv.value.as_str() == id.as_str())
                    })
            })?;
            let trace = submit.span_context.trace_id();
            let names: Vec<String> = spans
                .iter()
                .filter(|s| s.span_context.trace_id() == trace)
                .map(|s| s.name.to_string())
                .collect();
            wanted.iter().all(|w| names.contains(w)).then_some(names)
        }
    })
    .await;
    assert!(spans.iter().any(|n| n.ends_with("publish")), "{spans:?}");
    sys.stop().await;
}
