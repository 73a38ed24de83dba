//! A referral crosses agencies: submitted at te-office, listed at the right area, acknowledged or
//! rejected there, and shown as such at te-office. Every scenario runs on SQLite and PostgreSQL.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use kokeilu_proto::teoffice as te;
use kokeilu_proto::trialarea as ta;
use kokeilu_test_support::{TestBackend, on_both_backends, wait_for};
use support::*;

on_both_backends!(
    acknowledged_end_to_end,
    rejected_end_to_end,
    resubmission_returns_the_original
);

async fn acknowledged_end_to_end(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["kainuu", "helsinki"]).await else {
        return;
    };
    let mut te = sys.te().await;
    // Kajaani (205) is in Kainuu.
    let resp = te
        .submit_referral(referral(1, "205"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.area_id, "kainuu");
    assert!(!resp.replayed);

    let mut kainuu = sys.area("kainuu").await;
    let listed = wait_for(
        "the referral to be listed at kainuu",
        Duration::from_secs(30),
        || {
            let mut k = kainuu.clone();
            async move {
                let r = k
                    .list_incoming_referrals(ta::ListIncomingReferralsRequest {
                        area_id: "kainuu".into(),
                        status: ta::IncomingStatus::Received as i32,
                        page_size: 10,
                        page_token: String::new(),
                    })
                    .await
                    .ok()?
                    .into_inner();
                (!r.referrals.is_empty()).then_some(r.referrals)
            }
        },
    )
    .await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].referral_id, resp.referral_id);
    assert_eq!(listed[0].henkilotunnus, person(1).expose());
    assert_eq!(listed[0].home_municipality_code, "205");

    // The other area never sees it.
    let other = sys
        .area("helsinki")
        .await
        .list_incoming_referrals(ta::ListIncomingReferralsRequest {
            area_id: "helsinki".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(other.referrals.is_empty());

    wait_status(&mut te, &resp.referral_id, te::ReferralStatus::Delivered).await;
    kainuu
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: "kainuu".into(),
            referral_id: resp.referral_id.clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    let done = wait_status(&mut te, &resp.referral_id, te::ReferralStatus::Acknowledged).await;
    let history: Vec<i32> = done.history.iter().map(|h| h.status).collect();
    assert_eq!(
        history,
        [
            te::ReferralStatus::Issued as i32,
            te::ReferralStatus::Delivered as i32,
            te::ReferralStatus::Acknowledged as i32
        ]
    );
    // Acknowledging again answers the same and sends nothing new.
    let again = kainuu
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: "kainuu".into(),
            referral_id: resp.referral_id.clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.referral_id, resp.referral_id);
    assert_eq!(
        count(&sys.areas["kainuu"].db, "outbox").await,
        4,
        "receipt and its fact for AVI, acknowledgement and its fact for AVI only"
    );
    sys.stop().await;
}

async fn rejected_end_to_end(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["pirkanmaa"]).await else {
        return;
    };
    let mut te = sys.te().await;
    // Tampere (837) is in Pirkanmaa.
    let resp = te
        .submit_referral(referral(2, "837"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.area_id, "pirkanmaa");
    wait_status(&mut te, &resp.referral_id, te::ReferralStatus::Delivered).await;
    let mut area = sys.area("pirkanmaa").await;
    area.reject_referral(ta::RejectReferralRequest {
        area_id: "pirkanmaa".into(),
        referral_id: resp.referral_id.clone(),
        reason: kokeilu_proto::referral::RejectionReason::NotOurResident as i32,
        detail: "muuttanut Ouluun".into(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    })
    .await
    .unwrap();
    let done = wait_status(&mut te, &resp.referral_id, te::ReferralStatus::Rejected).await;
    assert_eq!(
        done.rejection_reason,
        kokeilu_proto::referral::RejectionReason::NotOurResident as i32
    );
    assert_eq!(done.history.last().unwrap().detail, "muuttanut Ouluun");
    // A rejected referral cannot then be acknowledged.
    let err = area
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: "pirkanmaa".into(),
            referral_id: resp.referral_id.clone(),
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    // After a rejection the person may be referred again (e.g. with corrected data).
    let mut again = referral(2, "837");
    again.idempotency_key = "test-2-second".into();
    let second = te.submit_referral(again).await.unwrap().into_inner();
    assert_ne!(second.referral_id, resp.referral_id);
    sys.stop().await;
}

async fn resubmission_returns_the_original(backend: TestBackend) {
    let Some(sys) = InProcess::start(backend, &["helsinki"]).await else {
        return;
    };
    let mut te = sys.te().await;
    let first = te
        .submit_referral(referral(3, "091"))
        .await
        .unwrap()
        .into_inner();
    let second = te
        .submit_referral(referral(3, "091"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.referral_id, second.referral_id);
    assert!(second.replayed);
    assert_eq!(count(&sys.te_office.db, "referrals").await, 1);
    assert_eq!(
        count(&sys.te_office.db, "outbox").await,
        2,
        "referral + fact for AVI"
    );

    // Same key, different content: refused, nothing stored.
    let mut changed = referral(4, "091");
    changed.idempotency_key = "test-3".into();
    let err = te.submit_referral(changed).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);

    // Same person, new key, while the first referral is live: refused.
    let mut dup = referral(3, "091");
    dup.idempotency_key = "test-3-again".into();
    let err = te.submit_referral(dup).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists);
    assert!(err.message().contains(&first.referral_id));
    assert_eq!(count(&sys.te_office.db, "referrals").await, 1);
    assert_eq!(
        count(&sys.te_office.db, "outbox").await,
        2,
        "referral + fact for AVI"
    );
    sys.stop().await;
}
