//! Who is a trial client, and of which area, on a given date (effective-dated).
//!
//! The rule in force on the evaluation date applies:
//! - 2021–2024 (1269/2020 4 §, 5 §, 6 §): home municipality decides; the jobseeker must be in the
//!   jobseeker group of the day and have a ground (no earnings-related allowance, under 30,
//!   immigrant, foreign-language). Amendments: 1.6.2021 (421/2021: any registered jobseeker),
//!   2.5.2022 (1381/2021: also at risk of unemployment within two weeks), 1.1.2023 (671/2022:
//!   change-security training eligible stay with the TE office), 1.3.2023 (149/2023: temporary
//!   protection without a home municipality, by place of residence). A client who re-registers
//!   stays with the same area (6 § 2 mom); the TE office may decline (5 § 3 mom).
//! - 2017–2018 (505/2017 3 §): per-area target groups, referrals until 30.9.2018.
//! - 2012–2015: long-term unemployed (≥ 500 benefit days or ≥ 12 months unemployed).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::hetu::{Hetu, HetuError};
use crate::registry::{Registry, Trial};

/// Employment status in the TE register (codes as in the Helsinki implementation of the group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentStatus {
    /// 02
    #[default]
    Unemployed,
    /// 03
    LaidOff,
    /// 00: working with pay subsidy, state-funded hire or start-up grant (*työllistetty*).
    EmployedSubsidised,
    /// 07: in an employment-promoting service.
    InService,
    /// 08
    InTraining,
    /// 01
    OpenMarketEmployed,
    /// 04
    ShortWorkingWeek,
    /// 05
    OutsideLabourForce,
    /// 06
    UnemploymentPension,
}

/// Why the TE office declines a transfer (5 § 3 mom).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    LinguisticRights,
    InappropriateClientRelationship,
    OtherJustified,
}

/// The facts about a jobseeker that the rules need.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobseekerFacts {
    pub henkilotunnus: String,
    /// Kotikunta; empty or a special code (198/199/200/999) when there is none in Finland.
    pub home_municipality_code: String,
    /// Place of residence (JTYPL 1:9.2), used only for temporary protection.
    pub residence_municipality_code: String,
    pub employment_status: EmploymentStatus,
    pub registered_as_jobseeker: bool,
    pub entitled_to_earnings_related_allowance: bool,
    /// Immigrant as defined in the Integration Act 1386/2010 § 3(3).
    pub immigrant: bool,
    /// ISO 639 code of the mother tongue in the Population Information System.
    pub mother_tongue: String,
    pub at_risk_of_unemployment: bool,
    /// Temporary protection under the Aliens Act 301/2004 § 110.
    pub temporary_protection: bool,
    /// Meets JTYPL 5 a:2(1) items 1–3 (change-security training).
    pub change_security_eligible: bool,
    pub job_search_start_date: Option<NaiveDate>,
    /// Area slug of an earlier client-ship in this trial (re-registration, 6 § 2 mom).
    pub previously_client_of_area: String,
    pub te_office_declines: Option<DeclineReason>,
    /// Continuous unemployment so far (2012 and 2017 rules).
    pub continuous_unemployment_months: u32,
    /// Days of unemployment benefit received (2012 rule).
    pub unemployment_benefit_days: u32,
    /// Days of labour-market subsidy received (2017 Satakunta rule).
    pub labour_market_subsidy_days: u32,
    /// Needs multi-sector joint service, TYP (2017 Pohjois-Savo rule).
    pub needs_multisector_service: bool,
}

/// A ground on which a jobseeker belongs to a target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ground {
    NoEarningsRelatedAllowance,
    Under30,
    Immigrant,
    ForeignLanguage,
    AtRiskOfUnemployment,
    TemporaryProtection,
    ReRegistration,
    LongTermUnemployed,
    Under25,
    MultiSectorServiceNeed,
    LabourMarketSubsidy200Days,
}

/// Why the TE office keeps the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StayReason {
    NoTrialInForce,
    ReferralsClosed,
    NoHomeMunicipality,
    OutsideTrialAreas,
    NotAJobseeker,
    NotInTargetGroup,
    ChangeSecurityEligible,
    TeOfficeDeclined,
}

/// The rule that decided, and since when it is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleVersion {
    pub law: &'static str,
    pub effective_from: NaiveDate,
}

/// Where the client belongs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Referral {
        trial: String,
        area: String,
        /// The municipality that decided (home, or residence for temporary protection).
        municipality: String,
        by_residence: bool,
    },
    StaysWithTeOffice {
        reason: StayReason,
        detail: String,
    },
}

/// The decision with its grounds and rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub date: NaiveDate,
    pub outcome: Outcome,
    pub grounds: Vec<Ground>,
    pub rule: RuleVersion,
}

impl Decision {
    pub fn area(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Referral { area, .. } => Some(area),
            Outcome::StaysWithTeOffice { .. } => None,
        }
    }
}

/// Facts that cannot be evaluated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error("henkilotunnus: {0}")]
    Hetu(#[from] HetuError),
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// The version of 1269/2020's client rule in force on `on`.
pub fn rule_2021(on: NaiveDate) -> RuleVersion {
    let versions = [
        (
            date(2023, 3, 1),
            "1269/2020 4 § as amended by 149/2023 (temporary protection)",
        ),
        (
            date(2023, 1, 1),
            "1269/2020 5 § as amended by 671/2022 (change-security training)",
        ),
        (
            date(2022, 5, 2),
            "1269/2020 4 § as amended by 1381/2021 (at risk of unemployment)",
        ),
        (
            date(2021, 6, 1),
            "1269/2020 4 § as amended by 421/2021 (registered jobseekers)",
        ),
        (date(2021, 3, 1), "1269/2020 4 §"),
    ];
    versions.iter().find(|(from, _)| on >= *from).map_or(
        RuleVersion {
            law: "1269/2020 4 §",
            effective_from: date(2021, 3, 1),
        },
        |(from, law)| RuleVersion {
            law,
            effective_from: *from,
        },
    )
}

fn rule_of(trial: &Trial, on: NaiveDate) -> RuleVersion {
    match trial.id.as_str() {
        "2021" => rule_2021(on),
        "2017" => RuleVersion {
            law: "505/2017 3 §",
            effective_from: trial.starts,
        },
        _ => RuleVersion {
            law: "Kuntakokeilu 2012–2015 (government decision)",
            effective_from: trial.starts,
        },
    }
}

fn is_real_municipality(registry: &Registry, code: &str) -> bool {
    !code.is_empty() && registry.municipality(code).is_some()
}

/// Finnish, Swedish or a Sámi language: not foreign-language (vieraskielinen).
fn domestic_language(code: &str) -> bool {
    matches!(
        code.to_ascii_lowercase().as_str(),
        "fi" | "fin" | "sv" | "swe" | "se" | "sme" | "smn" | "sms" | "sma" | "smi"
    )
}

/// Evaluates `facts` on `on` against the trial in force then.
pub fn evaluate(
    registry: &Registry,
    facts: &JobseekerFacts,
    on: NaiveDate,
) -> Result<Decision, FactsError> {
    let hetu = Hetu::parse(&facts.henkilotunnus)?;
    for (field, code) in [
        ("home_municipality_code", &facts.home_municipality_code),
        (
            "residence_municipality_code",
            &facts.residence_municipality_code,
        ),
    ] {
        if !code.is_empty() && registry.classification_code(code).is_none() {
            return Err(FactsError::Field {
                field,
                reason: "unknown municipality code".into(),
            });
        }
    }
    let stays = |reason, detail: String, rule| Decision {
        date: on,
        outcome: Outcome::StaysWithTeOffice { reason, detail },
        grounds: Vec::new(),
        rule,
    };
    let Some(trial) = registry.trial_in_force(on) else {
        let rule = RuleVersion {
            law: "no employment trial in force",
            effective_from: on,
        };
        return Ok(stays(
            StayReason::NoTrialInForce,
            format!("no trial is in force on {on}"),
            rule,
        ));
    };
    let rule = rule_of(trial, on);
    if !trial.accepts_referrals(on) {
        return Ok(stays(
            StayReason::ReferralsClosed,
            format!(
                "trial {} took no new clients after {:?}",
                trial.id, trial.last_referral
            ),
            rule,
        ));
    }
    let is_2021 = trial.id == "2021";
    let has_home = is_real_municipality(registry, &facts.home_municipality_code);
    let by_residence = is_2021 && on >= date(2023, 3, 1) && facts.temporary_protection && !has_home;
    let municipality = if by_residence {
        facts.residence_municipality_code.clone()
    } else {
        facts.home_municipality_code.clone()
    };
    if !is_real_municipality(registry, &municipality) {
        return Ok(stays(
            StayReason::NoHomeMunicipality,
            "no home municipality in Finland (and no residence rule applies)".into(),
            rule,
        ));
    }
    let Some(area) = trial
        .areas
        .iter()
        .find(|a| a.municipalities.contains(&municipality))
    else {
        return Ok(stays(
            StayReason::OutsideTrialAreas,
            format!(
                "municipality {municipality} is in no area of trial {}",
                trial.id
            ),
            rule,
        ));
    };
    let refer = |grounds: Vec<Ground>| Decision {
        date: on,
        outcome: Outcome::Referral {
            trial: trial.id.clone(),
            area: area.slug.clone(),
            municipality: municipality.clone(),
            by_residence,
        },
        grounds,
        rule: rule.clone(),
    };
    if is_2021 {
        if on >= date(2023, 1, 1) && facts.change_security_eligible {
            return Ok(stays(
                StayReason::ChangeSecurityEligible,
                "eligible for change-security training (JTYPL 5 a:2): not transferred (671/2022)"
                    .into(),
                rule_2021(date(2023, 1, 1)),
            ));
        }
        if let Some(why) = facts.te_office_declines {
            return Ok(stays(
                StayReason::TeOfficeDeclined,
                format!("the TE office declines the transfer ({why:?}, 5 § 3 mom)"),
                rule,
            ));
        }
        if facts.previously_client_of_area == area.slug {
            return Ok(refer(vec![Ground::ReRegistration]));
        }
    }
    let age = hetu.age_on(on);
    let months = facts.continuous_unemployment_months;
    let status = facts.employment_status;
    let unemployed = matches!(
        status,
        EmploymentStatus::Unemployed | EmploymentStatus::LaidOff
    );
    let in_service = status == EmploymentStatus::InService;
    let mut grounds = Vec::new();
    let mut push = |cond: bool, g: Ground| {
        if cond {
            grounds.push(g);
        }
    };
    let is_jobseeker = match trial.target_group_of(area) {
        Some("2021") => {
            let original_group = unemployed
                || matches!(
                    status,
                    EmploymentStatus::EmployedSubsidised
                        | EmploymentStatus::InService
                        | EmploymentStatus::InTraining
                );
            let at_risk = on >= date(2022, 5, 2) && facts.at_risk_of_unemployment;
            let jobseeker = if on >= date(2021, 6, 1) {
                facts.registered_as_jobseeker || original_group || at_risk
            } else {
                original_group
            };
            push(at_risk, Ground::AtRiskOfUnemployment);
            push(by_residence, Ground::TemporaryProtection);
            push(
                !facts.entitled_to_earnings_related_allowance,
                Ground::NoEarningsRelatedAllowance,
            );
            push(age < 30, Ground::Under30);
            push(facts.immigrant, Ground::Immigrant);
            push(
                !facts.mother_tongue.is_empty() && !domestic_language(&facts.mother_tongue),
                Ground::ForeignLanguage,
            );
            jobseeker
        }
        Some("2017-lappi") => {
            push(months >= 12 && !in_service, Ground::LongTermUnemployed);
            unemployed
        }
        Some("2017-pirkanmaa") => {
            push(
                !facts.entitled_to_earnings_related_allowance,
                Ground::NoEarningsRelatedAllowance,
            );
            unemployed
        }
        Some("2017-varsinais-suomi") => {
            push(age < 25, Ground::Under25);
            push(months >= 12, Ground::LongTermUnemployed);
            unemployed
        }
        Some("2017-pohjois-savo") => {
            push(
                facts.needs_multisector_service,
                Ground::MultiSectorServiceNeed,
            );
            push(months >= 12 && !in_service, Ground::LongTermUnemployed);
            unemployed
        }
        Some("2017-satakunta") => {
            push(age < 25 && months >= 6 && !in_service, Ground::Under25);
            push(
                facts.labour_market_subsidy_days >= 200,
                Ground::LabourMarketSubsidy200Days,
            );
            unemployed
        }
        Some("2012") => {
            push(
                facts.unemployment_benefit_days >= 500 || months >= 12,
                Ground::LongTermUnemployed,
            );
            unemployed
        }
        other => {
            return Err(FactsError::Field {
                field: "trial",
                reason: format!("no target-group rule {other:?} for area {}", area.slug),
            });
        }
    };
    if !is_jobseeker {
        return Ok(stays(
            StayReason::NotAJobseeker,
            format!("employment status {status:?} is outside the trial's jobseeker group on {on}"),
            rule,
        ));
    }
    // At risk of unemployment and temporary protection widen who is a jobseeker or where they
    // belong; a ground of the target group is still needed.
    let qualifying = grounds.iter().any(|g| {
        !matches!(
            g,
            Ground::AtRiskOfUnemployment | Ground::TemporaryProtection
        )
    });
    if !qualifying {
        return Ok(stays(
            StayReason::NotInTargetGroup,
            "no target-group ground applies".into(),
            rule,
        ));
    }
    Ok(refer(grounds))
}
