//! Service-process and statement deadlines by date (DOMAIN.md §1.b).
//!
//! - Before 2.5.2022: first interview within 2 weeks of the start of the job search (JTYPL 2:4 §
//!   1 mom, 916/2012), then an interview after every 3 months of unemployment (2:4 § 2 mom,
//!   1456/2016).
//! - From 2.5.2022 (1381/2021, JTYPL as amended by 1379/2021): initial interview within 5 working
//!   days; 5 further job-search discussions within 3 months of it; then one every 3 months; and
//!   2 within one month after every 6 months of unemployment.
//! - Labour-policy statements: within 7 calendar days of receiving the needed information (TEM
//!   decree 153/2021 § 1).
//! - A time limit ending on a day offices are closed ends on the next working day (150/1930 § 5).

use chrono::{Duration, Months, NaiveDate};
use serde::Serialize;

use crate::eligibility::RuleVersion;
use crate::workdays::{add_working_days, deadline_on_working_day};

/// The Nordic service model applies to job searches from this date.
pub fn nordic_model_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 5, 2).unwrap_or(NaiveDate::MIN)
}

/// What must happen by when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The first (before 2.5.2022) or initial (from 2.5.2022) interview.
    InitialInterview,
    /// Further job-search discussions in the first 3 months (from 2.5.2022).
    IntensiveDiscussions,
    /// One discussion every 3 months (periodic interview before 2.5.2022).
    RegularDiscussion,
    /// Two discussions within a month after every 6 months of unemployment (from 2.5.2022).
    HalfYearlyDiscussions,
    /// A labour-policy statement.
    Statement,
}

/// A deadline: `count` events of `kind` due by `due` (inclusive), under `rule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    pub kind: Kind,
    pub due: NaiveDate,
    pub count: u32,
    pub rule: RuleVersion,
}

fn months(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_months(Months::new(n)).unwrap_or(d)
}

/// The first/initial interview for a job search starting on `start`.
pub fn initial_interview(start: NaiveDate) -> Due {
    if start >= nordic_model_from() {
        Due {
            kind: Kind::InitialInterview,
            due: deadline_on_working_day(add_working_days(start, 5)),
            count: 1,
            rule: RuleVersion {
                law: "JTYPL 2:4 as amended by 1379/2021; 1269/2020 8 § as amended by 1381/2021",
                effective_from: nordic_model_from(),
            },
        }
    } else {
        Due {
            kind: Kind::InitialInterview,
            due: deadline_on_working_day(start + Duration::days(14)),
            count: 1,
            rule: RuleVersion {
                law: "JTYPL 2:4 § 1 mom (916/2012)",
                effective_from: NaiveDate::from_ymd_opt(2013, 1, 1).unwrap_or(NaiveDate::MIN),
            },
        }
    }
}

/// Discussions due after an initial interview held on `held`, for a job search that started on
/// `start` (the rule follows the start date).
pub fn after_initial_interview(start: NaiveDate, held: NaiveDate) -> Vec<Due> {
    if start >= nordic_model_from() {
        let rule = RuleVersion {
            law: "JTYPL 2:5 as amended by 1379/2021",
            effective_from: nordic_model_from(),
        };
        vec![
            Due {
                kind: Kind::IntensiveDiscussions,
                due: deadline_on_working_day(months(held, 3)),
                count: 5,
                rule: rule.clone(),
            },
            Due {
                kind: Kind::HalfYearlyDiscussions,
                due: deadline_on_working_day(months(start, 7)),
                count: 2,
                rule,
            },
        ]
    } else {
        vec![regular_after(start, start)]
    }
}

/// The next regular discussion (periodic interview before 2.5.2022) after one held on `last`.
pub fn regular_after(start: NaiveDate, last: NaiveDate) -> Due {
    let law = if start >= nordic_model_from() {
        "JTYPL 2:5 as amended by 1379/2021"
    } else {
        "JTYPL 2:4 § 2 mom as amended by 1456/2016"
    };
    Due {
        kind: Kind::RegularDiscussion,
        due: deadline_on_working_day(months(last, 3)),
        count: 1,
        rule: RuleVersion {
            law,
            effective_from: if start >= nordic_model_from() {
                nordic_model_from()
            } else {
                NaiveDate::from_ymd_opt(2017, 1, 1).unwrap_or(NaiveDate::MIN)
            },
        },
    }
}

/// A labour-policy statement whose information was received on `received`.
pub fn statement(received: NaiveDate) -> Due {
    Due {
        kind: Kind::Statement,
        due: deadline_on_working_day(received + Duration::days(7)),
        count: 1,
        rule: RuleVersion {
            law: "TEM decree 153/2021 § 1",
            effective_from: NaiveDate::from_ymd_opt(2021, 3, 1).unwrap_or(NaiveDate::MIN),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn initial_interview_follows_the_rule_of_the_start_date() {
        // JTYPL 2:4 (916/2012): two weeks; Fri 29.4.2022 + 14 = Fri 13.5.
        assert_eq!(initial_interview(day(2022, 4, 29)).due, day(2022, 5, 13));
        // From 2.5.2022 (1379/2021): 5 working days; Mon 2.5.2022 → Mon 9.5.
        assert_eq!(initial_interview(day(2022, 5, 2)).due, day(2022, 5, 9));
        // Over Midsummer 2024: Wed 19.6 + 5 working days (21.6 and 22.6 closed) → Thu 27.6.
        assert_eq!(initial_interview(day(2024, 6, 19)).due, day(2024, 6, 27));
    }

    #[test]
    fn discussions_after_the_initial_interview() {
        let after = after_initial_interview(day(2024, 9, 2), day(2024, 9, 6));
        assert_eq!(after[0].kind, Kind::IntensiveDiscussions);
        // Three months after 6.9.2024 is Independence Day: the next working day is Mon 9.12.
        assert_eq!((after[0].count, after[0].due), (5, day(2024, 12, 9)));
        assert_eq!(after[1].kind, Kind::HalfYearlyDiscussions);
        assert_eq!(after[1].count, 2);
        let old = after_initial_interview(day(2021, 9, 1), day(2021, 9, 10));
        assert_eq!(old[0].kind, Kind::RegularDiscussion);
        assert_eq!(old[0].due, day(2021, 12, 1));
    }

    #[test]
    fn statements_are_due_in_seven_calendar_days() {
        assert_eq!(statement(day(2024, 9, 2)).due, day(2024, 9, 9));
        // 7 days from 17.12.2024 is Christmas Eve: the next working day is 27.12.
        assert_eq!(statement(day(2024, 12, 17)).due, day(2024, 12, 27));
    }
}
