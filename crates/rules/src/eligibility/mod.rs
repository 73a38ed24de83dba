//! Who is a trial client, and of which area, on a given date (effective-dated).
//!
//! The TE office must transfer every person of the target group to the trial municipality
//! (1269/2020 5 §); this module answers, for the facts about one jobseeker and one date, whether
//! the person belongs to a trial area then, on which grounds, and under which version of the law.
//! The trial generation in force on the date decides the rule:
//!
//! - 2021–2024 ([`rule_2021`](mod@rule_2021)): 1269/2020 4 §, 5 § and 6 § with the amendments of 1.6.2021
//!   (421/2021), 2.5.2022 (1381/2021), 1.1.2023 (671/2022) and 1.3.2023 (149/2023);
//! - 2017–2018 (`historical.rs`): 505/2017 3 § with its per-area target groups, referrals until
//!   30.9.2018;
//! - 2012–2015 (`historical.rs`): long-term unemployed (≥ 500 benefit days or ≥ 12 months).
//!
//! The home municipality (*kotikunta*, Home Municipality Act 201/1994) decides, never the place of
//! residence — except for temporary-protection holders without a home municipality from 1.3.2023.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

use crate::hetu::{Hetu, HetuError};
use crate::registry::{Area, Registry, Trial};
pub use crate::rule::RuleVersion;

pub mod declared;
mod historical;
pub mod rule_2021;

pub use rule_2021::rule_2021;

/// The target-group rules this module implements; a trial or area in `data/trials.toml` must
/// name one of them.
pub const TARGET_GROUP_RULES: &[&str] = &[
    "2021",
    "2017-lappi",
    "2017-pirkanmaa",
    "2017-pohjois-savo",
    "2017-varsinais-suomi",
    "2017-satakunta",
    "2012",
];

/// Employment status in the TE register (codes as in the Helsinki implementation of the group,
/// DOMAIN.md § 1.a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentStatus {
    /// 02 unemployed.
    #[default]
    Unemployed,
    /// 03 laid off (fully laid off persons count as unemployed, 1269/2020 2 § 1 kohta).
    LaidOff,
    /// 00 working with pay subsidy, state-funded hire or start-up grant (*työllistetty*, 2 § 6 k).
    EmployedSubsidised,
    /// 07 in an employment-promoting service (2 § 5 kohta).
    InService,
    /// 08 in training (labour-market training or supported self-motivated study: services too).
    InTraining,
    /// 01 employed on the open market.
    OpenMarketEmployed,
    /// 04 short working week.
    ShortWorkingWeek,
    /// 05 outside the labour force.
    OutsideLabourForce,
    /// 06 unemployment pension.
    UnemploymentPension,
}

impl EmploymentStatus {
    /// Unemployed in the sense of 1269/2020 2 § 1 kohta (incl. fully laid off).
    pub fn is_unemployed(self) -> bool {
        matches!(self, Self::Unemployed | Self::LaidOff)
    }
}

/// Why the TE office declines a transfer (1269/2020 5 § 3 mom).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    LinguisticRights,
    InappropriateClientRelationship,
    OtherJustified,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The facts about a jobseeker that the rules need (JSON: snake_case; missing or `null` fields
/// take their defaults; unknown fields are refused).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobseekerFacts {
    /// The full henkilötunnus (JSON also accepts `hetu`). Personal data: never log the facts.
    #[serde(alias = "hetu", deserialize_with = "null_as_default")]
    pub henkilotunnus: String,
    /// Kotikunta; empty or a special code (198/199/200/999) when there is none in Finland.
    #[serde(deserialize_with = "null_as_default")]
    pub home_municipality_code: String,
    /// Place of residence (JTYPL 1:9.2); decides only for temporary protection (149/2023).
    #[serde(deserialize_with = "null_as_default")]
    pub residence_municipality_code: String,
    pub employment_status: EmploymentStatus,
    /// The job search is valid (JTYPL 2:1): the person is a jobseeker at all.
    pub registered_as_jobseeker: bool,
    /// The job search was registered as an *unemployed* jobseeker (4 § 2 mom before 1.6.2021 and
    /// from 2.5.2022). `None`: assumed `true` — a jobseeker of the 4 § 1 mom groups normally
    /// registered as unemployed before entering a service or a subsidised job; give `false` for a
    /// job search registered while already in a service or subsidised job.
    pub registered_as_unemployed: Option<bool>,
    pub entitled_to_earnings_related_allowance: bool,
    /// Immigrant as defined in the Integration Act 1386/2010 § 3(3).
    pub immigrant: bool,
    /// ISO 639 code of the mother tongue in the Population Information System ("fi", "sv", "se",
    /// "ru", …); empty when not recorded.
    #[serde(deserialize_with = "null_as_default")]
    pub mother_tongue: String,
    /// A jobseeker at risk of becoming unemployed within two weeks (1381/2021).
    pub at_risk_of_unemployment: bool,
    /// Residence permit on temporary protection under the Aliens Act 301/2004 § 110.
    pub temporary_protection: bool,
    /// Meets JTYPL 5 a:2(1) items 1–3 (change-security training).
    pub change_security_eligible: bool,
    pub job_search_start_date: Option<NaiveDate>,
    /// Area slug of an earlier client-ship in this trial (re-registration, 6 § 2 mom).
    #[serde(deserialize_with = "null_as_default")]
    pub previously_client_of_area: String,
    pub te_office_declines: Option<DeclineReason>,
    /// Continuous unemployment so far, in months (2012 and 2017 rules). A service interrupts
    /// continuous unemployment, so ≥ 12 months also means "not in services during that time".
    pub continuous_unemployment_months: u32,
    /// Days of unemployment benefit received (2012 rule).
    pub unemployment_benefit_days: u32,
    /// Days of labour-market subsidy received (2017 Satakunta rule).
    pub labour_market_subsidy_days: u32,
    /// Needs multi-sector joint service, TYP (2017 Pohjois-Savo rule).
    pub needs_multisector_service: bool,
    /// Needs municipal services besides employment services, as jointly assessed by the TE
    /// office and the municipality (2012–2015 rule, with ≥ 500 benefit days).
    pub needs_municipal_services: bool,
    /// At risk of social exclusion, as assessed (2012–2015 rule, with ≥ 12 months of
    /// continuous unemployment).
    pub risk_of_exclusion: bool,
}

/// A ground on which a jobseeker belongs to a target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ground {
    /// 1269/2020 4 § 1 mom 1 k; 505/2017 3 § (Pirkanmaa).
    NoEarningsRelatedAllowance,
    /// 1269/2020 4 § 1 mom 2 k.
    Under30,
    /// 1269/2020 4 § 1 mom 2 k.
    Immigrant,
    /// 1269/2020 4 § 1 mom 2 k (mother tongue other than Finnish, Swedish or Sámi).
    ForeignLanguage,
    /// The group of 4 § 1 mom as amended by 1381/2021 (describes the person; not a 1–2 k ground).
    AtRiskOfUnemployment,
    /// 4 § 2 mom as amended by 149/2023: a client by place of residence without a further ground.
    TemporaryProtection,
    /// 6 § 2 mom (505/2017 4 §): client-ship continues on re-registration.
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
    /// Not a jobseeker of the trial's groups on the date (status or registration).
    NotAJobseeker,
    NotInTargetGroup,
    ChangeSecurityEligible,
    TeOfficeDeclined,
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
    /// The version of the client rule in force on `date`.
    pub rule: RuleVersion,
    /// The provision that decided, e.g. "1269/2020 6 § 2 mom".
    pub provision: &'static str,
}

impl Decision {
    /// The area slug of a referral.
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

/// What a rule needs to decide: the validated facts, the date and the trial in force.
pub(crate) struct Case<'a> {
    pub facts: &'a JobseekerFacts,
    pub hetu: Hetu,
    pub on: NaiveDate,
    pub registry: &'a Registry,
    pub trial: &'a Trial,
    pub rule: RuleVersion,
}

impl Case<'_> {
    pub fn stays(
        &self,
        reason: StayReason,
        provision: &'static str,
        detail: impl Into<String>,
    ) -> Decision {
        Decision {
            date: self.on,
            outcome: Outcome::StaysWithTeOffice {
                reason,
                detail: detail.into(),
            },
            grounds: Vec::new(),
            rule: self.rule.clone(),
            provision,
        }
    }

    pub fn refer(
        &self,
        area: &Area,
        municipality: &str,
        by_residence: bool,
        grounds: Vec<Ground>,
        provision: &'static str,
    ) -> Decision {
        Decision {
            date: self.on,
            outcome: Outcome::Referral {
                trial: self.trial.id.clone(),
                area: area.slug.clone(),
                municipality: municipality.to_owned(),
                by_residence,
            },
            grounds,
            rule: self.rule.clone(),
            provision,
        }
    }

    /// A real municipality (not empty, not a special code).
    pub fn is_municipality(&self, code: &str) -> bool {
        !code.is_empty() && self.registry.municipality(code).is_some()
    }
}

/// Finnish, Swedish or a Sámi language: not foreign-language (1269/2020 2 § 3 kohta). Accepts
/// ISO 639-1/-2/-3 codes and language tags ("sv-FI").
pub fn domestic_language(code: &str) -> bool {
    let primary = code
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(
        primary.as_str(),
        "fi" | "fin" | "sv" | "swe" | "se" | "sme" | "smn" | "sms" | "sma" | "smj" | "smi"
    )
}

/// Evaluates `facts` on `on` against the trial generation in force then.
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
    let Some(trial) = registry.trial_in_force(on) else {
        return Ok(Decision {
            date: on,
            outcome: Outcome::StaysWithTeOffice {
                reason: StayReason::NoTrialInForce,
                detail: format!("no employment trial is in force on {on}"),
            },
            grounds: Vec::new(),
            rule: RuleVersion::new("no employment trial in force", on),
            provision: "no employment trial in force",
        });
    };
    let rule = match trial.target_group.as_deref() {
        Some("2021") => rule_2021(on),
        _ => historical::rule(trial),
    };
    let case = Case {
        facts,
        hetu,
        on,
        registry,
        trial,
        rule,
    };
    if !trial.accepts_referrals(on) {
        let last = trial
            .last_referral
            .map_or_else(String::new, |d| d.to_string());
        return Ok(case.stays(
            StayReason::ReferralsClosed,
            case.rule.law,
            format!("trial {} took no new clients after {last}", trial.id),
        ));
    }
    match trial.target_group.as_deref() {
        Some("2021") => Ok(rule_2021::evaluate(&case)),
        _ => historical::evaluate(&case),
    }
}
