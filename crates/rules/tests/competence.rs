//! Statement competence by date (DOMAIN.md § 1.c): one case per subject and amendment date,
//! each naming its provision.

// Test tables: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use kokeilu_rules::competence::{Issuer, StatementSubject, competence};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn competence_moves_to_the_municipality_on_the_amendment_dates() {
    use Issuer::{
        EmploymentAuthority as A, Municipality as M, StateCustomerServiceCentre as C, TeOffice as T,
    };
    use StatementSubject as S;
    let cases = [
        (
            S::ParticipationInService,
            day(2021, 2, 28),
            T,
            "before 1269/2020",
        ),
        (
            S::ParticipationInService,
            day(2021, 3, 1),
            M,
            "1269/2020 12 § 2 mom 1 kohta",
        ),
        (
            S::ParticipationInService,
            day(2021, 6, 1),
            M,
            "421/2021 12 a § 1 mom 3 kohta",
        ),
        (
            S::LabourMarketTraining,
            day(2022, 1, 3),
            T,
            "12 a § 1 mom 3 kohta, training excepted",
        ),
        (S::SelfMotivatedStudy, day(2021, 3, 1), M, "1269/2020 12 §"),
        (
            S::ImmigrantSupportedStudy,
            day(2021, 3, 1),
            M,
            "1269/2020 12 §",
        ),
        (
            S::GeneralConditions,
            day(2021, 10, 1),
            T,
            "421/2021 12 a §, before 2.10.2021",
        ),
        (
            S::GeneralConditions,
            day(2021, 10, 2),
            M,
            "421/2021 12 a § 1 mom 1 kohta",
        ),
        (
            S::BusinessOrShortStudies,
            day(2021, 10, 2),
            M,
            "421/2021 12 a § 1 mom 2 kohta",
        ),
        (
            S::BenefitRestoration,
            day(2022, 7, 10),
            T,
            "682/2022, before 11.7.2022",
        ),
        (S::BenefitRestoration, day(2022, 7, 11), M, "682/2022"),
        (
            S::CertainStudies,
            day(2022, 7, 11),
            M,
            "682/2022 (optional)",
        ),
        (
            S::JobSearchInEuState,
            day(2022, 7, 10),
            T,
            "before 682/2022 12 b §",
        ),
        (
            S::JobSearchInEuState,
            day(2022, 7, 11),
            M,
            "682/2022 12 b §",
        ),
        (
            S::CustomerServiceCentre,
            day(2023, 1, 2),
            C,
            "421/2021 12 a § 2 mom",
        ),
        (
            S::CustomerServiceCentre,
            day(2021, 1, 2),
            C,
            "TTL 11:4.2 before the trial",
        ),
        (S::Other, day(2023, 1, 2), T, "1269/2020 20 §"),
        (
            S::ParticipationInService,
            day(2024, 12, 31),
            M,
            "last day of the trial",
        ),
        (
            S::ParticipationInService,
            day(2025, 1, 2),
            A,
            "trial over (380/2023)",
        ),
    ];
    for (subject, date, issuer, law) in cases {
        assert_eq!(
            competence(subject, date).issuer,
            issuer,
            "{subject:?} on {date} ({law})"
        );
    }
}

#[test]
fn the_rule_version_follows_the_amendments() {
    let c = competence(StatementSubject::BusinessOrShortStudies, day(2023, 1, 1));
    assert_eq!(c.rule.effective_from, day(2023, 1, 1));
    assert!(c.rule.law.contains("1133/2022"));
    let c = competence(StatementSubject::ParticipationInService, day(2021, 5, 31));
    assert_eq!(c.rule.law, "1269/2020 12 § 2 mom 1 kohta");
    let c = competence(StatementSubject::GeneralConditions, day(2021, 10, 1));
    assert!(c.rule.law.contains("20 §"));
    for subject in StatementSubject::ALL {
        for date in [day(2021, 3, 1), day(2022, 7, 11), day(2024, 6, 3)] {
            let c = competence(subject, date);
            assert!(c.rule.effective_from <= date, "{subject:?} {date}");
        }
    }
}

#[test]
fn optional_and_concurrent_competence() {
    let c = competence(StatementSubject::CertainStudies, day(2022, 8, 1));
    assert!(c.optional_for_municipality);
    assert!(!c.te_office_may_also_issue);
    let c = competence(StatementSubject::GeneralConditions, day(2023, 11, 30));
    assert!(!c.te_office_may_also_issue);
    let c = competence(StatementSubject::GeneralConditions, day(2023, 12, 1));
    assert!(c.te_office_may_also_issue, "1001/2023");
    let c = competence(StatementSubject::Other, day(2023, 12, 1));
    assert!(
        !c.te_office_may_also_issue,
        "only where the municipality is competent"
    );
}

#[test]
fn subjects_are_snake_case_json() {
    let json = serde_json::to_value(competence(
        StatementSubject::JobSearchInEuState,
        day(2023, 1, 2),
    ))
    .unwrap();
    assert_eq!(json["subject"], "job_search_in_eu_state");
    assert_eq!(json["issuer"], "municipality");
    let back: StatementSubject = serde_json::from_str("\"labour_market_training\"").unwrap();
    assert_eq!(back, StatementSubject::LabourMarketTraining);
}
