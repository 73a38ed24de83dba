//! The 2021–2024 client rule (1269/2020 4–6 §), one case per rule and amendment date, each
//! naming its law section; the same jobseeker on different dates gets the rule of each date.

// Test tables: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use kokeilu_rules::eligibility::{
    DeclineReason, EmploymentStatus, Ground, Outcome, StayReason, evaluate,
};
use kokeilu_rules::registry::Registry;
use support::*;

fn cases_2021() -> Vec<Case> {
    use EmploymentStatus as S;
    use StayReason as R;
    // In a service; the job search was registered while already in it (not as unemployed).
    let in_service = with(base(), |f| {
        f.employment_status = S::InService;
        f.registered_as_unemployed = Some(false);
    });
    let in_service_unspecified = with(base(), |f| f.employment_status = S::InService);
    let at_risk = with(base(), |f| {
        f.employment_status = S::OpenMarketEmployed;
        f.at_risk_of_unemployment = true;
    });
    let change_security = with(base(), |f| f.change_security_eligible = true);
    // Temporary protection, no home municipality in Finland (198), living in Helsinki; no 4 § 1
    // mom ground (entitled, over 30, no mother tongue recorded, not flagged immigrant).
    let protected = with(entitled(), |f| {
        f.home_municipality_code = "198".into();
        f.residence_municipality_code = "091".into();
        f.temporary_protection = true;
    });
    vec![
        case(
            "1269/2020 4 § 1 mom 1 kohta: no earnings-related allowance",
            day(2021, 5, 3),
            base(),
            Ok("pirkanmaa"),
        ),
        case(
            "1269/2020 4 § 1 mom: entitled, over 30, Finnish-speaking: no ground",
            day(2021, 5, 3),
            entitled(),
            Err(R::NotInTargetGroup),
        ),
        case(
            "1269/2020 4 § 1 mom 2 kohta: foreign-language speaker",
            day(2021, 5, 3),
            with(entitled(), |f| f.mother_tongue = "ru".into()),
            Ok("pirkanmaa"),
        ),
        case(
            "1269/2020 2 § 3 kohta: Sámi is not a foreign language",
            day(2021, 5, 3),
            with(entitled(), |f| f.mother_tongue = "se".into()),
            Err(R::NotInTargetGroup),
        ),
        case(
            "1269/2020 2 § 3 kohta: Swedish (sv-FI) is not a foreign language",
            day(2021, 5, 3),
            with(entitled(), |f| f.mother_tongue = "sv-FI".into()),
            Err(R::NotInTargetGroup),
        ),
        case(
            "1269/2020 4 § 1 mom 2 kohta: under 30",
            day(2021, 5, 3),
            with(entitled(), |f| f.henkilotunnus = "010100A123D".into()),
            Ok("pirkanmaa"),
        ),
        case(
            "1269/2020 4 § 1 mom 2 kohta: immigrant (1386/2010 3 § 3 k)",
            day(2021, 5, 3),
            with(entitled(), |f| f.immigrant = true),
            Ok("pirkanmaa"),
        ),
        case(
            "1269/2020 4 § 1 mom: home municipality decides (Kauniainen home, Helsinki residence)",
            day(2024, 3, 4),
            with(base(), |f| {
                f.home_municipality_code = "235".into();
                f.residence_municipality_code = "091".into();
            }),
            Err(R::OutsideTrialAreas),
        ),
        case(
            "1269/2020 4 § 1 mom: home municipality decides (Helsinki home, Kauniainen residence)",
            day(2024, 3, 4),
            with(base(), |f| {
                f.home_municipality_code = "091".into();
                f.residence_municipality_code = "235".into();
            }),
            Ok("helsinki"),
        ),
        case(
            "1269/2020 4 § 2 mom: not registered as a jobseeker",
            day(2024, 3, 4),
            with(base(), |f| f.registered_as_jobseeker = false),
            Err(R::NotAJobseeker),
        ),
        case(
            "1269/2020 4 § 1 mom: employed on the open market is no group, even after 421/2021",
            day(2021, 6, 1),
            with(base(), |f| f.employment_status = S::OpenMarketEmployed),
            Err(R::NotAJobseeker),
        ),
        case(
            "1269/2020 4 § 2 mom (original): in services but not registered as unemployed, 31.5.2021",
            day(2021, 5, 31),
            in_service.clone(),
            Err(R::NotAJobseeker),
        ),
        case(
            "4 § 2 mom as amended by 421/2021: registered jobseekers in the groups, from 1.6.2021",
            day(2021, 6, 1),
            in_service.clone(),
            Ok("pirkanmaa"),
        ),
        case(
            "4 § 2 mom as amended by 1381/2021: registered as unemployed again, from 2.5.2022",
            day(2022, 5, 2),
            in_service.clone(),
            Err(R::NotAJobseeker),
        ),
        case(
            "4 § 2 mom as amended by 1381/2021: in services, registered as unemployed",
            day(2022, 5, 2),
            with(in_service, |f| f.registered_as_unemployed = Some(true)),
            Ok("pirkanmaa"),
        ),
        case(
            "4 § 2 mom as amended by 1381/2021: how a client in services registered, if not given, \
             is taken as unemployed",
            day(2023, 5, 2),
            in_service_unspecified,
            Ok("pirkanmaa"),
        ),
        case(
            "4 § 1 mom before 1381/2021: at risk of unemployment is no group on 1.5.2022",
            day(2022, 5, 1),
            at_risk.clone(),
            Err(R::NotAJobseeker),
        ),
        case(
            "4 § 1–2 mom as amended by 1381/2021: at risk of unemployment within 2 weeks",
            day(2022, 5, 2),
            at_risk,
            Ok("pirkanmaa"),
        ),
        case(
            "5 § before 671/2022: change-security eligibility does not matter in 2022",
            day(2022, 12, 30),
            change_security.clone(),
            Ok("pirkanmaa"),
        ),
        case(
            "5 § as amended by 671/2022: change-security training eligible are not transferred",
            day(2023, 1, 2),
            change_security,
            Err(R::ChangeSecurityEligible),
        ),
        case(
            "4 § before 149/2023: temporary protection without home municipality, 28.2.2023",
            day(2023, 2, 28),
            protected.clone(),
            Err(R::NoHomeMunicipality),
        ),
        case(
            "4 § 2 mom as amended by 149/2023: temporary protection, by place of residence",
            day(2023, 3, 1),
            protected.clone(),
            Ok("helsinki"),
        ),
        case(
            "4 § 2 mom as amended by 149/2023: residence in no trial area",
            day(2023, 3, 1),
            with(protected.clone(), |f| {
                f.residence_municipality_code = "235".into()
            }),
            Err(R::OutsideTrialAreas),
        ),
        case(
            "4 § 1 mom: temporary protection with a home municipality: the home decides",
            day(2023, 3, 1),
            with(protected, |f| f.home_municipality_code = "235".into()),
            Err(R::OutsideTrialAreas),
        ),
        case(
            "6 § 2 mom: re-registration keeps the client with the same area without a ground",
            day(2024, 3, 4),
            with(entitled(), |f| {
                f.previously_client_of_area = "pirkanmaa".into()
            }),
            Ok("pirkanmaa"),
        ),
        case(
            "6 § 2 mom waives only the 1 mom grounds: an open-market employee is no jobseeker",
            day(2024, 3, 4),
            with(entitled(), |f| {
                f.previously_client_of_area = "pirkanmaa".into();
                f.employment_status = S::OpenMarketEmployed;
            }),
            Err(R::NotAJobseeker),
        ),
        case(
            "6 § 2 mom: an earlier client-ship in another area does not carry over",
            day(2024, 3, 4),
            with(entitled(), |f| {
                f.previously_client_of_area = "kainuu".into()
            }),
            Err(R::NotInTargetGroup),
        ),
        case(
            "5 § 3 mom: the TE office may decline for linguistic rights",
            day(2024, 3, 4),
            with(base(), |f| {
                f.te_office_declines = Some(DeclineReason::LinguisticRights)
            }),
            Err(R::TeOfficeDeclined),
        ),
        case(
            "287/2022: the 31.3.2023 stop on referrals was repealed",
            day(2023, 4, 3),
            base(),
            Ok("pirkanmaa"),
        ),
        case(
            "1269/2020: in force 1.3.2021, not on the proposed 1.1.2021",
            day(2021, 1, 4),
            base(),
            Err(R::NoTrialInForce),
        ),
        case(
            "1269/2020 as extended by 287/2022: in force on 31.12.2024",
            day(2024, 12, 31),
            base(),
            Ok("pirkanmaa"),
        ),
        case(
            "1269/2020 as extended by 287/2022: no trial after 31.12.2024",
            day(2025, 1, 2),
            base(),
            Err(R::NoTrialInForce),
        ),
    ]
}

#[test]
fn every_rule_and_amendment_of_1269_2020_gives_its_answer() {
    check(cases_2021());
}

#[test]
fn the_same_jobseeker_gets_the_rule_in_force_on_each_date() {
    // In an employment-promoting service, registered as a jobseeker but not as unemployed,
    // foreign-language speaker.
    let f = with(entitled(), |f| {
        f.employment_status = EmploymentStatus::InService;
        f.registered_as_unemployed = Some(false);
        f.mother_tongue = "et".into();
    });
    let answers: Vec<_> = [
        day(2021, 2, 26),
        day(2021, 3, 1),
        day(2021, 6, 1),
        day(2022, 5, 1),
        day(2022, 5, 2),
    ]
    .iter()
    .map(|d| {
        let decision = evaluate(Registry::builtin(), &f, *d).unwrap();
        (area(&f, *d), decision.rule.effective_from)
    })
    .collect();
    assert_eq!(
        answers,
        [
            (Err(StayReason::NoTrialInForce), day(2021, 2, 26)),
            (Err(StayReason::NotAJobseeker), day(2021, 3, 1)),
            (Ok("pirkanmaa".into()), day(2021, 6, 1)),
            (Ok("pirkanmaa".into()), day(2021, 6, 1)),
            (Err(StayReason::NotAJobseeker), day(2022, 5, 2)),
        ]
    );
    // Unemployed and eligible for change-security training, across 1.1.2023 and 1.3.2023.
    let f = with(base(), |f| f.change_security_eligible = true);
    let rules: Vec<_> = [day(2022, 12, 31), day(2023, 1, 1), day(2023, 3, 1)]
        .iter()
        .map(|d| {
            let decision = evaluate(Registry::builtin(), &f, *d).unwrap();
            (area(&f, *d), decision.rule.law)
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                Ok("pirkanmaa".into()),
                "1269/2020 4 § as amended by 1381/2021 (at risk of unemployment)"
            ),
            (
                Err(StayReason::ChangeSecurityEligible),
                "1269/2020 5 § as amended by 671/2022 (change-security training)"
            ),
            (
                Err(StayReason::ChangeSecurityEligible),
                "1269/2020 5 § as amended by 671/2022 (change-security training)"
            ),
        ]
    );
}

#[test]
fn an_employee_at_risk_of_unemployment_joins_on_2_5_2022() {
    // Kajaani, employed on the open market, registered as a jobseeker, notice running out.
    let f = with(base(), |f| {
        f.home_municipality_code = "205".into();
        f.employment_status = EmploymentStatus::OpenMarketEmployed;
        f.at_risk_of_unemployment = true;
    });
    let before = evaluate(Registry::builtin(), &f, day(2022, 5, 1)).unwrap();
    assert_eq!(area(&f, day(2022, 5, 1)), Err(StayReason::NotAJobseeker));
    assert_eq!(
        before.rule.law,
        "1269/2020 4 § as amended by 421/2021 (registered jobseekers)"
    );
    let after = evaluate(Registry::builtin(), &f, day(2022, 5, 2)).unwrap();
    assert_eq!(after.area(), Some("kainuu"));
    assert_eq!(
        after.grounds,
        [
            Ground::AtRiskOfUnemployment,
            Ground::NoEarningsRelatedAllowance
        ]
    );
    assert!(after.rule.law.contains("1381/2021"), "{}", after.rule.law);
}

#[test]
fn the_decision_names_its_grounds_and_provision() {
    let f = with(base(), |f| {
        f.henkilotunnus = "010100A123D".into();
        f.immigrant = true;
    });
    let d = evaluate(Registry::builtin(), &f, day(2024, 3, 4)).unwrap();
    assert_eq!(
        d.grounds,
        [
            Ground::NoEarningsRelatedAllowance,
            Ground::Under30,
            Ground::Immigrant
        ]
    );
    assert_eq!(d.provision, "1269/2020 4 § 1 mom 1 kohta");
    assert_eq!(
        d.rule.law,
        "1269/2020 4 § as amended by 149/2023 (temporary protection)"
    );
    assert_eq!(d.rule.effective_from, day(2023, 3, 1));

    let protected = with(entitled(), |f| {
        f.home_municipality_code = String::new();
        f.residence_municipality_code = "092".into();
        f.temporary_protection = true;
    });
    let d = evaluate(Registry::builtin(), &protected, day(2023, 6, 1)).unwrap();
    assert_eq!(d.grounds, [Ground::TemporaryProtection]);
    assert_eq!(d.provision, "1269/2020 4 § 2 mom as amended by 149/2023");
    assert_eq!(
        d.outcome,
        Outcome::Referral {
            trial: "2021".into(),
            area: "vantaa-kerava".into(),
            municipality: "092".into(),
            by_residence: true,
        }
    );

    let back = with(entitled(), |f| {
        f.previously_client_of_area = "pirkanmaa".into()
    });
    let d = evaluate(Registry::builtin(), &back, day(2024, 3, 4)).unwrap();
    assert_eq!(
        (d.grounds, d.provision),
        (vec![Ground::ReRegistration], "1269/2020 6 § 2 mom")
    );
}
