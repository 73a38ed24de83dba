//! The refusal matrix: every RPC of every service, called by a client without a certificate, by
//! one with a certificate from another CA, by every identity the authorisation table does not
//! allow, and by the right identity. Only the right identity gets past the door, and nothing the
//! others send changes any database or stream.
//!
//! Calls are raw gRPC (empty request messages), so every method of the descriptors is covered,
//! including ones added later: a new RPC lands in this matrix without a line here. That the right
//! identity's calls also *succeed* with real requests is what the flow tests show.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use kokeilu_platform::identity::Identity;
use kokeilu_platform::tls::TlsFiles;
use kokeilu_test_support::TestBackend;
use support::raw::{self, Method, methods_of};
use support::*;
use tonic::{Code, Status};

/// Every method a deployment serves: its own service, health and reflection.
fn served(service: &str) -> Vec<Method> {
    let mut all = methods_of(kokeilu_proto::FILE_DESCRIPTOR_SET, service);
    all.extend(methods_of(
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        "grpc.health.v1.Health",
    ));
    all.extend(methods_of(
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        "grpc.reflection.v1.ServerReflection",
    ));
    all.extend(methods_of(
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        "grpc.reflection.v1alpha.ServerReflection",
    ));
    all
}

/// Calls `method` with an empty message over `channel`.
async fn call(channel: tonic::transport::Channel, method: &Method) -> Result<(), Status> {
    raw::call(channel, method, Vec::new()).await
}

/// Calls as a client presenting `files`; a failed handshake is the error it gives.
async fn call_as(url: &str, files: &TlsFiles, method: &Method) -> Result<(), Status> {
    match kokeilu_test_support::channel_with(url, files).await {
        Ok(channel) => call(channel, method).await,
        Err(e) => Err(Status::unavailable(format!("connect: {e}"))),
    }
}

/// Codes that only a service's own code (or its authorisation layer) answers with: a caller who
/// gets one of these was let in far enough to be told something.
const ANSWERS: &[Code] = &[
    Code::Ok,
    Code::InvalidArgument,
    Code::NotFound,
    Code::FailedPrecondition,
    Code::PermissionDenied,
    Code::Unauthenticated,
    Code::Unimplemented,
    Code::AlreadyExists,
    Code::ResourceExhausted,
];

fn assert_no_answer(result: &Result<(), Status>, who: &str, method: &Method) {
    match result {
        Ok(()) => panic!("{who} got an answer from {}", method.path),
        Err(s) => assert!(
            !ANSWERS.contains(&s.code()),
            "{who} calling {} was answered at the gRPC level ({:?}: {}) instead of refused at \
             the TLS handshake",
            method.path,
            s.code(),
            s.message()
        ),
    }
}

/// Row counts of every table of every service database, and every stream's message count.
async fn snapshot(sys: &InProcess) -> BTreeMap<String, i64> {
    let mut out = table_counts(sys, &[]).await;
    let js = sys.js().await;
    for stream in [
        kokeilu_proto::subjects::REFERRAL_STREAM,
        kokeilu_proto::subjects::SUPERVISION_STREAM,
        kokeilu_proto::subjects::COMPLIANCE_STREAM,
        kokeilu_proto::subjects::AVI_STREAM,
        kokeilu_proto::subjects::DEAD_LETTER_STREAM,
    ] {
        out.insert(
            format!("stream {stream}"),
            stream_messages(&js, stream).await as i64,
        );
    }
    out
}

/// A certificate of the real identity issued by another CA, presented by a client that trusts
/// the real CA (so only the service's check of the client can fail).
fn foreign(identity: &Identity) -> TlsFiles {
    let theirs = kokeilu_test_support::stranger_pki().files(identity);
    TlsFiles {
        ca: kokeilu_test_support::pki().files(identity).ca,
        ..theirs
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_right_identity_gets_past_the_door_of_any_rpc() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu", "helsinki"])
        .await
        .unwrap();
    // Something to act on: a referral received at Kainuu.
    let mut te = sys.te().await;
    let submitted = te
        .submit_referral(referral(1, "205"))
        .await
        .unwrap()
        .into_inner();
    wait_status(
        &mut te,
        &submitted.referral_id,
        kokeilu_proto::teoffice::ReferralStatus::Delivered,
    )
    .await;

    let all = [
        Identity::TeOffice,
        Identity::Area("kainuu".into()),
        Identity::Area("helsinki".into()),
        Identity::Avi,
        Identity::AviStaff("inspector".into()),
        Identity::Operator,
    ];
    let deployments = [
        (
            "te-office",
            sys.te_office.url.clone(),
            "kokeilu.teoffice.v1.TeOfficeService",
            kokeilu_platform::authz::Deployment::TeOffice,
        ),
        (
            "area kainuu",
            sys.areas["kainuu"].url.clone(),
            "kokeilu.trialarea.v1.TrialAreaService",
            kokeilu_platform::authz::Deployment::TrialArea("kainuu".into()),
        ),
        (
            "supervisor",
            sys.supervisor.url.clone(),
            "kokeilu.supervisor.v1.SupervisorService",
            kokeilu_platform::authz::Deployment::Supervisor,
        ),
    ];

    let before = snapshot(&sys).await;
    let mut refused = 0;
    let mut admitted = Vec::new();
    for (name, url, service, deployment) in &deployments {
        for method in served(service) {
            // 1. No certificate: no answer at all.
            let result = match kokeilu_test_support::channel_without_certificate(url).await {
                Ok(channel) => call(channel, &method).await,
                Err(e) => Err(Status::unavailable(format!("connect: {e}"))),
            };
            assert_no_answer(
                &result,
                &format!("a client without a certificate at {name}"),
                &method,
            );
            // 2. A certificate from another CA, naming a real identity: no answer at all.
            for identity in &all {
                let result = call_as(url, &foreign(identity), &method).await;
                assert_no_answer(
                    &result,
                    &format!("{identity} from another CA at {name}"),
                    &method,
                );
            }
            // 3. Identities the table does not allow: PERMISSION_DENIED before any handler.
            for identity in &all {
                let allowed =
                    kokeilu_platform::authz::decide(&method.path, identity, deployment).is_ok();
                let files = kokeilu_test_support::pki().files(identity);
                if allowed {
                    admitted.push((url.clone(), files, method.clone(), identity.clone()));
                    continue;
                }
                let result = call_as(url, &files, &method).await;
                let status = result.expect_err(&format!(
                    "{identity} was answered by {} at {name}",
                    method.path
                ));
                assert_eq!(
                    status.code(),
                    Code::PermissionDenied,
                    "{identity} calling {} at {name}: {}",
                    method.path,
                    status.message()
                );
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the matrix refused nobody");
    assert_eq!(
        snapshot(&sys).await,
        before,
        "a refused call changed a database or a stream"
    );

    // 4. The right identity is let in: whatever the service then says about an empty request,
    //    it is not a refusal of the caller.
    for (url, files, method, identity) in admitted {
        if let Err(status) = call_as(&url, &files, &method).await {
            assert!(
                !matches!(
                    status.code(),
                    Code::PermissionDenied | Code::Unauthenticated | Code::Unavailable
                ),
                "{identity} was refused by {}: {:?} {}",
                method.path,
                status.code(),
                status.message()
            );
        }
    }
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_naming_another_area_is_refused_without_naming_the_right_one() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut kainuu = sys.area("kainuu").await;
    let before = snapshot(&sys).await;
    let status = kainuu
        .list_incoming_referrals(kokeilu_proto::trialarea::ListIncomingReferralsRequest {
            area_id: "helsinki".into(),
            ..Default::default()
        })
        .await
        .expect_err("a request naming Helsinki at Kainuu's service");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        !status.message().contains("kainuu"),
        "the refusal hints at the right area: {}",
        status.message()
    );
    // The acting area is the certificate's: leaving area_id empty, or naming Kainuu, works.
    for area_id in ["", "kainuu"] {
        kainuu
            .list_incoming_referrals(kokeilu_proto::trialarea::ListIncomingReferralsRequest {
                area_id: area_id.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("area_id {area_id:?}: {e}"));
    }
    assert_eq!(snapshot(&sys).await, before);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn information_answers_are_masked_unless_a_named_inspector_reads_them() {
    use kokeilu_proto::supervisor as avi;
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut te = sys.te().await;
    let submitted = te
        .submit_referral(referral(7, "205"))
        .await
        .unwrap()
        .into_inner();
    wait_status(
        &mut te,
        &submitted.referral_id,
        kokeilu_proto::teoffice::ReferralStatus::Delivered,
    )
    .await;
    let mut system = sys.avi_as(&Identity::Avi).await;
    let action = system
        .request_information(avi::RequestInformationRequest {
            area_id: "kainuu".into(),
            referral_ids: vec![submitted.referral_id.clone()],
            purpose: "complaint 12/2024".into(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut kainuu = sys.area("kainuu").await;
    // The request travels to the area over NATS: answer it once it is there.
    kokeilu_test_support::wait_for(
        "the information request at the area",
        std::time::Duration::from_secs(30),
        || {
            let mut kainuu = kainuu.clone();
            let id = action.action_id.clone();
            async move {
                let actions = kainuu
                    .list_supervisory_actions(
                        kokeilu_proto::trialarea::ListSupervisoryActionsRequest::default(),
                    )
                    .await
                    .ok()?
                    .into_inner()
                    .actions;
                actions.iter().any(|a| a.action_id == id).then_some(())
            }
        },
    )
    .await;
    kainuu
        .answer_information_request(kokeilu_proto::trialarea::AnswerInformationRequestRequest {
            area_id: String::new(),
            action_id: action.action_id.clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    let read = |client: AviClient| {
        let id = action.action_id.clone();
        async move {
            kokeilu_test_support::wait_for(
                "the area's answer at AVI",
                std::time::Duration::from_secs(30),
                || {
                    let mut client = client.clone();
                    let id = id.clone();
                    async move {
                        client
                            .get_information_answer(avi::GetInformationAnswerRequest {
                                action_id: id,
                            })
                            .await
                            .ok()
                            .map(tonic::Response::into_inner)
                    }
                },
            )
            .await
        }
    };
    let hetu = person(7).expose().to_owned();
    let masked = read(system.clone()).await;
    assert!(masked.masked);
    assert_eq!(masked.records.len(), 1);
    assert_ne!(masked.records[0].henkilotunnus, hetu);
    let revealed = read(sys.avi().await).await;
    assert!(!revealed.masked);
    assert_eq!(revealed.records[0].henkilotunnus, hetu);
    // Every read is logged with the authenticated reader.
    let readers: Vec<(String, i64)> = sqlx::query_as(
        "SELECT actor, CASE WHEN revealed THEN 1 ELSE 0 END FROM access_log \
         WHERE what = 'answer read' ORDER BY seq",
    )
    .fetch_all(sys.supervisor.db.pool())
    .await
    .unwrap();
    assert!(
        readers.contains(&("kokeilu://avi".to_owned(), 0)),
        "{readers:?}"
    );
    assert!(
        readers.contains(&("kokeilu://avi/staff/inspector".to_owned(), 1)),
        "{readers:?}"
    );
    sys.stop().await;
}
