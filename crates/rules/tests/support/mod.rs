//! Shared helpers of the eligibility tests: a base jobseeker and a table-case runner.

// Not every test binary uses every helper.
#![allow(dead_code)]

use chrono::NaiveDate;
use kokeilu_rules::eligibility::{EmploymentStatus, JobseekerFacts, Outcome, StayReason, evaluate};
use kokeilu_rules::registry::Registry;

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Born 13.10.1952; home municipality Tampere (837); unemployed and registered as such; no
/// earnings-related allowance.
pub fn base() -> JobseekerFacts {
    JobseekerFacts {
        henkilotunnus: "131052-308T".into(),
        home_municipality_code: "837".into(),
        employment_status: EmploymentStatus::Unemployed,
        registered_as_jobseeker: true,
        ..Default::default()
    }
}

/// `base()` but entitled to earnings-related allowance: no 4 § 1 mom ground left.
pub fn entitled() -> JobseekerFacts {
    JobseekerFacts {
        entitled_to_earnings_related_allowance: true,
        ..base()
    }
}

pub fn with(f: JobseekerFacts, change: impl FnOnce(&mut JobseekerFacts)) -> JobseekerFacts {
    let mut f = f;
    change(&mut f);
    f
}

pub fn area(f: &JobseekerFacts, on: NaiveDate) -> Result<String, StayReason> {
    let d = evaluate(Registry::builtin(), f, on).unwrap();
    match d.outcome {
        Outcome::Referral { area, .. } => Ok(area),
        Outcome::StaysWithTeOffice { reason, .. } => Err(reason),
    }
}

pub struct Case {
    pub law: &'static str,
    pub on: NaiveDate,
    pub facts: JobseekerFacts,
    pub expect: Result<&'static str, StayReason>,
}

pub fn case(
    law: &'static str,
    on: NaiveDate,
    facts: JobseekerFacts,
    expect: Result<&'static str, StayReason>,
) -> Case {
    Case {
        law,
        on,
        facts,
        expect,
    }
}

/// Runs a table of cases, naming the law section of a failing one.
pub fn check(cases: Vec<Case>) {
    for case in cases {
        let got = area(&case.facts, case.on);
        let want = case.expect.map(str::to_owned);
        assert_eq!(got, want, "{} on {}", case.law, case.on);
    }
}
