//! The client rule of the 2021–2024 trial (1269/2020 4–6 §), effective-dated. Read from the
//! statute texts (Finlex originals mirrored in `eliask/finlex-data`, see DOMAIN.md):
//!
//! - **4 § 1 mom** (1.3.2021): unemployed jobseekers, *työllistetyt* and jobseekers in
//!   employment-promoting services whose home municipality is the trial municipality and who
//!   (1) do not meet the conditions for earnings-related allowance (TTL 5:2.1 or 5:6.1), or
//!   (2) are under 30, immigrants or foreign-language speakers.
//! - **4 § 2 mom** (1.3.2021): those of them who registered as *unemployed* jobseekers.
//!   421/2021 (1.6.2021): who registered as jobseekers. 1381/2021 (2.5.2022): again who registered
//!   as unemployed jobseekers, or who registered as jobseekers and are at risk of becoming
//!   unemployed within two weeks — a group 1381/2021 also added to 1 mom.
//! - **5 §** as amended by 671/2022 (1.1.2023): persons eligible for change-security training
//!   (JTYPL 5 a:2(1) items 1–3) are not transferred and are moved back.
//! - **4 § 2 mom** as amended by 149/2023 (1.3.2023): also persons with a place of residence in the
//!   municipality (JTYPL 1:9.2) and a residence permit under Aliens Act 110 § (temporary
//!   protection); they are transferred by place of residence (5 § 1 mom) and need no 1 mom ground.
//!   The registry brief (DOMAIN.md § 1.a) restricts this to holders without a home municipality;
//!   with one, 1 mom applies by home municipality.
//! - **5 § 3 mom**: the TE office may decline a transfer (linguistic rights, an inappropriate client
//!   relationship, another justified reason).
//! - **6 § 2 mom**: a former client who re-registers during the trial stays with the trial
//!   municipality even without a 4 § 1 mom 1–2 kohta ground; the person must still be a jobseeker
//!   of the 1 mom groups (the provision waives only the grounds).

use chrono::NaiveDate;

use super::{Case, Decision, EmploymentStatus, Ground, StayReason, domestic_language};
use crate::rule::{RuleVersion, date};

/// 421/2021: registered jobseekers, not only unemployed ones.
fn amended_421() -> NaiveDate {
    date(2021, 6, 1)
}

/// 1381/2021: at risk of unemployment; registration as unemployed again.
fn amended_1381() -> NaiveDate {
    date(2022, 5, 2)
}

/// 671/2022: change-security training.
fn amended_671() -> NaiveDate {
    date(2023, 1, 1)
}

/// 149/2023: temporary protection by place of residence.
fn amended_149() -> NaiveDate {
    date(2023, 3, 1)
}

/// The version of 1269/2020's client rule (4 § and 5 §) in force on `on`.
pub fn rule_2021(on: NaiveDate) -> RuleVersion {
    let versions = [
        (
            amended_149(),
            "1269/2020 4 § as amended by 149/2023 (temporary protection)",
        ),
        (
            amended_671(),
            "1269/2020 5 § as amended by 671/2022 (change-security training)",
        ),
        (
            amended_1381(),
            "1269/2020 4 § as amended by 1381/2021 (at risk of unemployment)",
        ),
        (
            amended_421(),
            "1269/2020 4 § as amended by 421/2021 (registered jobseekers)",
        ),
    ];
    versions.iter().find(|(from, _)| on >= *from).map_or(
        RuleVersion::new("1269/2020 4 §", date(2021, 3, 1)),
        |(from, law)| RuleVersion::new(law, *from),
    )
}

/// Evaluates a case of the 2021–2024 trial.
pub(super) fn evaluate(case: &Case<'_>) -> Decision {
    let (f, on) = (case.facts, case.on);
    let has_home = case.is_municipality(&f.home_municipality_code);
    let by_residence = on >= amended_149() && f.temporary_protection && !has_home;
    let municipality = if by_residence {
        &f.residence_municipality_code
    } else {
        &f.home_municipality_code
    };
    if !case.is_municipality(municipality) {
        let detail = if f.temporary_protection && on < amended_149() {
            "no home municipality in Finland; temporary-protection holders are clients by place \
             of residence only from 1.3.2023 (149/2023)"
        } else if by_residence {
            "temporary protection without a home municipality, but no place of residence in a \
             Finnish municipality"
        } else {
            "no home municipality in Finland"
        };
        return case.stays(
            StayReason::NoHomeMunicipality,
            "1269/2020 5 § 1 mom",
            detail,
        );
    }
    let Some(area) = case.trial.area_of(municipality) else {
        return case.stays(
            StayReason::OutsideTrialAreas,
            "1269/2020 3 §",
            format!("municipality {municipality} is in no trial area"),
        );
    };
    if !f.registered_as_jobseeker {
        return case.stays(
            StayReason::NotAJobseeker,
            "1269/2020 4 § 2 mom",
            "not registered as a jobseeker (no valid job search, JTYPL 2:1)",
        );
    }
    if on >= amended_671() && f.change_security_eligible {
        return Decision {
            // The provision that decides, with its own date (not the later 149/2023 version).
            rule: rule_2021(amended_671()),
            ..case.stays(
                StayReason::ChangeSecurityEligible,
                "1269/2020 5 § as amended by 671/2022",
                "eligible for change-security training (JTYPL 5 a:2): not transferred (671/2022)",
            )
        };
    }
    if let Some(why) = f.te_office_declines {
        return case.stays(
            StayReason::TeOfficeDeclined,
            "1269/2020 5 § 3 mom",
            format!("the TE office declines the transfer ({why:?})"),
        );
    }
    // 4 § 1 mom: the groups of jobseekers (2 mom from 1.3.2023: temporary protection).
    let status = f.employment_status;
    let at_risk = on >= amended_1381() && f.at_risk_of_unemployment;
    let in_group = status.is_unemployed()
        || matches!(
            status,
            EmploymentStatus::EmployedSubsidised
                | EmploymentStatus::InService
                | EmploymentStatus::InTraining
        )
        || at_risk
        || by_residence;
    if !in_group {
        return case.stays(
            StayReason::NotAJobseeker,
            "1269/2020 4 § 1 mom",
            format!(
                "employment status {status:?} is not unemployed, työllistetty or in services{}",
                if on >= amended_1381() {
                    ", and not at risk of unemployment within two weeks"
                } else {
                    ""
                }
            ),
        );
    }
    // 6 § 2 mom: a former client who re-registers stays, even without a 1 mom 1–2 kohta ground
    // (from 1.3.2023 also without the temporary-protection conditions); how the person registered
    // matters only for a transfer, not for a continuing client-ship.
    if case.trial.continues_on_reregistration(area) && f.previously_client_of_area == area.slug {
        return case.refer(
            area,
            municipality,
            by_residence,
            vec![Ground::ReRegistration],
            "1269/2020 6 § 2 mom",
        );
    }
    // 4 § 2 mom (3 mom from 1.3.2023): how the person registered.
    // Not given: assumed; a jobseeker of the 1 mom groups normally registered as unemployed before
    // entering a service or a subsidised job.
    let as_unemployed = f.registered_as_unemployed.unwrap_or(true);
    let registration_ok = if on < amended_421() {
        as_unemployed
    } else if on < amended_1381() {
        true
    } else {
        as_unemployed || at_risk
    };
    if !registration_ok {
        let provision = if on < amended_421() {
            "1269/2020 4 § 2 mom"
        } else {
            "1269/2020 4 § 2 mom as amended by 1381/2021"
        };
        return case.stays(
            StayReason::NotAJobseeker,
            provision,
            "registered as a jobseeker but not as an unemployed jobseeker (nor at risk of \
             unemployment)",
        );
    }

    let mut grounds = Vec::new();
    let mut push = |cond: bool, g: Ground| {
        if cond {
            grounds.push(g);
        }
    };
    push(at_risk, Ground::AtRiskOfUnemployment);
    push(by_residence, Ground::TemporaryProtection);
    push(
        !f.entitled_to_earnings_related_allowance,
        Ground::NoEarningsRelatedAllowance,
    );
    push(case.hetu.age_on(on) < 30, Ground::Under30);
    push(f.immigrant, Ground::Immigrant);
    push(
        !f.mother_tongue.trim().is_empty() && !domestic_language(&f.mother_tongue),
        Ground::ForeignLanguage,
    );
    let provision = if by_residence {
        "1269/2020 4 § 2 mom as amended by 149/2023"
    } else if grounds.contains(&Ground::NoEarningsRelatedAllowance) {
        "1269/2020 4 § 1 mom 1 kohta"
    } else {
        "1269/2020 4 § 1 mom 2 kohta"
    };
    if !by_residence && !grounds.iter().any(|g| *g != Ground::AtRiskOfUnemployment) {
        return case.stays(
            StayReason::NotInTargetGroup,
            "1269/2020 4 § 1 mom",
            "entitled to earnings-related allowance, 30 or over, not an immigrant and not \
             foreign-language",
        );
    }
    case.refer(area, municipality, by_residence, grounds, provision)
}
