//! What a referral carries (issue 10): the residence basis of temporary protection (149/2023),
//! the TE office's initial interview, the previous job search's end and the binding plan. They are
//! validated, stored, shown by GetReferral, and travel in `ReferralIssued` to the area and in the
//! REFERRAL_ISSUED fact to AVI. Declared grounds are held to the rule in force on the referral
//! date. Bad input changes nothing. Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kokeilu_proto::date_from_naive;
use kokeilu_proto::referral::{EmploymentPlan, PlanKind, ReferralIssued, TargetGroupGround as G};
use kokeilu_proto::subjects;
use kokeilu_proto::supervision::{FactKind, ServiceFact};
use kokeilu_proto::teoffice as pb;
use kokeilu_test_support::{TestBackend, on_both_backends};
use support::{TeOffice, day, fields, person, reasons};
use tonic::Code;

on_both_backends!(
    declared_temporary_protection_is_referred_by_residence,
    interview_previous_end_and_plan_travel_with_the_referral,
    bad_new_fields_are_refused_and_nothing_is_stored,
    declared_grounds_not_yet_in_force_are_refused,
    facts_of_temporary_protection_carry_the_residence_basis,
);

fn seeker(hetu: String, home: &str, grounds: &[G]) -> pb::Jobseeker {
    pb::Jobseeker {
        henkilotunnus: hetu,
        home_municipality_code: home.to_owned(),
        job_search_start_date: Some(date_from_naive(day(2024, 8, 28))),
        grounds: grounds.iter().map(|g| *g as i32).collect(),
        ..Default::default()
    }
}

fn submit(key: &str, jobseeker: pb::Jobseeker) -> pb::SubmitReferralRequest {
    pb::SubmitReferralRequest {
        idempotency_key: key.to_owned(),
        jobseeker: Some(jobseeker),
    }
}

async fn declared_temporary_protection_is_referred_by_residence(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend, day(2024, 9, 2)).await else {
        return;
    };
    // No home municipality in Finland; living in Kajaani (205, Kainuu).
    let mut js = seeker(person(day(1985, 3, 3), 1), "", &[G::TemporaryProtection]);
    js.residence_municipality_code = "205".into();
    let done = te
        .client
        .submit_referral(submit("tp-1", js))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.area_id, "kainuu");
    let shown = te
        .client
        .get_referral(pb::GetReferralRequest {
            referral_id: done.referral_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shown.residence_municipality_code, "205");
    assert!(shown.decided_by_residence);
    assert_eq!(shown.home_municipality_code, "");

    let issued: ReferralIssued = te
        .last_published(
            subjects::REFERRAL_STREAM,
            &subjects::referral_issued("kainuu"),
        )
        .await;
    assert_eq!(issued.referral_id, done.referral_id);
    assert_eq!(issued.residence_municipality_code, "205");
    assert!(issued.decided_by_residence);
    let fact: ServiceFact = te
        .last_published(subjects::SUPERVISION_STREAM, &subjects::te_office_fact())
        .await;
    assert_eq!(fact.kind, FactKind::ReferralIssued as i32);
    assert_eq!(fact.referral_id, done.referral_id);
    // AVI judges the area against the deciding municipality: the residence.
    assert_eq!(fact.municipality_code, "205");
    assert_eq!(fact.residence_municipality_code, "205");
    assert!(fact.decided_by_residence);
    assert_eq!(fact.grounds, ["temporary_protection"]);
    assert!(!fact.fact_id.is_empty());
    // AVI never sees the henkilötunnus.
    assert!(!fact.client_pseudonym.is_empty());

    // With a home municipality, the home decides even for temporary protection.
    let mut js = seeker(person(day(1985, 3, 3), 2), "837", &[G::TemporaryProtection]);
    js.residence_municipality_code = "205".into();
    let done = te
        .client
        .submit_referral(submit("tp-2", js))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.area_id, "pirkanmaa");
    let issued: ReferralIssued = te
        .last_published(
            subjects::REFERRAL_STREAM,
            &subjects::referral_issued("pirkanmaa"),
        )
        .await;
    assert!(!issued.decided_by_residence);
    te.stop().await;
}

async fn interview_previous_end_and_plan_travel_with_the_referral(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend, day(2024, 9, 2)).await else {
        return;
    };
    let mut js = seeker(
        person(day(1980, 1, 1), 1),
        "205",
        &[G::NoEarningsRelatedAllowance],
    );
    js.initial_interview_date = Some(date_from_naive(day(2024, 8, 30)));
    js.previous_job_search_end_date = Some(date_from_naive(day(2024, 1, 31)));
    let plan = EmploymentPlan {
        plan_id: "plan-77".into(),
        kind: PlanKind::Employment as i32,
        made_on: Some(date_from_naive(day(2024, 8, 30))),
        next_review_on: Some(date_from_naive(day(2024, 11, 29))),
    };
    js.employment_plan = Some(plan.clone());
    let request = submit("fields-1", js);
    let done = te
        .client
        .submit_referral(request.clone())
        .await
        .unwrap()
        .into_inner();
    let issued: ReferralIssued = te
        .last_published(
            subjects::REFERRAL_STREAM,
            &subjects::referral_issued("kainuu"),
        )
        .await;
    assert_eq!(issued.referral_id, done.referral_id);
    assert_eq!(
        issued.te_office_initial_interview_date,
        Some(date_from_naive(day(2024, 8, 30)))
    );
    assert_eq!(
        issued.previous_job_search_end_date,
        Some(date_from_naive(day(2024, 1, 31)))
    );
    assert_eq!(issued.employment_plan, Some(plan));
    assert!(!issued.decided_by_residence);
    let fact: ServiceFact = te
        .last_published(subjects::SUPERVISION_STREAM, &subjects::te_office_fact())
        .await;
    assert_eq!(fact.municipality_code, "205");
    assert_eq!(
        fact.te_office_initial_interview_date,
        Some(date_from_naive(day(2024, 8, 30)))
    );
    assert_eq!(
        fact.previous_job_search_end_date,
        Some(date_from_naive(day(2024, 1, 31)))
    );
    assert_eq!(
        fact.employment_plan_date,
        Some(date_from_naive(day(2024, 8, 30)))
    );

    // Stored: the stored referral reads back with them, and a retry replays the same referral.
    let stored = te.store.get(&done.referral_id).await.unwrap().unwrap();
    assert_eq!(stored.initial_interview_date, Some(day(2024, 8, 30)));
    assert_eq!(stored.previous_job_search_end, Some(day(2024, 1, 31)));
    let stored_plan = stored.employment_plan.unwrap();
    assert_eq!(stored_plan.plan_id, "plan-77");
    assert_eq!(stored_plan.next_review_on, Some(day(2024, 11, 29)));
    let again = te
        .client
        .submit_referral(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.referral_id, done.referral_id);
    // The same key with another plan date is another request.
    let mut changed = request;
    if let Some(js) = changed.jobseeker.as_mut()
        && let Some(p) = js.employment_plan.as_mut()
    {
        p.made_on = Some(date_from_naive(day(2024, 8, 29)));
    }
    let reused = te.client.submit_referral(changed).await.unwrap_err();
    assert_eq!(reused.code(), Code::FailedPrecondition);
    assert_eq!(te.referral_rows().await, 1);
    te.stop().await;
}

async fn bad_new_fields_are_refused_and_nothing_is_stored(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend, day(2024, 9, 2)).await else {
        return;
    };
    let base = || {
        seeker(
            person(day(1980, 1, 1), 1),
            "205",
            &[G::NoEarningsRelatedAllowance],
        )
    };
    let cases: Vec<(&str, pb::Jobseeker)> = vec![
        ("jobseeker.initial_interview_date", {
            let mut js = base();
            js.initial_interview_date = Some(date_from_naive(day(2024, 9, 3)));
            js
        }),
        ("jobseeker.initial_interview_date", {
            let mut js = base();
            js.initial_interview_date = Some(date_from_naive(day(2024, 8, 27)));
            js
        }),
        ("jobseeker.previous_job_search_end_date", {
            let mut js = base();
            js.previous_job_search_end_date = Some(date_from_naive(day(2024, 8, 28)));
            js
        }),
        ("jobseeker.employment_plan.kind", {
            let mut js = base();
            js.employment_plan = Some(EmploymentPlan {
                made_on: Some(date_from_naive(day(2024, 8, 30))),
                ..Default::default()
            });
            js
        }),
        ("jobseeker.employment_plan.made_on", {
            let mut js = base();
            js.employment_plan = Some(EmploymentPlan {
                kind: PlanKind::Integration as i32,
                made_on: Some(date_from_naive(day(2024, 9, 3))),
                ..Default::default()
            });
            js
        }),
        ("jobseeker.residence_municipality_code", {
            let mut js = base();
            js.residence_municipality_code = "20".into();
            js
        }),
        // Temporary protection without a home municipality needs the residence (149/2023).
        ("jobseeker.residence_municipality_code", {
            seeker(person(day(1980, 1, 1), 2), "", &[G::TemporaryProtection])
        }),
    ];
    for (n, (field, js)) in cases.into_iter().enumerate() {
        let refused = te
            .client
            .submit_referral(submit(&format!("bad-{n}"), js))
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{field}: {refused:?}"
        );
        assert_eq!(fields(&refused), [field], "case {n}");
    }
    assert_eq!(te.referral_rows().await, 0);
    te.stop().await;
}

async fn declared_grounds_not_yet_in_force_are_refused(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend, day(2022, 1, 10)).await else {
        return;
    };
    let mut js = seeker(
        person(day(1980, 1, 1), 1),
        "205",
        &[G::AtRiskOfUnemployment],
    );
    js.job_search_start_date = Some(date_from_naive(day(2022, 1, 3)));
    let request = submit("risk", js);
    let refused = te
        .client
        .submit_referral(request.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["jobseeker.grounds"]);
    let why = reasons(&refused).join(" ");
    assert!(why.contains("at_risk_of_unemployment"), "{why}");
    assert!(why.contains("2022-05-02"), "{why}");
    assert!(why.contains("1381/2021"), "{why}");

    let mut js = seeker(person(day(1980, 1, 1), 2), "", &[G::TemporaryProtection]);
    js.residence_municipality_code = "205".into();
    js.job_search_start_date = Some(date_from_naive(day(2022, 1, 3)));
    let refused = te
        .client
        .submit_referral(submit("tp", js))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let why = reasons(&refused).join(" ");
    assert!(why.contains("temporary_protection"), "{why}");
    assert!(
        why.contains("2023-03-01") && why.contains("149/2023"),
        "{why}"
    );
    assert_eq!(te.referral_rows().await, 0);

    // From 2.5.2022 the same declaration is a ground.
    te.clock.set(support::morning(day(2022, 5, 2)));
    let done = te
        .client
        .submit_referral(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.area_id, "kainuu");
    te.stop().await;
}

/// With facts, the rules decide by residence (149/2023); the referral, the message to the area and
/// the fact to AVI carry that, and EvaluateEligibility says the same.
async fn facts_of_temporary_protection_carry_the_residence_basis(backend: TestBackend) {
    let Some(mut te) = TeOffice::start(backend, day(2024, 9, 2)).await else {
        return;
    };
    let mut js = seeker(person(day(1985, 3, 3), 1), "", &[]);
    js.residence_municipality_code = "205".into();
    js.facts = Some(pb::JobseekerFacts {
        employment_status: pb::EmploymentStatus::Unemployed as i32,
        registered_as_jobseeker: true,
        temporary_protection: true,
        ..Default::default()
    });
    let decision = te
        .client
        .evaluate_eligibility(pb::EvaluateEligibilityRequest {
            jobseeker: Some(js.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(decision.referable, "{decision:?}");
    assert!(decision.by_residence);
    assert_eq!(decision.municipality_code, "205");
    let done = te
        .client
        .submit_referral(submit("tp-facts", js))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.area_id, "kainuu");
    let shown = te
        .client
        .get_referral(pb::GetReferralRequest {
            referral_id: done.referral_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(shown.decided_by_residence);
    assert_eq!(shown.residence_municipality_code, "205");
    let fact: ServiceFact = te
        .last_published(subjects::SUPERVISION_STREAM, &subjects::te_office_fact())
        .await;
    assert_eq!(fact.referral_id, done.referral_id);
    assert_eq!(fact.municipality_code, "205");
    assert!(fact.decided_by_residence);
    te.stop().await;
}
