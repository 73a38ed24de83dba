//! AVI's supervision rules, free of wire and storage types: which deadlines a fact opens or meets,
//! and how deadline states move. Deadlines come from the rules crate (effective-dated); the
//! acknowledgement deadline is operational (configurable, default 2 working days).

use chrono::NaiveDate;
use kokeilu_rules::deadlines;
use kokeilu_rules::workdays::add_working_days;

/// What must happen by a due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineKind {
    Acknowledgement = 1,
    InitialInterview = 2,
    IntensiveDiscussions = 3,
    RegularDiscussion = 4,
    Statement = 5,
    HalfYearlyDiscussions = 6,
}

impl DeadlineKind {
    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            1 => Self::Acknowledgement,
            2 => Self::InitialInterview,
            3 => Self::IntensiveDiscussions,
            4 => Self::RegularDiscussion,
            5 => Self::Statement,
            6 => Self::HalfYearlyDiscussions,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Acknowledgement => "acknowledgement",
            Self::InitialInterview => "initial interview",
            Self::IntensiveDiscussions => "job-search discussions of the first 3 months",
            Self::RegularDiscussion => "regular job-search discussion",
            Self::Statement => "labour-policy statement",
            Self::HalfYearlyDiscussions => "two job-search discussions after each 6 months",
        }
    }
}

/// Where a deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineStatus {
    Open = 1,
    Met = 2,
    Missed = 3,
    MetLate = 4,
    /// No longer applies (referral rejected, client transferred).
    Cancelled = 5,
}

/// A compliance event's kind (the wire enum's numbers) and subject token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceKind {
    DeadlineMissed = 1,
    DeadlineMetLate = 2,
    WrongArea = 3,
    StatementOutsideCompetence = 4,
}

impl ComplianceKind {
    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            1 => Self::DeadlineMissed,
            2 => Self::DeadlineMetLate,
            3 => Self::WrongArea,
            4 => Self::StatementOutsideCompetence,
            _ => return None,
        })
    }

    /// NATS subject token.
    pub fn token(self) -> &'static str {
        match self {
            Self::DeadlineMissed => "deadline_missed",
            Self::DeadlineMetLate => "deadline_met_late",
            Self::WrongArea => "wrong_area",
            Self::StatementOutsideCompetence => "statement_outside_competence",
        }
    }
}

/// A deadline to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadline {
    pub kind: DeadlineKind,
    pub due: NaiveDate,
    pub required: i64,
    pub rule: String,
    /// Events count towards the deadline only from this day on (the half-yearly discussions
    /// fall in the month after each 6-month mark).
    pub opens: Option<NaiveDate>,
}

/// Deadlines a referral opens: the area's acknowledgement and the initial interview.
pub fn on_referral(
    referral_date: NaiveDate,
    job_search_start: NaiveDate,
    ack_working_days: u32,
) -> Vec<NewDeadline> {
    let interview = deadlines::initial_interview(job_search_start);
    vec![
        NewDeadline {
            kind: DeadlineKind::Acknowledgement,
            due: add_working_days(referral_date, ack_working_days),
            required: 1,
            rule: format!(
                "operational: acknowledge within {ack_working_days} working days of the referral"
            ),
            opens: None,
        },
        NewDeadline {
            kind: DeadlineKind::InitialInterview,
            due: interview.due,
            required: 1,
            rule: interview.rule.law.to_owned(),
            opens: None,
        },
    ]
}

/// Deadlines an initial interview opens.
pub fn on_initial_interview(job_search_start: NaiveDate, held: NaiveDate) -> Vec<NewDeadline> {
    deadlines::after_initial_interview(job_search_start, held)
        .into_iter()
        .filter_map(|d| {
            let (kind, opens) = match d.kind {
                deadlines::Kind::IntensiveDiscussions => (DeadlineKind::IntensiveDiscussions, None),
                deadlines::Kind::RegularDiscussion => (DeadlineKind::RegularDiscussion, None),
                deadlines::Kind::HalfYearlyDiscussions => (
                    DeadlineKind::HalfYearlyDiscussions,
                    Some(six_month_mark(job_search_start, 1)),
                ),
                _ => return None,
            };
            Some(NewDeadline {
                kind,
                due: d.due,
                required: i64::from(d.count),
                rule: d.rule.law.to_owned(),
                opens,
            })
        })
        .collect()
}

/// The `period`th 6-month mark of a job search that started on `start`.
fn six_month_mark(start: NaiveDate, period: u32) -> NaiveDate {
    start
        .checked_add_months(chrono::Months::new(period.saturating_mul(6)))
        .unwrap_or(NaiveDate::MAX)
}

/// The half-yearly discussions of `period` (1, 2, …), when the law requires them.
pub fn half_yearly(job_search_start: NaiveDate, period: u32) -> Option<NewDeadline> {
    let d = deadlines::half_yearly(job_search_start, period)?;
    Some(NewDeadline {
        kind: DeadlineKind::HalfYearlyDiscussions,
        due: d.due,
        required: i64::from(d.count),
        rule: d.rule.law.to_owned(),
        opens: Some(six_month_mark(job_search_start, period)),
    })
}

/// The next regular discussion after one held on `held`.
pub fn next_regular(job_search_start: NaiveDate, held: NaiveDate) -> NewDeadline {
    let d = deadlines::regular_after(job_search_start, held);
    NewDeadline {
        kind: DeadlineKind::RegularDiscussion,
        due: d.due,
        required: 1,
        rule: d.rule.law.to_owned(),
        opens: None,
    }
}

/// The outcome of meeting a deadline on `on`.
pub fn meet(status: DeadlineStatus, due: NaiveDate, on: NaiveDate) -> DeadlineStatus {
    match status {
        DeadlineStatus::Open if on <= due => DeadlineStatus::Met,
        DeadlineStatus::Open | DeadlineStatus::Missed => DeadlineStatus::MetLate,
        other => other,
    }
}

/// Whether an open deadline is missed on `today` (its last day has passed).
pub fn is_overdue(due: NaiveDate, today: NaiveDate) -> bool {
    today > due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_referral_opens_acknowledgement_and_initial_interview_deadlines() {
        let d = on_referral(day(2024, 9, 2), day(2024, 8, 30), 2);
        assert_eq!(d[0].kind, DeadlineKind::Acknowledgement);
        assert_eq!(d[0].due, day(2024, 9, 4));
        assert_eq!(d[1].kind, DeadlineKind::InitialInterview);
        // Fri 30.8 + 5 working days = Fri 6.9.
        assert_eq!(d[1].due, day(2024, 9, 6));
    }

    #[test]
    fn an_initial_interview_opens_the_half_yearly_discussions_from_the_6_month_mark() {
        let d = on_initial_interview(day(2024, 3, 4), day(2024, 3, 5));
        let half = d
            .iter()
            .find(|d| d.kind == DeadlineKind::HalfYearlyDiscussions)
            .unwrap();
        assert_eq!(half.opens, Some(day(2024, 9, 4)));
        assert_eq!(half.due, day(2024, 10, 4));
        assert_eq!(half.required, 2);
        let next = half_yearly(day(2024, 3, 4), 2).unwrap();
        assert_eq!(next.opens, Some(day(2025, 3, 4)));
        // Before the Nordic model (2.5.2022) there were none.
        assert!(half_yearly(day(2021, 3, 1), 1).is_none());
        assert!(
            on_initial_interview(day(2021, 3, 1), day(2021, 3, 2))
                .iter()
                .all(|d| d.kind != DeadlineKind::HalfYearlyDiscussions)
        );
    }

    #[test]
    fn deadlines_move_from_open_to_met_or_late() {
        let due = day(2024, 9, 6);
        assert_eq!(meet(DeadlineStatus::Open, due, due), DeadlineStatus::Met);
        assert_eq!(
            meet(DeadlineStatus::Open, due, day(2024, 9, 9)),
            DeadlineStatus::MetLate
        );
        assert_eq!(
            meet(DeadlineStatus::Missed, due, day(2024, 9, 9)),
            DeadlineStatus::MetLate
        );
        assert_eq!(
            meet(DeadlineStatus::Met, due, day(2024, 9, 9)),
            DeadlineStatus::Met
        );
        assert!(!is_overdue(due, due));
        assert!(is_overdue(due, day(2024, 9, 7)));
    }
}
