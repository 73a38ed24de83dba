//! The client rules of the earlier trial generations (DOMAIN.md § 2).
//!
//! - **2017–2018** (Act 505/2017, HE 51/2017): unemployed jobseekers whose home municipality is in
//!   an area (3 §), referred until 30.9.2018, with per-area target groups (3 §): Lappi — unemployed
//!   ≥ 12 months without services; Pirkanmaa — not entitled to earnings-related allowance;
//!   Varsinais-Suomi — under 25, and unemployed ≥ 12 months; Pohjois-Savo — need for multi-sector
//!   joint service (TYP), and unemployed ≥ 12 months without services; Satakunta (Pori) — under 25
//!   unemployed ≥ 6 months without services, and ≥ 200 days of labour-market subsidy. Client-ship
//!   continues on re-registration except in Pirkanmaa (4 §).
//! - **2012–2015** (government trial, not an act): long-term unemployed, with both qualifiers of
//!   the trial: ≥ 500 days of unemployment benefit *and* a need for municipal services besides
//!   employment services, or ≥ 12 months of continuous unemployment *and* a risk of exclusion.
//!   Both needs are jointly assessed by the TE office and the municipality and come in as facts.
//!   The TE office kept the services; a "referral" here means the person belongs to the
//!   municipality's joint project.
//!
//! Continuous unemployment is interrupted by services, so `continuous_unemployment_months`
//! also answers "without services during that time".

use super::{Case, Decision, FactsError, Ground, StayReason};
use crate::registry::Trial;
use crate::rule::RuleVersion;

/// The rule version of a historical trial (in force for its whole period).
pub(super) fn rule(trial: &Trial) -> RuleVersion {
    let law = match trial.id.as_str() {
        "2017" => "505/2017 3 §",
        _ => "Kuntakokeilu 2012–2015 (government decision; long-term unemployed)",
    };
    RuleVersion::new(law, trial.starts)
}

/// Evaluates a case of the 2017–2018 or 2012–2015 trial.
pub(super) fn evaluate(case: &Case<'_>) -> Result<Decision, FactsError> {
    let f = case.facts;
    let home = f.home_municipality_code.as_str();
    let act = if case.trial.id == "2017" {
        "505/2017 3 §"
    } else {
        "Kuntakokeilu 2012–2015"
    };
    if !case.is_municipality(home) {
        return Ok(case.stays(
            StayReason::NoHomeMunicipality,
            act,
            "no home municipality in Finland",
        ));
    }
    let Some(area) = case.trial.area_of(home) else {
        return Ok(case.stays(
            StayReason::OutsideTrialAreas,
            act,
            format!(
                "municipality {home} is in no area of trial {}",
                case.trial.id
            ),
        ));
    };
    if !f.registered_as_jobseeker || !f.employment_status.is_unemployed() {
        return Ok(case.stays(
            StayReason::NotAJobseeker,
            act,
            format!(
                "the trial is for unemployed jobseekers (registered: {}, status {:?})",
                f.registered_as_jobseeker, f.employment_status
            ),
        ));
    }
    if case.trial.continues_on_reregistration(area) && f.previously_client_of_area == area.slug {
        return Ok(case.refer(
            area,
            home,
            false,
            vec![Ground::ReRegistration],
            "505/2017 4 §",
        ));
    }
    let age = case.hetu.age_on(case.on);
    let months = f.continuous_unemployment_months;
    let mut grounds = Vec::new();
    let mut push = |cond: bool, g: Ground| {
        if cond {
            grounds.push(g);
        }
    };
    let provision = match case.trial.target_group_of(area) {
        Some("2017-lappi") => {
            push(months >= 12, Ground::LongTermUnemployed);
            "505/2017 3 § (Lappi)"
        }
        Some("2017-pirkanmaa") => {
            push(
                !f.entitled_to_earnings_related_allowance,
                Ground::NoEarningsRelatedAllowance,
            );
            "505/2017 3 § (Pirkanmaa)"
        }
        Some("2017-varsinais-suomi") => {
            push(age < 25, Ground::Under25);
            push(months >= 12, Ground::LongTermUnemployed);
            "505/2017 3 § (Varsinais-Suomi)"
        }
        Some("2017-pohjois-savo") => {
            push(f.needs_multisector_service, Ground::MultiSectorServiceNeed);
            push(months >= 12, Ground::LongTermUnemployed);
            "505/2017 3 § (Pohjois-Savo)"
        }
        Some("2017-satakunta") => {
            push(age < 25 && months >= 6, Ground::Under25);
            push(
                f.labour_market_subsidy_days >= 200,
                Ground::LabourMarketSubsidy200Days,
            );
            "505/2017 3 § (Satakunta)"
        }
        Some("2012") => {
            push(
                (f.unemployment_benefit_days >= 500 && f.needs_municipal_services)
                    || (months >= 12 && f.risk_of_exclusion),
                Ground::LongTermUnemployed,
            );
            "Kuntakokeilu 2012–2015 (long-term unemployed: ≥ 500 benefit days and a need for \
             municipal services, or ≥ 12 months unemployed with a risk of exclusion)"
        }
        other => {
            return Err(FactsError::Field {
                field: "trial",
                reason: format!("no target-group rule {other:?} for area {}", area.slug),
            });
        }
    };
    if grounds.is_empty() {
        return Ok(case.stays(
            StayReason::NotInTargetGroup,
            provision,
            "no target-group ground of the area applies",
        ));
    }
    Ok(case.refer(area, home, false, grounds, provision))
}
