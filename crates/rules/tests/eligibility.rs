//! Target-group rules, one case per rule and amendment date, each naming its law section.

// Test tables: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use kokeilu_rules::eligibility::{
    DeclineReason, EmploymentStatus, Ground, JobseekerFacts, Outcome, StayReason, evaluate,
};
use kokeilu_rules::registry::Registry;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Born 13.10.1952; lives in Tampere (837); unemployed; no earnings-related allowance.
fn base() -> JobseekerFacts {
    JobseekerFacts {
        henkilotunnus: "131052-308T".into(),
        home_municipality_code: "837".into(),
        employment_status: EmploymentStatus::Unemployed,
        registered_as_jobseeker: true,
        ..Default::default()
    }
}

fn area(f: &JobseekerFacts, on: NaiveDate) -> Result<String, StayReason> {
    let d = evaluate(Registry::builtin(), f, on).unwrap();
    match d.outcome {
        Outcome::Referral { area, .. } => Ok(area),
        Outcome::StaysWithTeOffice { reason, .. } => Err(reason),
    }
}

struct Case {
    law: &'static str,
    on: NaiveDate,
    facts: JobseekerFacts,
    expect: Result<&'static str, StayReason>,
}

fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    c.push(Case {
        law: "1269/2020 4 § 1 (no earnings-related allowance), 3.5.2021",
        on: day(2021, 5, 3),
        facts: base(),
        expect: Ok("pirkanmaa"),
    });
    let mut entitled = base();
    entitled.entitled_to_earnings_related_allowance = true;
    c.push(Case {
        law: "1269/2020 4 §: entitled to earnings-related, over 30, Finnish-speaking: no ground",
        on: day(2021, 5, 3),
        facts: entitled.clone(),
        expect: Err(StayReason::NotInTargetGroup),
    });
    let mut foreign = entitled.clone();
    foreign.mother_tongue = "ru".into();
    c.push(Case {
        law: "1269/2020 4 § 2 (foreign-language speaker)",
        on: day(2021, 5, 3),
        facts: foreign,
        expect: Ok("pirkanmaa"),
    });
    let mut sami = entitled.clone();
    sami.mother_tongue = "se".into();
    c.push(Case {
        law: "1269/2020 4 § 2: Sámi is not a foreign language",
        on: day(2021, 5, 3),
        facts: sami,
        expect: Err(StayReason::NotInTargetGroup),
    });
    let mut open_market = base();
    open_market.employment_status = EmploymentStatus::OpenMarketEmployed;
    c.push(Case {
        law: "1269/2020 4 § (original): an employed jobseeker is outside the group before 1.6.2021",
        on: day(2021, 5, 31),
        facts: open_market.clone(),
        expect: Err(StayReason::NotAJobseeker),
    });
    c.push(Case {
        law: "4 § as amended by 421/2021: any registered jobseeker from 1.6.2021",
        on: day(2021, 6, 1),
        facts: open_market,
        expect: Ok("pirkanmaa"),
    });
    let mut at_risk = base();
    at_risk.employment_status = EmploymentStatus::OpenMarketEmployed;
    at_risk.registered_as_jobseeker = false;
    at_risk.at_risk_of_unemployment = true;
    c.push(Case {
        law: "4 § before 1381/2021: at risk of unemployment is not enough on 1.5.2022",
        on: day(2022, 5, 1),
        facts: at_risk.clone(),
        expect: Err(StayReason::NotAJobseeker),
    });
    c.push(Case {
        law: "4 § as amended by 1381/2021: at risk of unemployment within 2 weeks, from 2.5.2022",
        on: day(2022, 5, 2),
        facts: at_risk,
        expect: Ok("pirkanmaa"),
    });
    let mut change_security = base();
    change_security.change_security_eligible = true;
    c.push(Case {
        law: "5 § before 671/2022: change-security eligibility does not matter in 2022",
        on: day(2022, 12, 30),
        facts: change_security.clone(),
        expect: Ok("pirkanmaa"),
    });
    c.push(Case {
        law: "5 § as amended by 671/2022: change-security training eligible are not transferred",
        on: day(2023, 1, 2),
        facts: change_security,
        expect: Err(StayReason::ChangeSecurityEligible),
    });
    let mut protected = base();
    protected.henkilotunnus = "010190-123M".into();
    protected.home_municipality_code = String::new();
    protected.residence_municipality_code = "091".into();
    protected.temporary_protection = true;
    protected.immigrant = true;
    c.push(Case {
        law: "4 § before 149/2023: no home municipality, no referral (28.2.2023)",
        on: day(2023, 2, 28),
        facts: protected.clone(),
        expect: Err(StayReason::NoHomeMunicipality),
    });
    c.push(Case {
        law: "4 § as amended by 149/2023: temporary protection, by place of residence",
        on: day(2023, 3, 1),
        facts: protected,
        expect: Ok("helsinki"),
    });
    let mut moved = base();
    moved.home_municipality_code = "235".into();
    moved.residence_municipality_code = "091".into();
    c.push(Case {
        law: "4 §: home municipality decides, not residence (Kauniainen resident living in Helsinki)",
        on: day(2024, 3, 4),
        facts: moved,
        expect: Err(StayReason::OutsideTrialAreas),
    });
    let mut returning = entitled.clone();
    returning.previously_client_of_area = "pirkanmaa".into();
    c.push(Case {
        law: "6 § 2 mom: re-registration keeps the client with the same area without a ground",
        on: day(2024, 3, 4),
        facts: returning,
        expect: Ok("pirkanmaa"),
    });
    let mut declined = base();
    declined.te_office_declines = Some(DeclineReason::LinguisticRights);
    c.push(Case {
        law: "5 § 3 mom: the TE office may decline for linguistic rights",
        on: day(2024, 3, 4),
        facts: declined,
        expect: Err(StayReason::TeOfficeDeclined),
    });
    c.push(Case {
        law: "1269/2020 as extended by 287/2022: no trial after 31.12.2024",
        on: day(2025, 1, 2),
        facts: base(),
        expect: Err(StayReason::NoTrialInForce),
    });
    // 2017–2018, 505/2017 3 §, per area.
    let mut lappi = base();
    lappi.home_municipality_code = "698".into();
    lappi.continuous_unemployment_months = 12;
    c.push(Case {
        law: "505/2017 3 § Lappi: unemployed ≥ 12 months, not in services",
        on: day(2018, 3, 1),
        facts: lappi.clone(),
        expect: Ok("lappi"),
    });
    lappi.continuous_unemployment_months = 11;
    c.push(Case {
        law: "505/2017 3 § Lappi: 11 months is not enough",
        on: day(2018, 3, 1),
        facts: lappi,
        expect: Err(StayReason::NotInTargetGroup),
    });
    c.push(Case {
        law: "505/2017 3 § Pirkanmaa: not entitled to earnings-related allowance",
        on: day(2018, 3, 1),
        facts: base(),
        expect: Ok("pirkanmaa"),
    });
    let mut young_turku = entitled.clone();
    young_turku.henkilotunnus = "010100A123D".into();
    young_turku.home_municipality_code = "853".into();
    c.push(Case {
        law: "505/2017 3 § Varsinais-Suomi: under 25",
        on: day(2018, 3, 1),
        facts: young_turku,
        expect: Ok("varsinais-suomi"),
    });
    let mut kuopio = entitled.clone();
    kuopio.home_municipality_code = "297".into();
    kuopio.needs_multisector_service = true;
    c.push(Case {
        law: "505/2017 3 § Pohjois-Savo: need for multi-sector joint service (TYP)",
        on: day(2018, 3, 1),
        facts: kuopio,
        expect: Ok("pohjois-savo"),
    });
    let mut pori = entitled.clone();
    pori.home_municipality_code = "609".into();
    pori.labour_market_subsidy_days = 200;
    c.push(Case {
        law: "505/2017 3 § Satakunta: labour-market subsidy for ≥ 200 days",
        on: day(2018, 9, 30),
        facts: pori.clone(),
        expect: Ok("satakunta"),
    });
    c.push(Case {
        law: "505/2017: no referrals after 30.9.2018",
        on: day(2018, 10, 1),
        facts: pori,
        expect: Err(StayReason::ReferralsClosed),
    });
    // 2012–2015.
    let mut long_term = entitled;
    long_term.home_municipality_code = "205".into();
    long_term.unemployment_benefit_days = 500;
    c.push(Case {
        law: "Kuntakokeilu 2012–2015: ≥ 500 days of unemployment benefit",
        on: day(2014, 6, 2),
        facts: long_term.clone(),
        expect: Ok("kajaani-kuhmo"),
    });
    long_term.unemployment_benefit_days = 499;
    c.push(Case {
        law: "Kuntakokeilu 2012–2015: 499 days and under 12 months is not long-term",
        on: day(2014, 6, 2),
        facts: long_term,
        expect: Err(StayReason::NotInTargetGroup),
    });
    c
}

#[test]
fn every_rule_and_amendment_gives_its_answer() {
    for case in cases() {
        let got = area(&case.facts, case.on);
        let want = case.expect.map(str::to_owned);
        assert_eq!(got, want, "{} on {}", case.law, case.on);
    }
}

#[test]
fn the_same_jobseeker_gets_the_rule_in_force_on_each_date() {
    // Employed on the open market, registered as a jobseeker, foreign-language speaker.
    let mut f = base();
    f.employment_status = EmploymentStatus::OpenMarketEmployed;
    f.entitled_to_earnings_related_allowance = true;
    f.mother_tongue = "et".into();
    f.change_security_eligible = true;
    let answers: Vec<_> = [
        day(2021, 2, 26),
        day(2021, 3, 1),
        day(2021, 6, 1),
        day(2022, 12, 30),
        day(2023, 1, 2),
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
            (Ok("pirkanmaa".into()), day(2022, 5, 2)),
            (Err(StayReason::ChangeSecurityEligible), day(2023, 1, 1)),
        ]
    );
}

#[test]
fn the_decision_names_its_grounds() {
    let mut f = base();
    f.henkilotunnus = "010100A123D".into();
    f.immigrant = true;
    let d = evaluate(Registry::builtin(), &f, day(2024, 3, 4)).unwrap();
    assert_eq!(
        d.grounds,
        [
            Ground::NoEarningsRelatedAllowance,
            Ground::Under30,
            Ground::Immigrant
        ]
    );
    assert_eq!(
        d.rule.law,
        "1269/2020 4 § as amended by 149/2023 (temporary protection)"
    );
}

#[test]
fn unusable_facts_are_errors_not_decisions() {
    let mut f = base();
    f.henkilotunnus = "131052-308X".into();
    assert!(evaluate(Registry::builtin(), &f, day(2024, 3, 4)).is_err());
    let mut f = base();
    f.home_municipality_code = "998".into();
    assert!(evaluate(Registry::builtin(), &f, day(2024, 3, 4)).is_err());
}
