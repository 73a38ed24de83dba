//! te-office decides with the trial rules: submitted facts pick the area and the grounds, a
//! client the rules keep with the TE office is refused with the reason and leaves no trace, and
//! EvaluateEligibility answers the same question for any date without side effects.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use kokeilu_proto::date_from_naive;
use kokeilu_proto::teoffice as te;
use kokeilu_test_support::TestBackend;
use support::*;
use tonic_types::StatusExt;

fn seeker(n: u32, municipality: &str, facts: te::JobseekerFacts) -> te::Jobseeker {
    let mut j = referral(n, municipality).jobseeker.unwrap();
    j.grounds.clear();
    j.facts = Some(facts);
    j
}

fn unemployed() -> te::JobseekerFacts {
    te::JobseekerFacts {
        employment_status: te::EmploymentStatus::Unemployed as i32,
        registered_as_jobseeker: true,
        ..Default::default()
    }
}

fn day(y: i32, m: u32, d: u32) -> kokeilu_proto::common::Date {
    date_from_naive(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_decide_area_and_grounds() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut te = sys.te().await;
    let mut facts = unemployed();
    facts.mother_tongue = "ru".into();
    let resp = te
        .submit_referral(te::SubmitReferralRequest {
            idempotency_key: "facts-1".into(),
            jobseeker: Some(seeker(21, "205", facts)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.area_id, "kainuu");
    let r = te
        .get_referral(te::GetReferralRequest {
            referral_id: resp.referral_id,
        })
        .await
        .unwrap()
        .into_inner();
    use kokeilu_proto::referral::TargetGroupGround as G;
    assert_eq!(
        r.grounds,
        [
            G::NoEarningsRelatedAllowance as i32,
            G::ForeignLanguage as i32
        ]
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_the_rules_keep_is_refused_with_the_reason() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut te = sys.te().await;
    // Change-security training eligible: not transferred since 1.1.2023 (671/2022).
    let mut facts = unemployed();
    facts.change_security_eligible = true;
    let err = te
        .submit_referral(te::SubmitReferralRequest {
            idempotency_key: "facts-2".into(),
            jobseeker: Some(seeker(22, "205", facts)),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    let pf = err.get_details_precondition_failure().unwrap();
    assert_eq!(pf.violations[0].r#type, "CHANGE_SECURITY_ELIGIBLE");
    assert!(err.message().contains("671/2022"), "{}", err.message());

    // Declared grounds and facts together: ambiguous, refused.
    let mut both = seeker(23, "205", unemployed());
    both.grounds = vec![1];
    let err = te
        .submit_referral(te::SubmitReferralRequest {
            idempotency_key: "facts-3".into(),
            jobseeker: Some(both),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    assert_eq!(count(&sys.te_office.db, "referrals").await, 0);
    assert_eq!(count(&sys.te_office.db, "outbox").await, 0);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_eligibility_answers_for_any_date_without_side_effects() {
    let sys = InProcess::start(TestBackend::Sqlite, &["kainuu"])
        .await
        .unwrap();
    let mut te = sys.te().await;
    let mut facts = unemployed();
    facts.employment_status = te::EmploymentStatus::OpenMarketEmployed as i32;
    facts.at_risk_of_unemployment = true;
    let ask = |date: kokeilu_proto::common::Date| {
        let mut jobseeker = seeker(24, "205", facts.clone());
        jobseeker.job_search_start_date = Some(date);
        te::EvaluateEligibilityRequest {
            jobseeker: Some(jobseeker),
            date: Some(date),
        }
    };
    // An employed jobseeker at risk of unemployment: outside the group before 1381/2021 came into
    // force on 2.5.2022, inside from that day.
    let before = te
        .evaluate_eligibility(ask(day(2022, 5, 1)))
        .await
        .unwrap()
        .into_inner();
    assert!(!before.referable);
    assert_eq!(before.stay_reason, "not_a_jobseeker");
    assert!(before.rule.contains("421/2021"), "{}", before.rule);
    let after = te
        .evaluate_eligibility(ask(day(2022, 5, 2)))
        .await
        .unwrap()
        .into_inner();
    assert!(after.referable);
    assert_eq!(after.area_id, "kainuu");
    assert_eq!(
        after.grounds,
        ["at_risk_of_unemployment", "no_earnings_related_allowance"]
    );
    assert!(after.rule.contains("1381/2021"), "{}", after.rule);
    // After the trial ended.
    let over = te
        .evaluate_eligibility(ask(day(2025, 1, 2)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(over.stay_reason, "no_trial_in_force");

    assert_eq!(count(&sys.te_office.db, "referrals").await, 0);
    assert_eq!(count(&sys.te_office.db, "outbox").await, 0);
    sys.stop().await;
}
