//! Bad input gets a clear error and changes nothing: no row, no message.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use kokeilu_proto::subjects;
use kokeilu_proto::teoffice as te;
use kokeilu_proto::trialarea as ta;
use kokeilu_test_support::TestBackend;
use support::*;
use tonic_types::StatusExt;

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

async fn nothing_changed(sys: &InProcess) {
    assert_eq!(count(&sys.te_office.db, "referrals").await, 0);
    assert_eq!(count(&sys.te_office.db, "referral_events").await, 0);
    assert_eq!(count(&sys.te_office.db, "outbox").await, 0);
    for area in sys.areas.values() {
        assert_eq!(count(&area.db, "incoming_referrals").await, 0);
        assert_eq!(count(&area.db, "outbox").await, 0);
    }
    let js = sys.js().await;
    assert_eq!(stream_messages(&js, subjects::REFERRAL_STREAM).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_referrals_are_refused_with_field_details_and_leave_no_trace() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut te = sys.te().await;

    // Bad checksum (…308T is valid; X is not).
    let mut r = referral(1, "205");
    r.jobseeker.as_mut().unwrap().henkilotunnus = "131052-308X".into();
    let err = te.submit_referral(r).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(fields(&err), ["jobseeker.henkilotunnus"]);
    assert!(
        !err.message().contains("131052"),
        "the code must not be echoed"
    );

    // Unknown municipality.
    let err = te.submit_referral(referral(1, "998")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(fields(&err), ["jobseeker.home_municipality_code"]);

    // Empty fields.
    let err = te
        .submit_referral(te::SubmitReferralRequest {
            idempotency_key: String::new(),
            jobseeker: Some(te::Jobseeker::default()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        [
            "idempotency_key",
            "jobseeker.henkilotunnus",
            "jobseeker.home_municipality_code",
            "jobseeker.job_search_start_date",
            "jobseeker.grounds"
        ]
    );

    // A municipality in no trial area: the TE office keeps the client.
    let err = te.submit_referral(referral(1, "235")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("235"));

    // Job search starting after the referral date.
    let mut r = referral(1, "205");
    r.jobseeker.as_mut().unwrap().job_search_start_date = Some(kokeilu_proto::date_from_naive(
        chrono::NaiveDate::from_ymd_opt(2024, 9, 30).unwrap(),
    ));
    let err = te.submit_referral(r).await.unwrap_err();
    assert_eq!(fields(&err), ["jobseeker.job_search_start_date"]);

    nothing_changed(&sys).await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_cannot_act_for_another_area() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut kainuu = sys.area("kainuu").await;
    let id = uuid::Uuid::now_v7().to_string();

    let err = kainuu
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: "helsinki".into(),
            referral_id: id.clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    let err = kainuu
        .list_incoming_referrals(ta::ListIncomingReferralsRequest {
            area_id: "pirkanmaa".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    let err = kainuu
        .reject_referral(ta::RejectReferralRequest {
            area_id: "kainuu".into(),
            referral_id: id.clone(),
            reason: 0,
            detail: String::new(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(fields(&err), ["reason"]);

    let err = kainuu
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: "kainuu".into(),
            referral_id: "not-a-uuid".into(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let err = kainuu
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: "kainuu".into(),
            referral_id: id,
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    nothing_changed(&sys).await;
    sys.stop().await;
}
