//! Service-process and statement deadlines by date (DOMAIN.md § 1.b). The trial municipality runs
//! the jobseeker's service process under the general JTYPL rules (1269/2020 8 §), and AVI checks
//! whether it met them, so every due date names the rule version it follows.
//!
//! - Job searches starting before 2.5.2022: first interview within **2 weeks** of the start of the
//!   job search (JTYPL 2:4 § 1 mom, 916/2012), then an interview after every **3 months** of
//!   continuous unemployment (2:4 § 2 mom as amended by 1456/2016).
//! - From 2.5.2022 (1381/2021; JTYPL as amended by 1379/2021): initial interview within **5 working
//!   days** of the start of the job search; **5** further job-search discussions within 3 months of
//!   it (4 if a supplementary discussion came first); then one every **3 months**; and **2** within
//!   one month after every 6 months of unemployment. A new initial interview only if ≥ 6 months
//!   have passed since the previous job search ended.
//! - Transition (1381/2021, entry-into-force provision 3–4 mom): for job searches registered before
//!   2.5.2022, the first new-model discussion is due 3 months after the last old-model interview,
//!   and the half-yearly pair once unemployment has lasted 6 months.
//! - From 1.1.2025 the permanent law keeps 5 working days (380/2023 31 §).
//! - Labour-policy statements: within **7 calendar days** of receiving the needed information
//!   (TEM decree 153/2021 § 1).
//!
//! The rule follows the start date of the job search (the transition: the due date). A due date
//! on a day offices are closed moves to the next working day (150/1930 § 5, see [`workdays`]).
//! Calendar months are added with chrono's month arithmetic (31.1 + 1 month = 28/29.2).
//!
//! [`workdays`]: crate::workdays

use chrono::{Days, Months, NaiveDate};
use serde::Serialize;

use crate::rule::{RuleVersion, date};
use crate::workdays::{add_working_days, deadline_on_working_day};

/// The Nordic service model applies to job searches from this date (1381/2021).
pub fn nordic_model_from() -> NaiveDate {
    date(2022, 5, 2)
}

/// The permanent law (380/2023) applies from this date.
pub fn permanent_law_from() -> NaiveDate {
    date(2025, 1, 1)
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
    /// Set when the due date rests on an interpretation rather than the letter of the law: the
    /// text says which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<&'static str>,
}

fn months(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_months(Months::new(n))
        .unwrap_or(NaiveDate::MAX)
}

fn nordic(start: NaiveDate) -> bool {
    start >= nordic_model_from()
}

const NORDIC_DISCUSSIONS: &str = "JTYPL 2:5 as amended by 1379/2021; 1269/2020 8 § (1381/2021)";

/// The first/initial interview for a job search starting on `start`.
pub fn initial_interview(start: NaiveDate) -> Due {
    let (due, rule) = if start >= permanent_law_from() {
        (
            add_working_days(start, 5),
            RuleVersion::new("380/2023 31 §", permanent_law_from()),
        )
    } else if nordic(start) {
        (
            add_working_days(start, 5),
            RuleVersion::new(
                "JTYPL 2:4 as amended by 1379/2021; 1269/2020 8 § as amended by 1381/2021",
                nordic_model_from(),
            ),
        )
    } else {
        (
            deadline_on_working_day(start.checked_add_days(Days::new(14)).unwrap_or(start)),
            RuleVersion::new("JTYPL 2:4 § 1 mom (916/2012)", date(2013, 1, 1)),
        )
    };
    Due {
        kind: Kind::InitialInterview,
        due,
        count: 1,
        rule,
        interpretation: None,
    }
}

/// Whether a job search starting on `start` needs a new initial interview, given when the
/// previous job search ended: from 2.5.2022 only if at least 6 months have passed (JTYPL as
/// amended by 1379/2021); before, every job search began with an interview.
pub fn initial_interview_required(
    start: NaiveDate,
    previous_job_search_ended: Option<NaiveDate>,
) -> bool {
    match previous_job_search_ended {
        Some(ended) if nordic(start) => months(ended, 6) <= start,
        _ => true,
    }
}

/// Discussions due after an initial interview held on `held`, for a job search that started on
/// `start` (the rule follows the start date). Assumes no supplementary discussion preceded the
/// initial interview; see [`after_initial_interview_with`].
pub fn after_initial_interview(start: NaiveDate, held: NaiveDate) -> Vec<Due> {
    after_initial_interview_with(start, held, false)
}

/// As [`after_initial_interview`]; `supplementary_first`: a supplementary job-search discussion
/// was held before the initial interview, which leaves 4 discussions for the first 3 months.
pub fn after_initial_interview_with(
    start: NaiveDate,
    held: NaiveDate,
    supplementary_first: bool,
) -> Vec<Due> {
    if !nordic(start) {
        // JTYPL 2:4 § 2 mom (1456/2016): after every 3 months of continuous unemployment,
        // counted from the start of the job search, not from the interview.
        return vec![regular_after(start, start)];
    }
    let rule = RuleVersion::new(NORDIC_DISCUSSIONS, nordic_model_from());
    let mut due = vec![Due {
        kind: Kind::IntensiveDiscussions,
        due: deadline_on_working_day(months(held, 3)),
        count: if supplementary_first { 4 } else { 5 },
        rule,
        interpretation: None,
    }];
    due.extend(half_yearly(start, 1));
    due
}

/// The next regular discussion 3 months after `last`: the last discussion held (from 2.5.2022),
/// or before 2.5.2022 the last 3-month mark of continuous unemployment (the start of the job
/// search, then each periodic interview's mark).
pub fn regular_after(start: NaiveDate, last: NaiveDate) -> Due {
    let nominal = months(last, 3);
    let rule = if nordic(start) {
        RuleVersion::new(NORDIC_DISCUSSIONS, nordic_model_from())
    } else if nominal >= nordic_model_from() {
        RuleVersion::new(
            "1381/2021 entry-into-force provision 3 mom (JTYPL 2:6.1(2) 3 months after the last \
             interview)",
            nordic_model_from(),
        )
    } else {
        RuleVersion::new(
            "JTYPL 2:4 § 2 mom as amended by 1456/2016",
            date(2017, 1, 1),
        )
    };
    Due {
        kind: Kind::RegularDiscussion,
        due: deadline_on_working_day(nominal),
        count: 1,
        rule,
        interpretation: None,
    }
}

/// The two discussions due within one month after `period` × 6 months of unemployment
/// (`period` ≥ 1) for a job search that started on `start`. `None` when no such obligation exists:
/// `period` 0, or the 6-month mark falls before 2.5.2022 (the old model had none).
pub fn half_yearly(start: NaiveDate, period: u32) -> Option<Due> {
    let mark = months(start, period.checked_mul(6)?);
    if period == 0 || mark < nordic_model_from() {
        return None;
    }
    let rule = if nordic(start) {
        RuleVersion::new(NORDIC_DISCUSSIONS, nordic_model_from())
    } else {
        RuleVersion::new(
            "1381/2021 entry-into-force provision 4 mom (JTYPL 2:6.1(3) once unemployment has \
             lasted 6 months)",
            nordic_model_from(),
        )
    };
    Some(Due {
        kind: Kind::HalfYearlyDiscussions,
        due: deadline_on_working_day(months(mark, 1)),
        count: 2,
        rule,
        interpretation: None,
    })
}

/// A labour-policy statement whose information was received on `received`.
pub fn statement(received: NaiveDate) -> Due {
    Due {
        kind: Kind::Statement,
        due: deadline_on_working_day(received.checked_add_days(Days::new(7)).unwrap_or(received)),
        count: 1,
        rule: RuleVersion::new("TEM decree 153/2021 § 1", date(2021, 3, 1)),
        interpretation: None,
    }
}

/// The interpretation applied when a statutory deadline had already passed when the area
/// received the client (DOMAIN.md § 1.b, "Whose deadline is it").
pub const FROM_RECEIPT: &str = "the statutory deadline had passed (or fell on the day) when the \
     area received the client (its competence starts at receipt, 1269/2020 24 §): the area holds \
     it within the same period counted from its receipt";

/// Why the area owes no initial interview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoInterview {
    /// The TE office held the initial interview of this job search before the transfer.
    HeldByTeOffice,
    /// The previous job search ended less than 6 months before this one began (from 2.5.2022).
    SixMonthRule,
}

/// The initial interview a trial area owes a referred client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "required", rename_all = "snake_case")]
pub enum AreaInterview {
    /// Due as `Due` says (with `interpretation` set when counted from receipt).
    Required(Due),
    /// None is owed.
    NotRequired { why: NoInterview },
}

/// The initial interview a trial area owes a client whose job search began on `start` and whose
/// referral it received on `received` (1269/2020 24 §: the area's competence starts at receipt,
/// and no deadline that fell due before it is the area's). `te_office_held`: the day the TE
/// office held the initial interview of this job search, if it did; `previous_job_search_ended`:
/// for the 6-month rule.
///
/// The statutory deadline counts from the start of the job search. When it fell before
/// `received`, or on that very day, the area holds the interview within the same period counted
/// from `received` ([`FROM_RECEIPT`], an interpretation, labelled as one).
pub fn area_initial_interview(
    start: NaiveDate,
    received: NaiveDate,
    te_office_held: Option<NaiveDate>,
    previous_job_search_ended: Option<NaiveDate>,
) -> AreaInterview {
    if te_office_held.is_some_and(|held| held >= start) {
        return AreaInterview::NotRequired {
            why: NoInterview::HeldByTeOffice,
        };
    }
    if !initial_interview_required(start, previous_job_search_ended) {
        return AreaInterview::NotRequired {
            why: NoInterview::SixMonthRule,
        };
    }
    AreaInterview::Required(from_receipt(initial_interview(start), start, received))
}

/// `statutory`, a deadline whose period began on `period_start`, as the area owes it when it
/// received the client on `received`: unchanged when it falls after `received`; else due
/// after the rule's own period counted from `received` ([`FROM_RECEIPT`]): 5 working days or two
/// weeks for the initial interview (by the rule of `period_start`), 3 months for discussions, the
/// month of the half-yearly pair, 7 days for a statement.
pub fn from_receipt(statutory: Due, period_start: NaiveDate, received: NaiveDate) -> Due {
    if statutory.due > received {
        return statutory;
    }
    // The rule's own period, in its own unit.
    let due = match statutory.kind {
        Kind::InitialInterview if nordic(period_start) => add_working_days(received, 5),
        Kind::InitialInterview => deadline_on_working_day(
            received
                .checked_add_days(Days::new(14))
                .unwrap_or(NaiveDate::MAX),
        ),
        Kind::IntensiveDiscussions | Kind::RegularDiscussion => {
            deadline_on_working_day(months(received, 3))
        }
        Kind::HalfYearlyDiscussions => deadline_on_working_day(months(received, 1)),
        Kind::Statement => deadline_on_working_day(
            received
                .checked_add_days(Days::new(7))
                .unwrap_or(NaiveDate::MAX),
        ),
    };
    Due {
        due,
        interpretation: Some(FROM_RECEIPT),
        ..statutory
    }
}

/// One deadline with what starts it, for people: `kokeilu rules deadlines` prints these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explained {
    pub deadline: &'static str,
    /// The day its period starts, and what that day is.
    pub starts: NaiveDate,
    pub starts_from: &'static str,
    /// `None` when nothing is owed (`not_required` says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The provision and since when that version is in force.
    pub rule: &'static str,
    pub rule_in_force_from: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_required: Option<NoInterview>,
}

/// What a referral's deadlines are for the area that received it: the case facts of
/// [`area_initial_interview`], the operational acknowledgement period, and the day the initial
/// interview was held (if it was), for the discussions that follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub job_search_start: NaiveDate,
    pub received: NaiveDate,
    pub te_office_held: Option<NaiveDate>,
    pub previous_job_search_ended: Option<NaiveDate>,
    pub ack_working_days: u32,
    pub initial_interview_held: Option<NaiveDate>,
}

/// The acknowledgement is operational, not statutory: the backbone's service level for an area
/// to take on a referred client, counted from its receipt (24 §).
pub const ACKNOWLEDGEMENT_RULE: &str = "operational service level: acknowledge within N working days of receipt (1269/2020 24 §: \
     the area's competence starts at receipt)";

fn explained(
    d: &Due,
    starts: NaiveDate,
    starts_from: &'static str,
    name: &'static str,
) -> Explained {
    Explained {
        deadline: name,
        starts,
        starts_from,
        due: Some(d.due),
        count: Some(d.count),
        rule: d.rule.law,
        rule_in_force_from: d.rule.effective_from,
        interpretation: d.interpretation,
        not_required: None,
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::InitialInterview => "initial_interview",
        Kind::IntensiveDiscussions => "intensive_discussions",
        Kind::RegularDiscussion => "regular_discussion",
        Kind::HalfYearlyDiscussions => "half_yearly_discussions",
        Kind::Statement => "statement",
    }
}

/// Every deadline the area owes in `case`, with its start, rule and section.
pub fn explain(case: &Case) -> Vec<Explained> {
    let mut out = vec![Explained {
        deadline: "acknowledgement",
        starts: case.received,
        starts_from: "the area's receipt of the referral",
        due: Some(add_working_days(case.received, case.ack_working_days)),
        count: Some(1),
        rule: ACKNOWLEDGEMENT_RULE,
        rule_in_force_from: date(2021, 3, 1),
        interpretation: None,
        not_required: None,
    }];
    let start = case.job_search_start;
    match area_initial_interview(
        start,
        case.received,
        case.te_office_held,
        case.previous_job_search_ended,
    ) {
        AreaInterview::Required(d) => {
            let from = if d.interpretation.is_some() {
                (
                    case.received,
                    "the area's receipt (the statutory deadline had passed)",
                )
            } else {
                (start, "the start of the job search")
            };
            out.push(explained(&d, from.0, from.1, "initial_interview"));
        }
        AreaInterview::NotRequired { why } => {
            let d = initial_interview(start);
            out.push(Explained {
                due: None,
                count: None,
                not_required: Some(why),
                ..explained(
                    &d,
                    start,
                    "the start of the job search",
                    "initial_interview",
                )
            });
        }
    }
    // The discussions follow the initial interview: the area's, or the TE office's.
    let held = case
        .initial_interview_held
        .or(case.te_office_held.filter(|h| *h >= start));
    if let Some(held) = held {
        for d in after_initial_interview(start, held) {
            let (period_start, starts_from) = match d.kind {
                Kind::HalfYearlyDiscussions => (
                    months(start, 6),
                    "6 months of unemployment (job search start + 6 months)",
                ),
                Kind::RegularDiscussion if !nordic(start) => (
                    start,
                    "the start of the job search (every 3 months of unemployment)",
                ),
                _ => (held, "the initial interview"),
            };
            let d = from_receipt(d, period_start, case.received);
            out.push(explained(&d, period_start, starts_from, kind_name(d.kind)));
        }
    }
    out
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
        let old = initial_interview(day(2022, 4, 29));
        assert_eq!(
            (old.due, old.rule.effective_from),
            (day(2022, 5, 13), day(2013, 1, 1))
        );
        // Two weeks ending on a Sunday move to Monday: Sun 7.3.2021 + 14 → Mon 22.3.
        assert_eq!(initial_interview(day(2021, 3, 7)).due, day(2021, 3, 22));
        // From 2.5.2022 (1379/2021): 5 working days; Mon 2.5.2022 → Mon 9.5.
        let new = initial_interview(day(2022, 5, 2));
        assert_eq!(
            (new.due, new.rule.effective_from),
            (day(2022, 5, 9), day(2022, 5, 2))
        );
        // Over Midsummer 2024: Wed 19.6 + 5 working days (21.6 and 22.6 closed) → Thu 27.6.
        assert_eq!(initial_interview(day(2024, 6, 19)).due, day(2024, 6, 27));
        // 380/2023 from 1.1.2025.
        let permanent = initial_interview(day(2025, 1, 2));
        assert_eq!(permanent.rule.law, "380/2023 31 §");
        assert_eq!(permanent.due, day(2025, 1, 10), "6.1 Epiphany is closed");
    }

    #[test]
    fn a_new_initial_interview_needs_six_months_since_the_last_job_search() {
        let start = day(2023, 9, 1);
        assert!(initial_interview_required(start, None));
        assert!(!initial_interview_required(start, Some(day(2023, 3, 2))));
        assert!(initial_interview_required(start, Some(day(2023, 3, 1))));
        assert!(initial_interview_required(
            day(2022, 4, 1),
            Some(day(2022, 3, 1))
        ));
    }

    #[test]
    fn discussions_after_the_initial_interview() {
        let after = after_initial_interview(day(2024, 9, 2), day(2024, 9, 6));
        assert_eq!(after[0].kind, Kind::IntensiveDiscussions);
        // Three months after 6.9.2024 is Independence Day: the next working day is Mon 9.12.
        assert_eq!((after[0].count, after[0].due), (5, day(2024, 12, 9)));
        // Six months of unemployment on 2.3.2025, two discussions by 2.4.2025.
        assert_eq!(after[1].kind, Kind::HalfYearlyDiscussions);
        assert_eq!((after[1].count, after[1].due), (2, day(2025, 4, 2)));
        let with_supplementary =
            after_initial_interview_with(day(2024, 9, 2), day(2024, 9, 6), true);
        assert_eq!(with_supplementary[0].count, 4);
        let old = after_initial_interview(day(2021, 9, 1), day(2021, 9, 10));
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].kind, Kind::RegularDiscussion);
        assert_eq!(old[0].due, day(2021, 12, 1));
        assert_eq!(old[0].rule.law, "JTYPL 2:4 § 2 mom as amended by 1456/2016");
    }

    #[test]
    fn old_job_searches_switch_to_the_nordic_model_on_2_5_2022() {
        // Job search from 1.10.2021, last periodic interview 10.3.2022: the next is due 10.6.2022
        // under the transitional provision of 1381/2021.
        let next = regular_after(day(2021, 10, 1), day(2022, 3, 10));
        assert_eq!(next.due, day(2022, 6, 10));
        assert!(next.rule.law.starts_with("1381/2021"), "{}", next.rule.law);
        // The half-yearly pair: 6 months on 1.4.2022 is before the switch, 12 months on
        // 1.10.2022 is after it.
        assert_eq!(half_yearly(day(2021, 10, 1), 1), None);
        let pair = half_yearly(day(2021, 10, 1), 2).unwrap();
        assert_eq!((pair.count, pair.due), (2, day(2022, 11, 1)));
        assert_eq!(half_yearly(day(2024, 1, 1), 0), None);
        assert_eq!(
            half_yearly(day(2024, 1, 1), 2).unwrap().due,
            day(2025, 2, 3)
        );
    }

    #[test]
    fn the_area_owes_no_deadline_that_fell_before_it_had_the_client() {
        // Referred on Wed 4.9.2024, received the same day; job search from Mon 2.9.2024: the
        // statutory 5 working days (Mon 9.9) still lie ahead.
        let AreaInterview::Required(d) =
            area_initial_interview(day(2024, 9, 2), day(2024, 9, 4), None, None)
        else {
            panic!("required")
        };
        assert_eq!((d.due, d.interpretation), (day(2024, 9, 9), None));
        // Job search from 19.8.2024 (due 26.8), received 2.9: 5 working days from receipt.
        let AreaInterview::Required(d) =
            area_initial_interview(day(2024, 8, 19), day(2024, 9, 2), None, None)
        else {
            panic!("required")
        };
        assert_eq!(d.due, day(2024, 9, 9));
        assert_eq!(d.interpretation, Some(FROM_RECEIPT));
        assert!(d.due >= day(2024, 9, 2));
        // The 2021 start batch: job search from 1.12.2020, received Mon 1.3.2021: two weeks
        // from receipt, Mon 15.3.2021.
        let AreaInterview::Required(d) =
            area_initial_interview(day(2020, 12, 1), day(2021, 3, 1), None, None)
        else {
            panic!("required")
        };
        assert_eq!(d.due, day(2021, 3, 15));
        assert_eq!(d.rule.law, "JTYPL 2:4 § 1 mom (916/2012)");
        // Held by the TE office, or within 6 months of the previous job search: none owed.
        assert_eq!(
            area_initial_interview(
                day(2024, 8, 19),
                day(2024, 9, 2),
                Some(day(2024, 8, 21)),
                None
            ),
            AreaInterview::NotRequired {
                why: NoInterview::HeldByTeOffice
            }
        );
        assert_eq!(
            area_initial_interview(
                day(2024, 8, 19),
                day(2024, 9, 2),
                None,
                Some(day(2024, 5, 1))
            ),
            AreaInterview::NotRequired {
                why: NoInterview::SixMonthRule
            }
        );
    }

    #[test]
    fn explanations_name_start_rule_and_section() {
        let case = Case {
            job_search_start: day(2020, 12, 1),
            received: day(2021, 3, 1),
            te_office_held: None,
            previous_job_search_ended: None,
            ack_working_days: 2,
            initial_interview_held: None,
        };
        let e = explain(&case);
        assert_eq!(e[0].deadline, "acknowledgement");
        assert_eq!(
            (e[0].starts, e[0].due),
            (day(2021, 3, 1), Some(day(2021, 3, 3)))
        );
        assert_eq!(e[1].deadline, "initial_interview");
        assert_eq!(e[1].starts, day(2021, 3, 1));
        assert_eq!(e[1].due, Some(day(2021, 3, 15)));
        assert_eq!(e[1].rule, "JTYPL 2:4 § 1 mom (916/2012)");
        assert!(e[1].interpretation.is_some());
        // Held by the TE office on 10.12.2020: no interview owed; the periodic interview due
        // 1.3.2021 (3 months of unemployment) had passed at receipt and counts from it.
        let e = explain(&Case {
            te_office_held: Some(day(2020, 12, 10)),
            ..case
        });
        assert_eq!(e[1].not_required, Some(NoInterview::HeldByTeOffice));
        assert_eq!(e[1].due, None);
        assert_eq!(e[2].deadline, "regular_discussion");
        assert_eq!(e[2].due, Some(day(2021, 6, 1)));
        assert!(e.iter().all(|x| x.due.is_none_or(|d| d > case.received)));
    }

    #[test]
    fn statements_are_due_in_seven_calendar_days() {
        assert_eq!(statement(day(2024, 9, 2)).due, day(2024, 9, 9));
        // 7 days from 17.12.2024 is Christmas Eve: the next working day is 27.12.
        assert_eq!(statement(day(2024, 12, 17)).due, day(2024, 12, 27));
        assert_eq!(
            statement(day(2024, 9, 2)).rule.law,
            "TEM decree 153/2021 § 1"
        );
    }
}
