//! Declared grounds checked by date: a referral that declares its target-group grounds instead of
//! giving the facts is still held to the rule in force on the referral date. Each ground of the
//! 2021–2024 trial entered into force on its own day:
//!
//! - no earnings-related allowance, under 30, immigrant, foreign-language: 1.3.2021
//!   (1269/2020 4 § 1 mom);
//! - at risk of becoming unemployed within two weeks: 2.5.2022 (1381/2021, 4 § 1 mom as amended);
//! - temporary protection (by place of residence): 1.3.2023 (149/2023, 4 § 2 mom as amended).
//!
//! A ground declared before its day is refused with that day and the act; the rules here never
//! guess the facts behind a declaration.

use std::fmt;

use chrono::NaiveDate;

use super::Ground;
use crate::rule::date;

/// The first day of the 2021–2024 trial (1269/2020 in force 1.3.2021).
pub fn trial_start() -> NaiveDate {
    date(2021, 3, 1)
}

/// When a declarable ground entered into force, and by which act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InForce {
    pub from: NaiveDate,
    /// The act (and section) that made it a ground.
    pub act: &'static str,
}

/// Since when `ground` may be declared in a 2021–2024 trial referral; `None` for grounds of
/// other trials (they cannot be declared for this one).
pub fn in_force(ground: Ground) -> Option<InForce> {
    Some(match ground {
        Ground::NoEarningsRelatedAllowance
        | Ground::Under30
        | Ground::Immigrant
        | Ground::ForeignLanguage => InForce {
            from: trial_start(),
            act: "1269/2020 4 §",
        },
        Ground::AtRiskOfUnemployment => InForce {
            from: date(2022, 5, 2),
            act: "1381/2021",
        },
        Ground::TemporaryProtection => InForce {
            from: date(2023, 3, 1),
            act: "149/2023",
        },
        Ground::ReRegistration
        | Ground::LongTermUnemployed
        | Ground::Under25
        | Ground::MultiSectorServiceNeed
        | Ground::LabourMarketSubsidy200Days => return None,
    })
}

/// A declared ground that is no ground on the referral date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotInForce {
    pub ground: Ground,
    pub on: NaiveDate,
    /// `None`: not a ground of the 2021–2024 trial at all.
    pub in_force: Option<InForce>,
}

fn name(g: Ground) -> String {
    serde_json::to_value(g)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl fmt::Display for NotInForce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ground = name(self.ground);
        match self.in_force {
            Some(InForce { from, act }) => write!(
                f,
                "{ground} is a target-group ground only from {from} ({act}); not on {}",
                self.on
            ),
            None => write!(
                f,
                "{ground} is not a target-group ground of the 2021–2024 trial (1269/2020 4 §)"
            ),
        }
    }
}

/// The declared grounds that are not grounds on `on`, in the order given.
pub fn not_in_force(grounds: &[Ground], on: NaiveDate) -> Vec<NotInForce> {
    grounds
        .iter()
        .filter_map(|&ground| {
            let in_force = in_force(ground);
            match in_force {
                Some(f) if on >= f.from => None,
                _ => Some(NotInForce {
                    ground,
                    on,
                    in_force,
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ground_from_its_own_day() {
        let table = [
            // (ground, last day refused, first day accepted)
            (Ground::Under30, date(2021, 2, 28), date(2021, 3, 1)),
            (Ground::Immigrant, date(2021, 2, 28), date(2021, 3, 1)),
            (Ground::ForeignLanguage, date(2021, 2, 28), date(2021, 3, 1)),
            (
                Ground::NoEarningsRelatedAllowance,
                date(2021, 2, 28),
                date(2021, 3, 1),
            ),
            (
                Ground::AtRiskOfUnemployment,
                date(2022, 5, 1),
                date(2022, 5, 2),
            ),
            (
                Ground::TemporaryProtection,
                date(2023, 2, 28),
                date(2023, 3, 1),
            ),
        ];
        for (ground, refused, accepted) in table {
            assert_eq!(not_in_force(&[ground], refused).len(), 1, "{ground:?}");
            assert_eq!(not_in_force(&[ground], accepted), [], "{ground:?}");
        }
    }

    #[test]
    fn the_reason_names_the_ground_the_day_and_the_act() {
        let problems = not_in_force(
            &[
                Ground::Under30,
                Ground::AtRiskOfUnemployment,
                Ground::TemporaryProtection,
            ],
            date(2022, 1, 10),
        );
        let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "at_risk_of_unemployment is a target-group ground only from 2022-05-02 \
                 (1381/2021); not on 2022-01-10",
                "temporary_protection is a target-group ground only from 2023-03-01 \
                 (149/2023); not on 2022-01-10",
            ]
        );
    }

    #[test]
    fn grounds_of_other_trials_are_never_declarable() {
        let p = not_in_force(&[Ground::LongTermUnemployed], date(2024, 1, 1));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].in_force, None);
        assert!(p[0].to_string().contains("not a target-group ground"));
    }
}
