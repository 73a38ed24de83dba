//! Malformed and oversize protobuf to every RPC and every consumer: no panic, no state change.
//!
//! The inputs come from a seeded generator (the seed is printed, so a failure can be replayed with
//! `KOKEILU_FUZZ_SEED`): random bytes, truncated and mis-typed fields, huge length prefixes,
//! deep nesting, and messages larger than the services accept. Every RPC of every service (from
//! the descriptors) gets them from its rightful caller, past the authorisation table, so the
//! decoders and validators are what is tried; every consumed subject gets them as NATS messages,
//! bare and inside an otherwise well-formed envelope. Afterwards no table has changed (the dead
//! letters of the consumers aside), every service still answers, and no thread panicked.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kokeilu_platform::identity::Identity;
use kokeilu_test_support::TestBackend;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::raw::{call, methods_of};
use support::*;
use tonic::Code;

/// One malformed input.
fn malformed(rng: &mut StdRng, case: usize) -> Vec<u8> {
    match case % 8 {
        // Random bytes.
        0 => (0..rng.random_range(1..256))
            .map(|_| rng.random())
            .collect(),
        // A length-delimited field whose length runs past the end.
        1 => vec![0x0a, 0xff, 0xff, 0xff, 0x0f, b'x'],
        // A varint that never ends.
        2 => vec![0x08; rng.random_range(11..64)],
        // Field number 0 and reserved wire types.
        3 => vec![0x00, 0x01, 0x0b, 0x0c, 0x0f],
        // A string field that is not UTF-8.
        4 => vec![0x0a, 0x04, 0xff, 0xfe, 0xfd, 0xfc],
        // Deeply nested length-delimited fields (the decoder's recursion limit).
        5 => {
            let mut v = vec![0x08, 0x01];
            for _ in 0..200 {
                let mut outer = vec![0x12];
                let mut len = v.len();
                while len >= 0x80 {
                    outer.push((len as u8) | 0x80);
                    len >>= 7;
                }
                outer.push(len as u8);
                outer.extend(v);
                v = outer;
            }
            v
        }
        // A valid-looking message with random field numbers and wire types.
        6 => {
            let mut v = Vec::new();
            for _ in 0..rng.random_range(1..20) {
                let field: u32 = rng.random_range(1..40);
                let wire = [0u32, 1, 2, 5][rng.random_range(0..4)];
                let key = (field << 3) | wire;
                prost::encoding::encode_varint(u64::from(key), &mut v);
                match wire {
                    0 => prost::encoding::encode_varint(rng.random(), &mut v),
                    1 => v.extend(rng.random::<u64>().to_le_bytes()),
                    2 => {
                        let n = rng.random_range(0..32);
                        prost::encoding::encode_varint(n, &mut v);
                        v.extend((0..n).map(|_| rng.random::<u8>()));
                    }
                    _ => v.extend(rng.random::<u32>().to_le_bytes()),
                }
            }
            v
        }
        // Larger than any service accepts (the limit is 256 KiB).
        _ => {
            let mut v = vec![0x0a];
            prost::encoding::encode_varint(600 * 1024, &mut v);
            v.extend(std::iter::repeat_n(b'a', 600 * 1024));
            v
        }
    }
}

/// Row counts of every table except the consumers' inboxes.
async fn tables(sys: &InProcess) -> BTreeMap<String, i64> {
    table_counts(sys, &["inbox"]).await
}

fn seed() -> u64 {
    std::env::var("KOKEILU_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversize_protobuf_changes_nothing_and_panics_nothing() {
    let panics = Arc::new(AtomicUsize::new(0));
    let counter = panics.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let seed = seed();
    println!("KOKEILU_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    // State to protect: one referral, acknowledged.
    let mut te = sys.te().await;
    let submitted = te
        .submit_referral(referral(3, "205"))
        .await
        .unwrap()
        .into_inner();
    wait_status(
        &mut te,
        &submitted.referral_id,
        kokeilu_proto::teoffice::ReferralStatus::Delivered,
    )
    .await;
    let before = tables(&sys).await;

    // Every RPC, from its rightful caller.
    let targets = [
        (
            sys.te_office.url.clone(),
            Identity::TeOffice,
            "kokeilu.teoffice.v1.TeOfficeService",
        ),
        (
            sys.areas["kainuu"].url.clone(),
            Identity::Area("kainuu".into()),
            "kokeilu.trialarea.v1.TrialAreaService",
        ),
        (
            sys.supervisor.url.clone(),
            Identity::AviStaff("inspector".into()),
            "kokeilu.supervisor.v1.SupervisorService",
        ),
    ];
    let mut calls = 0;
    for (url, identity, service) in &targets {
        let channel = kokeilu_test_support::channel(url, identity).await;
        for method in methods_of(kokeilu_proto::FILE_DESCRIPTOR_SET, service) {
            for case in 0..16 {
                let body = malformed(&mut rng, case);
                let oversize = body.len() > 256 * 1024;
                match call(channel.clone(), &method, body).await {
                    Ok(()) => {
                        // Random fields can form a valid read request (unknown fields are
                        // skipped), and a stream may open before its request is judged; a
                        // mutating RPC must refuse.
                        let rule = kokeilu_platform::authz::rule_for(&method.path)
                            .expect("every RPC has a row");
                        assert!(
                            !rule.mutates && !oversize,
                            "{} accepted malformed input (case {case}, seed {seed})",
                            method.path
                        );
                    }
                    Err(status) => {
                        let expected: &[Code] = if oversize {
                            &[Code::OutOfRange, Code::ResourceExhausted]
                        } else {
                            &[
                                Code::Internal,
                                Code::InvalidArgument,
                                Code::NotFound,
                                Code::FailedPrecondition,
                                Code::OutOfRange,
                                // a random area_id naming another area
                                Code::PermissionDenied,
                            ]
                        };
                        assert!(
                            expected.contains(&status.code()),
                            "{} (case {case}, seed {seed}): {:?} {}",
                            method.path,
                            status.code(),
                            status.message()
                        );
                        assert!(
                            !kokeilu_platform::privacy::contains_identity_code(
                                status.message().as_bytes()
                            ),
                            "an error message carries a henkilötunnus"
                        );
                    }
                }
                calls += 1;
            }
        }
    }
    assert!(calls > 100, "only {calls} calls made");

    // Every consumed subject, over NATS: bare garbage and garbage inside a plausible envelope.
    let js = sys.js().await;
    let dlq_before = stream_messages(&js, kokeilu_proto::subjects::DEAD_LETTER_STREAM).await;
    let consumed = [
        (
            kokeilu_proto::subjects::referral_issued("kainuu"),
            kokeilu_bus::envelope::te_office(),
        ),
        (
            kokeilu_proto::subjects::referral_acknowledged("kainuu"),
            kokeilu_bus::envelope::trial_area("kainuu"),
        ),
        (
            kokeilu_proto::subjects::avi_action("kainuu"),
            kokeilu_bus::envelope::supervisor(),
        ),
        (
            kokeilu_proto::subjects::supervision_fact("kainuu"),
            kokeilu_bus::envelope::trial_area("kainuu"),
        ),
        (
            kokeilu_proto::subjects::te_office_fact(),
            kokeilu_bus::envelope::te_office(),
        ),
        (
            kokeilu_proto::subjects::avi_answer("kainuu"),
            kokeilu_bus::envelope::trial_area("kainuu"),
        ),
    ];
    let mut published = 0u64;
    for (subject, sender) in &consumed {
        for case in 0..8 {
            let garbage = malformed(&mut rng, case);
            let bodies = [
                garbage.clone(),
                kokeilu_proto::common::Envelope {
                    message_id: uuid::Uuid::now_v7().to_string(),
                    correlation_id: submitted.referral_id.clone(),
                    sender: Some(sender.clone()),
                    schema_version: 1,
                    payload_type: "kokeilu.referral.v1.ReferralAcknowledged".into(),
                    payload: garbage,
                    ..Default::default()
                }
                .encode_to_vec(),
            ];
            for body in bodies {
                js.publish(subject.clone(), body.into())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                published += 1;
            }
        }
    }
    // Larger than the stream's largest message (and NATS's payload limit): refused at publish,
    // so it never reaches a consumer.
    let huge = vec![0u8; 2 * 1024 * 1024];
    let refused = match js
        .publish(
            kokeilu_proto::subjects::supervision_fact("kainuu"),
            huge.into(),
        )
        .await
    {
        Err(_) => true,
        Ok(ack) => ack.await.is_err(),
    };
    assert!(
        refused,
        "a 2 MiB message was accepted onto the supervision stream"
    );
    // Each one ends in the dead-letter stream, and only there.
    kokeilu_test_support::wait_for(
        "every malformed message dead-lettered",
        Duration::from_secs(60),
        || {
            let js = js.clone();
            async move {
                let n = stream_messages(&js, kokeilu_proto::subjects::DEAD_LETTER_STREAM).await;
                (n >= dlq_before + published).then_some(())
            }
        },
    )
    .await;

    assert_eq!(tables(&sys).await, before, "malformed input changed state");
    // Every service still answers.
    let got = te
        .get_referral(kokeilu_proto::teoffice::GetReferralRequest {
            referral_id: submitted.referral_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.referral_id, submitted.referral_id);
    sys.area("kainuu")
        .await
        .list_incoming_referrals(kokeilu_proto::trialarea::ListIncomingReferralsRequest::default())
        .await
        .unwrap();
    sys.avi()
        .await
        .get_area_summary(kokeilu_proto::supervisor::GetAreaSummaryRequest {
            area_id: "kainuu".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        panics.load(Ordering::SeqCst),
        0,
        "a thread panicked (seed {seed})"
    );
    sys.stop().await;
}
