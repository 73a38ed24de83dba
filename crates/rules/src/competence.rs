//! Which labour-policy statements a trial municipality may issue on a date (DOMAIN.md §1.c).
//! Subjects the municipality is not competent for stay with the TE office, to which the
//! municipality sends the facts (1269/2020 20 §).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::eligibility::RuleVersion;

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
    /// Matters of the TE customer service centre (TTL 11:4.2).
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
    Municipality,
    TeOffice,
    CustomerServiceCentre,
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

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// Competence for `subject` on `date`. Outside the 2021–2024 trial nothing is municipal.
pub fn competence(subject: StatementSubject, date: NaiveDate) -> Competence {
    use StatementSubject as S;
    let in_trial = date >= day(2021, 3, 1) && date <= day(2024, 12, 31);
    let (from, law, municipal, optional) = match subject {
        S::ParticipationInService | S::SelfMotivatedStudy | S::ImmigrantSupportedStudy => {
            (day(2021, 3, 1), "1269/2020 12 §", true, false)
        }
        S::LabourMarketTraining => (
            day(2021, 3, 1),
            "1269/2020 12 §; 421/2021 12 a § 3 kohta",
            false,
            false,
        ),
        S::GeneralConditions => (
            day(2021, 10, 2),
            "421/2021 12 a § 1 mom 1 kohta",
            true,
            false,
        ),
        S::BusinessOrShortStudies => (
            day(2021, 10, 2),
            "421/2021 12 a § 2 kohta; 1133/2022",
            true,
            false,
        ),
        S::BenefitRestoration => (day(2022, 7, 11), "682/2022", true, false),
        S::CertainStudies => (day(2022, 7, 11), "682/2022; 1133/2022", true, true),
        S::JobSearchInEuState => (day(2022, 7, 11), "682/2022 12 b §", true, false),
        S::CustomerServiceCentre => (
            day(2021, 3, 1),
            "421/2021 12 a § (TTL 11:4.2)",
            false,
            false,
        ),
        S::Other => (day(2021, 3, 1), "1269/2020 20 §", false, false),
    };
    let municipality = municipal && in_trial && date >= from;
    let issuer = if municipality {
        Issuer::Municipality
    } else if subject == S::CustomerServiceCentre {
        Issuer::CustomerServiceCentre
    } else {
        Issuer::TeOffice
    };
    Competence {
        subject,
        date,
        issuer,
        optional_for_municipality: municipality && optional,
        te_office_may_also_issue: municipality && date >= day(2023, 12, 1),
        rule: RuleVersion {
            law: if municipality || !municipal {
                law
            } else {
                "before the municipal competence began"
            },
            effective_from: if municipality {
                from
            } else {
                day(2021, 3, 1).min(date)
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn competence_moves_to_the_municipality_on_the_amendment_dates() {
        use StatementSubject as S;
        let cases = [
            (
                S::ParticipationInService,
                day(2021, 3, 1),
                Issuer::Municipality,
                "1269/2020 12 §",
            ),
            (
                S::LabourMarketTraining,
                day(2022, 1, 3),
                Issuer::TeOffice,
                "1269/2020 12 §",
            ),
            (
                S::GeneralConditions,
                day(2021, 10, 1),
                Issuer::TeOffice,
                "421/2021 12 a §, before 2.10.2021",
            ),
            (
                S::GeneralConditions,
                day(2021, 10, 2),
                Issuer::Municipality,
                "421/2021 12 a §",
            ),
            (
                S::BenefitRestoration,
                day(2022, 7, 10),
                Issuer::TeOffice,
                "682/2022, before 11.7.2022",
            ),
            (
                S::BenefitRestoration,
                day(2022, 7, 11),
                Issuer::Municipality,
                "682/2022",
            ),
            (
                S::JobSearchInEuState,
                day(2022, 7, 11),
                Issuer::Municipality,
                "682/2022 12 b §",
            ),
            (
                S::CustomerServiceCentre,
                day(2023, 1, 2),
                Issuer::CustomerServiceCentre,
                "421/2021 12 a §",
            ),
            (
                S::Other,
                day(2023, 1, 2),
                Issuer::TeOffice,
                "1269/2020 20 §",
            ),
            (
                S::ParticipationInService,
                day(2025, 1, 2),
                Issuer::TeOffice,
                "trial over",
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
    fn optional_and_concurrent_competence() {
        let c = competence(StatementSubject::CertainStudies, day(2022, 8, 1));
        assert!(c.optional_for_municipality);
        assert!(!c.te_office_may_also_issue);
        let c = competence(StatementSubject::GeneralConditions, day(2023, 12, 1));
        assert!(c.te_office_may_also_issue, "1001/2023");
    }
}
