//! Which labour-policy statements a trial municipality may issue on a date (DOMAIN.md § 1.c).
//!
//! A labour-policy statement binds Kela or the unemployment fund, so a statement from an issuer
//! without competence on its date is a defect AVI may act on. The competence moved to the trial
//! municipality subject by subject:
//!
//! - 1.3.2021 (1269/2020 12 §): participation in services and whether they are in the plan (not
//!   labour-market training), interrupted studies and self-motivated study, immigrants' study;
//! - 1.6.2021 (421/2021): the same moved to 12 a § 1 mom 3–5 kohta;
//! - 2.10.2021 (421/2021 12 a § 1 mom 1–2 kohta): general labour-policy conditions of benefit,
//!   TTL 2:5 a and 2:10 a (reference updated by 1133/2022 from 1.1.2023);
//! - 11.7.2022 (682/2022): restoration of benefit, optionally certain studies, and 12 b § job search
//!   in another EU state;
//! - 1.12.2023 (1001/2023 12 a § 4 mom): the TE office may also issue any statement on a client.
//!
//! The TE customer service centre keeps its statements (TTL 11:4.2; 12 a § 2 mom); everything
//! else stays with the TE office, to which the municipality sends the facts (20 §). Outside the
//! trial (before 1.3.2021, the TE office; from 1.1.2025 the municipal employment authority of
//! 380/2023) there is no trial competence at all.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::rule::{RuleVersion, date};

/// The subject of a labour-policy statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementSubject {
    /// Participation in an employment-promoting service and whether it is in the plan.
    ParticipationInService,
    /// Participation in labour-market training (työvoimakoulutus).
    LabourMarketTraining,
    /// Interruption of studies; self-motivated study with unemployment benefit (JTYPL 6:3.2, 6:5–7).
    SelfMotivatedStudy,
    /// Immigrants' supported study (Integration Act 25 §).
    ImmigrantSupportedStudy,
    /// General labour-policy conditions of benefit (TTL 2:1, 2:2, 2:4.1, 2:13.4).
    GeneralConditions,
    /// Starting a business while unemployed (TTL 2:5 a) and short studies (2:10 a / 10 b).
    BusinessOrShortStudies,
    /// Restoration of benefit (TTL 2:16.1; 2 a:10.2–3).
    BenefitRestoration,
    /// Certain studies (TTL 2:10.2 items; short courses): optional for the municipality.
    CertainStudies,
    /// Leaving to seek work in another EU state (Reg. 883/2004 art. 64; TTL 11:4 a).
    JobSearchInEuState,
    /// Matters of the TE customer service centre (TTL 11:4.2; 1269/2020 12 a § 2 mom).
    CustomerServiceCentre,
    /// Any other TTL condition.
    Other,
}

impl StatementSubject {
    pub const ALL: [StatementSubject; 11] = [
        Self::ParticipationInService,
        Self::LabourMarketTraining,
        Self::SelfMotivatedStudy,
        Self::ImmigrantSupportedStudy,
        Self::GeneralConditions,
        Self::BusinessOrShortStudies,
        Self::BenefitRestoration,
        Self::CertainStudies,
        Self::JobSearchInEuState,
        Self::CustomerServiceCentre,
        Self::Other,
    ];
}

/// Who issues a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Issuer {
    /// The trial municipality.
    Municipality,
    TeOffice,
    /// The state's TE customer service centre (*työ- ja elinkeinohallinnon asiakaspalvelukeskus*).
    StateCustomerServiceCentre,
    /// After the trial: the employment authority of the permanent law (380/2023), from 1.1.2025.
    EmploymentAuthority,
}

/// The answer for one subject on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Competence {
    pub subject: StatementSubject,
    pub date: NaiveDate,
    pub issuer: Issuer,
    /// The municipality may, but need not, issue it (682/2022).
    pub optional_for_municipality: bool,
    /// From 1.12.2023 the TE office may also issue any statement on a trial client (1001/2023).
    pub te_office_may_also_issue: bool,
    pub rule: RuleVersion,
}

/// One version of the competence for a subject: from when, under which provision, who.
struct Version {
    from: NaiveDate,
    law: &'static str,
    issuer: Issuer,
    optional: bool,
}

fn v(from: NaiveDate, law: &'static str, issuer: Issuer) -> Version {
    Version {
        from,
        law,
        issuer,
        optional: false,
    }
}

fn trial_start() -> NaiveDate {
    date(2021, 3, 1)
}

fn trial_end() -> NaiveDate {
    date(2024, 12, 31)
}

/// The versions of the competence for `subject`, oldest first, within the trial period.
fn versions(subject: StatementSubject) -> Vec<Version> {
    use Issuer::{Municipality as M, StateCustomerServiceCentre as C, TeOffice as T};
    use StatementSubject as S;
    let (start, june, october) = (trial_start(), date(2021, 6, 1), date(2021, 10, 2));
    let (july22, jan23) = (date(2022, 7, 11), date(2023, 1, 1));
    let with_te = "1269/2020 20 § (the TE office; the municipality sends the facts)";
    match subject {
        S::ParticipationInService => vec![
            v(start, "1269/2020 12 § 2 mom 1 kohta", M),
            v(june, "1269/2020 12 a § 1 mom 3 kohta (421/2021)", M),
        ],
        S::LabourMarketTraining => vec![
            v(
                start,
                "1269/2020 12 § 2 mom 1 kohta (labour-market training excepted)",
                T,
            ),
            v(
                june,
                "1269/2020 12 a § 1 mom 3 kohta (421/2021; labour-market training excepted)",
                T,
            ),
        ],
        S::SelfMotivatedStudy => vec![
            v(start, "1269/2020 12 §", M),
            v(june, "1269/2020 12 a § 1 mom 4 kohta (421/2021)", M),
        ],
        S::ImmigrantSupportedStudy => vec![
            v(start, "1269/2020 12 §", M),
            v(june, "1269/2020 12 a § 1 mom 5 kohta (421/2021)", M),
        ],
        S::GeneralConditions => vec![
            v(start, with_te, T),
            v(october, "1269/2020 12 a § 1 mom 1 kohta (421/2021)", M),
        ],
        S::BusinessOrShortStudies => vec![
            v(start, with_te, T),
            v(october, "1269/2020 12 a § 1 mom 2 kohta (421/2021)", M),
            v(
                jan23,
                "1269/2020 12 a § 1 mom 2 kohta as amended by 1133/2022",
                M,
            ),
        ],
        S::BenefitRestoration => vec![
            v(start, with_te, T),
            v(
                july22,
                "1269/2020 12 a § as amended by 682/2022 (TTL 2:16.1; 2 a:10.2–3)",
                M,
            ),
        ],
        S::CertainStudies => vec![
            v(start, with_te, T),
            Version {
                optional: true,
                ..v(
                    july22,
                    "1269/2020 12 a § as amended by 682/2022 (optional)",
                    M,
                )
            },
            Version {
                optional: true,
                ..v(
                    jan23,
                    "1269/2020 12 a § as amended by 682/2022 and 1133/2022 (optional)",
                    M,
                )
            },
        ],
        S::JobSearchInEuState => vec![
            v(start, with_te, T),
            v(july22, "1269/2020 12 b § (682/2022)", M),
        ],
        S::CustomerServiceCentre => vec![
            v(start, "TTL 11:4.2", C),
            v(june, "1269/2020 12 a § 2 mom (421/2021); TTL 11:4.2", C),
        ],
        S::Other => vec![v(start, with_te, T)],
    }
}

/// Competence for `subject` on `date`. Outside the 2021–2024 trial nothing is municipal.
pub fn competence(subject: StatementSubject, date: NaiveDate) -> Competence {
    let outside = |issuer, law, from| Competence {
        subject,
        date,
        issuer,
        optional_for_municipality: false,
        te_office_may_also_issue: false,
        rule: RuleVersion::new(law, from),
    };
    if date < trial_start() {
        let issuer = if subject == StatementSubject::CustomerServiceCentre {
            Issuer::StateCustomerServiceCentre
        } else {
            Issuer::TeOffice
        };
        return outside(
            issuer,
            "TTL 1:4.3 (1269/2020 not yet in force)",
            self::date(2003, 1, 1),
        );
    }
    if date > trial_end() {
        return outside(
            Issuer::EmploymentAuthority,
            "380/2023 (the trial ended on 31.12.2024)",
            self::date(2025, 1, 1),
        );
    }
    let all = versions(subject);
    let Some(version) = all.iter().rev().find(|v| v.from <= date) else {
        return outside(Issuer::TeOffice, "1269/2020 20 §", trial_start());
    };
    let municipal = version.issuer == Issuer::Municipality;
    Competence {
        subject,
        date,
        issuer: version.issuer,
        optional_for_municipality: municipal && version.optional,
        te_office_may_also_issue: municipal && date >= self::date(2023, 12, 1),
        rule: RuleVersion::new(version.law, version.from),
    }
}
