//! AVI's suspensions at the TE office (1269/2020 22 §), acted out on NATS as AVI publishes them:
//! a partial suspension keeps exactly the clients it covers with the TE office (their grounds and
//! deciding municipality), others of the same area are referred as usual; a full one keeps every
//! client of the area; after a lift's date referrals go to the area again. Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use kokeilu_proto::referral::TargetGroupGround as G;
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction, SuspensionScope};
use kokeilu_proto::teoffice as pb;
use kokeilu_proto::{date_from_naive, timestamp_from};
use kokeilu_test_support::{TestBackend, on_both_backends, wait_for};
use support::{TeOffice, day, morning, person};
use tonic::Code;

on_both_backends!(
    a_partial_suspension_keeps_exactly_the_covered_clients,
    lifting_a_suspension_restores_referrals_from_its_date,
    a_lift_of_an_unknown_suspension_is_dead_lettered_and_changes_nothing
);

fn referral(
    key: &str,
    hetu: String,
    municipality: &str,
    grounds: &[G],
) -> pb::SubmitReferralRequest {
    pb::SubmitReferralRequest {
        idempotency_key: key.to_owned(),
        jobseeker: Some(pb::Jobseeker {
            henkilotunnus: hetu,
            home_municipality_code: municipality.to_owned(),
            job_search_start_date: Some(date_from_naive(day(2024, 8, 28))),
            grounds: grounds.iter().map(|g| *g as i32).collect(),
            ..Default::default()
        }),
    }
}

fn suspension(
    id: &str,
    from: chrono::NaiveDate,
    scope: Option<SuspensionScope>,
) -> SupervisoryAction {
    SupervisoryAction {
        action_id: id.to_owned(),
        area_id: "kainuu".into(),
        kind: ActionKind::Suspension as i32,
        text: "suspended".into(),
        effective_from: Some(date_from_naive(from)),
        partial: scope.is_some(),
        scope,
        issued_at: Some(timestamp_from(morning(from))),
        rule: "1269/2020 22 §".into(),
        ..Default::default()
    }
}

/// Waits until te-office has stored the suspension `id` (lifted when `lifted`).
async fn wait_stored(te: &TeOffice, id: &str, lifted: bool) {
    wait_for(
        "te-office to store AVI's action",
        Duration::from_secs(30),
        || {
            let store = te.store.clone();
            let id = id.to_owned();
            async move {
                let mut tx = store.begin().await.ok()?;
                let all = store
                    .suspensions_of(&mut tx, "kainuu", day(2100, 1, 1))
                    .await
                    .ok()?;
                tx.rollback().await.ok()?;
                all.iter()
                    .any(|s| s.action_id == id && s.lifted_from.is_some() == lifted)
                    .then_some(())
            }
        },
    )
    .await;
}

async fn a_partial_suspension_keeps_exactly_the_covered_clients(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend, day(2024, 9, 2)).await else {
        return;
    };
    // Young jobseekers (under 30 on 2.9.2024) of Kajaani (205) are covered; nobody else.
    let id = uuid::Uuid::now_v7().to_string();
    te.publish_as_avi(&suspension(
        &id,
        day(2024, 9, 2),
        Some(SuspensionScope {
            client_groups: vec!["under_30".into()],
            municipality_codes: vec!["205".into()],
            statement_subjects: vec![],
        }),
    ))
    .await;
    wait_stored(&te, &id, false).await;
    let young = day(2000, 1, 1);
    let old = day(1970, 1, 1);

    // Covered: under 30 in Kajaani. The TE office keeps the client; nothing is stored.
    let refused = te
        .client
        .submit_referral(referral("covered", person(young, 1), "205", &[G::Under30]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains(&id), "{}", refused.message());
    assert!(
        refused
            .message()
            .contains("the TE office keeps the client under AVI's suspension"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("2024-09-02"),
        "{}",
        refused.message()
    );
    assert_eq!(te.referral_rows().await, 0);

    // Not covered: under 30 in Kuhmo (290), a Kajaani client on another ground, and a client
    // under 30 in Kajaani who also has another ground is still covered (one matching group).
    for (key, hetu, municipality, grounds) in [
        (
            "other-municipality",
            person(young, 2),
            "290",
            vec![G::Under30],
        ),
        (
            "other-group",
            person(old, 3),
            "205",
            vec![G::NoEarningsRelatedAllowance],
        ),
    ] {
        let done = te
            .client
            .submit_referral(referral(key, hetu, municipality, &grounds))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(done.area_id, "kainuu", "{key}");
    }
    let refused = te
        .client
        .submit_referral(referral(
            "covered-two-grounds",
            person(young, 4),
            "205",
            &[G::Under30, G::NoEarningsRelatedAllowance],
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(te.referral_rows().await, 2);
    te.stop().await;
}

async fn lifting_a_suspension_restores_referrals_from_its_date(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend, day(2024, 9, 2)).await else {
        return;
    };
    let id = uuid::Uuid::now_v7().to_string();
    te.publish_as_avi(&suspension(&id, day(2024, 9, 2), None))
        .await;
    wait_stored(&te, &id, false).await;
    let hetu = person(day(1980, 5, 5), 1);
    let request = referral("after-lift", hetu, "205", &[G::NoEarningsRelatedAllowance]);

    let refused = te
        .client
        .submit_referral(request.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains(&id), "{}", refused.message());
    // Another area is not suspended.
    let other = te
        .client
        .submit_referral(referral(
            "other-area",
            person(day(1980, 5, 5), 2),
            "837",
            &[G::NoEarningsRelatedAllowance],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.area_id, "pirkanmaa");

    // AVI lifts the suspension from 5.9.2024.
    let lift = SupervisoryAction {
        action_id: uuid::Uuid::now_v7().to_string(),
        area_id: "kainuu".into(),
        kind: ActionKind::LiftSuspension as i32,
        text: "lifted".into(),
        effective_from: Some(date_from_naive(day(2024, 9, 5))),
        lifts_action_id: id.clone(),
        issued_at: Some(timestamp_from(morning(day(2024, 9, 2)))),
        rule: "1269/2020 22 §".into(),
        ..Default::default()
    };
    te.publish_as_avi(&lift).await;
    wait_stored(&te, &id, true).await;

    // The day before the lift the client is still kept…
    te.clock.set(morning(day(2024, 9, 4)));
    let refused = te
        .client
        .submit_referral(request.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(te.referral_rows().await, 1);

    // …and from the lift date the area has the client again.
    te.clock.set(morning(day(2024, 9, 5)));
    let done = te
        .client
        .submit_referral(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.area_id, "kainuu");
    assert!(!done.replayed);
    assert_eq!(te.referral_rows().await, 2);
    te.stop().await;
}

/// A lift naming no suspension of the area (or one of another area) cannot be applied: it is
/// dead-lettered, and the area's suspension stays in force.
async fn a_lift_of_an_unknown_suspension_is_dead_lettered_and_changes_nothing(
    backend: TestBackend,
) {
    let Some(mut te) = TeOffice::start(backend, day(2024, 9, 2)).await else {
        return;
    };
    let id = uuid::Uuid::now_v7().to_string();
    te.publish_as_avi(&suspension(&id, day(2024, 9, 2), None))
        .await;
    wait_stored(&te, &id, false).await;
    for lifts in [uuid::Uuid::now_v7().to_string(), String::new()] {
        te.publish_as_avi(&SupervisoryAction {
            action_id: uuid::Uuid::now_v7().to_string(),
            area_id: "kainuu".into(),
            kind: ActionKind::LiftSuspension as i32,
            effective_from: Some(date_from_naive(day(2024, 9, 2))),
            lifts_action_id: lifts,
            ..Default::default()
        })
        .await;
    }
    let js = te.js.clone();
    wait_for("two dead letters", Duration::from_secs(30), || {
        let js = js.clone();
        async move {
            let mut dlq = js
                .get_stream(kokeilu_proto::subjects::DEAD_LETTER_STREAM)
                .await
                .ok()?;
            (dlq.info().await.ok()?.state.messages == 2).then_some(())
        }
    })
    .await;
    let refused = te
        .client
        .submit_referral(referral(
            "still-suspended",
            person(day(1980, 5, 5), 1),
            "205",
            &[G::NoEarningsRelatedAllowance],
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(te.referral_rows().await, 0);
    te.stop().await;
}
