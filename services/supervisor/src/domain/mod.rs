//! AVI's supervision rules, free of wire and storage types: which deadlines a fact opens or meets,
//! how deadline states move, and which compliance events follow. Deadlines come from the rules
//! crate (effective-dated); the acknowledgement deadline is operational (configurable, default 2
//! working days).
//!
//! Applying a fact or a missed deadline is decided here in one pure step ([`decide_referral`],
//! [`decide_fact`], [`decide_missed`]) from what the ledger loaded through the store; the ledger
//! then writes the whole [`Decision`].

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_rules::competence::{Issuer, StatementSubject, competence};
use kokeilu_rules::deadlines;
use kokeilu_rules::registry::Registry;
use kokeilu_rules::workdays::add_working_days;

pub mod trust;

/// A stored number that no variant of a typed enum has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: i64,
}

/// An enum stored as an integer column: the enum itself, `TryFrom<i64>` (an unknown number is
/// an [`UnknownValue`]) and `From<Enum> for i64`, from one list of variants.
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $n:literal),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* $variant = $n,)*
        }
        impl TryFrom<i64> for $name {
            type Error = UnknownValue;
            fn try_from(value: i64) -> Result<Self, UnknownValue> {
                match value {
                    $($n => Ok(Self::$variant),)*
                    _ => Err(UnknownValue { what: $what, value }),
                }
            }
        }
        impl From<$name> for i64 {
            fn from(v: $name) -> i64 {
                match v {
                    $($name::$variant => $n,)*
                }
            }
        }
    };
}

stored_enum! {
    /// What must happen by a due date (the wire enum's numbers).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum DeadlineKind ("deadline kind") {
        Acknowledgement = 1,
        InitialInterview = 2,
        IntensiveDiscussions = 3,
        RegularDiscussion = 4,
        Statement = 5,
        HalfYearlyDiscussions = 6,
    }
}

impl DeadlineKind {
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

stored_enum! {
    /// Where a deadline is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum DeadlineStatus ("deadline status") {
        Open = 1,
        Met = 2,
        Missed = 3,
        MetLate = 4,
        /// No longer applies (referral rejected, client transferred).
        Cancelled = 5,
    }
}

stored_enum! {
    /// A compliance event's kind (the wire enum's numbers) and subject token.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ComplianceKind ("compliance kind") {
        DeadlineMissed = 1,
        DeadlineMetLate = 2,
        WrongArea = 3,
        StatementOutsideCompetence = 4,
    }
}

impl ComplianceKind {
    /// NATS subject token (also the `kind` label of the compliance-event metric).
    pub fn token(self) -> &'static str {
        match self {
            Self::DeadlineMissed => "deadline_missed",
            Self::DeadlineMetLate => "deadline_met_late",
            Self::WrongArea => "wrong_area",
            Self::StatementOutsideCompetence => "statement_outside_competence",
        }
    }
}

/// A referral as the supervisor records it (pseudonymised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub referral_id: String,
    pub area: String,
    pub pseudonym: String,
    pub municipality_code: String,
    pub date: NaiveDate,
    pub job_search_start: NaiveDate,
    pub grounds: Vec<String>,
}

/// What the ledger needs to know of a referral's case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub referral_id: String,
    pub area: String,
    pub pseudonym: String,
    pub job_search_start: NaiveDate,
}

impl Referral {
    pub fn case(&self) -> Case {
        Case {
            referral_id: self.referral_id.clone(),
            area: self.area.clone(),
            pseudonym: self.pseudonym.clone(),
            job_search_start: self.job_search_start,
        }
    }
}

/// A case for the statistics: when it was referred and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    pub area: String,
    pub municipality_code: String,
    pub referral_date: NaiveDate,
    pub job_search_start: NaiveDate,
    pub acknowledged_on: Option<NaiveDate>,
    pub rejected_on: Option<NaiveDate>,
    pub initial_interview_on: Option<NaiveDate>,
    /// The initial-interview deadline was missed or met late.
    pub late_initial_interview: bool,
}

/// A stored deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub id: i64,
    pub kind: DeadlineKind,
    pub due: NaiveDate,
    pub required: i64,
    pub done: i64,
    pub status: DeadlineStatus,
    pub rule: String,
}

/// An open deadline whose last day has passed, with its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub deadline: Deadline,
    pub case: Case,
}

/// How many deadlines of an area are of one kind and in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineCount {
    pub kind: DeadlineKind,
    pub status: DeadlineStatus,
    pub count: u32,
}

/// A compliance event about to be stored and published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: ComplianceKind,
    pub area: String,
    pub referral_id: String,
    pub pseudonym: String,
    pub deadline: Option<DeadlineKind>,
    pub due: Option<NaiveDate>,
    pub date: NaiveDate,
    pub detail: String,
    pub rule: String,
}

/// A stored compliance event (an entry of the subscription feed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceEvent {
    pub seq: i64,
    pub event_id: String,
    pub kind: ComplianceKind,
    pub area: String,
    pub referral_id: String,
    pub pseudonym: String,
    pub deadline: Option<DeadlineKind>,
    pub due: Option<NaiveDate>,
    pub date: NaiveDate,
    pub detail: String,
    pub rule: String,
    pub detected_at: DateTime<Utc>,
}

/// A read of, or a request for, identifying data (the access log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub action_id: String,
    pub area: String,
    /// The authenticated identity that read or caused it (`kokeilu://…`).
    pub actor: String,
    pub what: String,
    pub purpose: String,
    /// Whether identifying details were shown unmasked.
    pub revealed: bool,
    pub at: DateTime<Utc>,
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

/// A service fact about an existing case (the referral itself is [`Referral`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Acknowledged,
    Rejected,
    InitialInterviewHeld,
    JobSearchDiscussionHeld,
    StatementIssued {
        /// The statement's subject as reported (a rules-crate `StatementSubject` name).
        subject: String,
        information_received: Option<NaiveDate>,
    },
    Transferred,
    /// A fact that changes nothing the supervisor tracks (an employment plan).
    Other,
}

impl Fact {
    /// The kinds of deadline this fact counts towards, in the order they are progressed.
    pub fn progresses(&self) -> &'static [DeadlineKind] {
        match self {
            Self::Acknowledged | Self::Rejected => &[DeadlineKind::Acknowledgement],
            Self::InitialInterviewHeld => &[DeadlineKind::InitialInterview],
            Self::JobSearchDiscussionHeld => &[
                DeadlineKind::IntensiveDiscussions,
                DeadlineKind::HalfYearlyDiscussions,
                DeadlineKind::RegularDiscussion,
            ],
            Self::StatementIssued { .. } | Self::Transferred | Self::Other => &[],
        }
    }
}

/// A change to a case's own dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseUpdate {
    Acknowledged(NaiveDate),
    Rejected(NaiveDate),
    /// The first initial interview (a later one does not move it).
    InitialInterview(NaiveDate),
}

/// A change to a stored deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineChange {
    /// One more event counted; still short of the required count.
    Progressed { id: i64, done: i64 },
    /// The required count is reached on `on`.
    Met {
        id: i64,
        done: i64,
        status: DeadlineStatus,
        on: NaiveDate,
    },
}

/// A deadline to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub deadline: NewDeadline,
    pub status: DeadlineStatus,
    /// Set when the deadline is met as it opens (a statement); it then counts as done.
    pub met_on: Option<NaiveDate>,
}

impl Opening {
    fn open(deadline: NewDeadline) -> Self {
        Self {
            deadline,
            status: DeadlineStatus::Open,
            met_on: None,
        }
    }
}

/// Which open deadlines of a referral no longer apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// All of them (a rejection).
    All,
    /// Those due on or after the day (a transfer: what fell due while the client was the
    /// area's stays open, and the sweep reports it if unmet).
    DueFrom(NaiveDate),
}

/// Everything one fact or one missed deadline changes, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub case: Option<CaseUpdate>,
    pub changes: Vec<DeadlineChange>,
    pub opens: Vec<Opening>,
    pub cancel: Option<Cancel>,
    /// Compliance events to store and publish, in this order.
    pub events: Vec<Draft>,
}

/// The event of a deadline missed (`date` = the due date or the day the miss was found) or met
/// late (`date` = the day it was met).
pub fn deadline_event(
    kind: ComplianceKind,
    case: &Case,
    deadline: DeadlineKind,
    due: NaiveDate,
    date: NaiveDate,
    rule: &str,
) -> Draft {
    let detail = match kind {
        ComplianceKind::DeadlineMissed => format!("{} due {due} not met", deadline.name()),
        _ => format!("{} due {due} met on {date}", deadline.name()),
    };
    Draft {
        kind,
        area: case.area.clone(),
        referral_id: case.referral_id.clone(),
        pseudonym: case.pseudonym.clone(),
        deadline: Some(deadline),
        due: Some(due),
        date,
        detail,
        rule: rule.to_owned(),
    }
}

/// A new referral: its deadlines, and a wrong-area event when the area does not cover the
/// client's home municipality on the referral date.
pub fn decide_referral(r: &Referral, ack_working_days: u32, registry: &Registry) -> Decision {
    let mut d = Decision {
        opens: on_referral(r.date, r.job_search_start, ack_working_days)
            .into_iter()
            .map(Opening::open)
            .collect(),
        ..Decision::default()
    };
    let on = r.date;
    let competent = registry.area_for_municipality(&r.municipality_code, on);
    if competent.is_none_or(|a| a.slug != r.area) {
        let detail = match competent {
            Some(a) => format!(
                "municipality {} belongs to area {} on {on}, not {}",
                r.municipality_code, a.slug, r.area
            ),
            None => format!(
                "municipality {} is in no trial area on {on}",
                r.municipality_code
            ),
        };
        d.events.push(Draft {
            kind: ComplianceKind::WrongArea,
            area: r.area.clone(),
            referral_id: r.referral_id.clone(),
            pseudonym: r.pseudonym.clone(),
            deadline: None,
            due: None,
            date: on,
            detail,
            rule: "1269/2020 5 § 1 mom (home municipality decides)".into(),
        });
    }
    d
}

/// A fact on `on` about `case`. `deadlines` are the case's open or missed deadlines of the
/// kinds [`Fact::progresses`] names that count events on `on`, by due date; `half_yearly_opened`
/// is how many half-yearly deadlines the case has. An unusable fact is an `Err` with the reason.
pub fn decide_fact(
    fact: &Fact,
    on: NaiveDate,
    case: &Case,
    deadlines: &[Deadline],
    half_yearly_opened: i64,
) -> Result<Decision, String> {
    let mut d = Decision::default();
    let mut half_yearly_opened = half_yearly_opened;
    for &kind in fact.progresses() {
        progress(&mut d, case, kind, on, deadlines, &mut half_yearly_opened);
    }
    match fact {
        Fact::Acknowledged => d.case = Some(CaseUpdate::Acknowledged(on)),
        Fact::Rejected => {
            d.case = Some(CaseUpdate::Rejected(on));
            d.cancel = Some(Cancel::All);
        }
        Fact::InitialInterviewHeld => {
            d.case = Some(CaseUpdate::InitialInterview(on));
            d.opens.extend(
                on_initial_interview(case.job_search_start, on)
                    .into_iter()
                    .map(Opening::open),
            );
        }
        Fact::JobSearchDiscussionHeld => d
            .opens
            .push(Opening::open(next_regular(case.job_search_start, on))),
        Fact::StatementIssued {
            subject,
            information_received,
        } => statement(&mut d, case, on, subject, *information_received)?,
        Fact::Transferred => d.cancel = Some(Cancel::DueFrom(on)),
        Fact::Other => {}
    }
    Ok(d)
}

/// Counts one event on `on` towards the deadlines of `kind`; a deadline whose required count is
/// reached is met, on time or late. A deadline met after its due date whose miss was not
/// reported yet gets both events, in order.
fn progress(
    d: &mut Decision,
    case: &Case,
    kind: DeadlineKind,
    on: NaiveDate,
    deadlines: &[Deadline],
    half_yearly_opened: &mut i64,
) {
    for dl in deadlines.iter().filter(|dl| dl.kind == kind) {
        let done = dl.done + 1;
        if done < dl.required {
            d.changes
                .push(DeadlineChange::Progressed { id: dl.id, done });
            continue;
        }
        let status = meet(dl.status, dl.due, on);
        d.changes.push(DeadlineChange::Met {
            id: dl.id,
            done,
            status,
            on,
        });
        if kind == DeadlineKind::HalfYearlyDiscussions && dl.status == DeadlineStatus::Open {
            // Met (on time or late) without a reported miss: the next 6 months begin.
            open_next_half_year(d, case, half_yearly_opened);
        }
        if status == DeadlineStatus::MetLate {
            if dl.status == DeadlineStatus::Open {
                d.events.push(deadline_event(
                    ComplianceKind::DeadlineMissed,
                    case,
                    kind,
                    dl.due,
                    dl.due,
                    &dl.rule,
                ));
            }
            d.events.push(deadline_event(
                ComplianceKind::DeadlineMetLate,
                case,
                kind,
                dl.due,
                on,
                &dl.rule,
            ));
        }
    }
}

/// Opens the half-yearly discussions of the next 6-month period, if the law requires them.
fn open_next_half_year(d: &mut Decision, case: &Case, opened: &mut i64) {
    let period = u32::try_from(*opened + 1).unwrap_or(u32::MAX);
    if let Some(next) = half_yearly(case.job_search_start, period) {
        d.opens.push(Opening::open(next));
        *opened += 1;
    }
}

/// A statement issued on `on`: outside the area's competence it is an event; its deadline opens
/// met (on time or late).
fn statement(
    d: &mut Decision,
    case: &Case,
    on: NaiveDate,
    subject_name: &str,
    information_received: Option<NaiveDate>,
) -> Result<(), String> {
    let subject: StatementSubject =
        serde_json::from_value(serde_json::Value::String(subject_name.to_owned()))
            .map_err(|_| format!("unknown statement subject {subject_name:?}"))?;
    let received =
        information_received.ok_or_else(|| "statement without the information date".to_owned())?;
    let c = competence(subject, on);
    if c.issuer != Issuer::Municipality {
        d.events.push(Draft {
            kind: ComplianceKind::StatementOutsideCompetence,
            area: case.area.clone(),
            referral_id: case.referral_id.clone(),
            pseudonym: case.pseudonym.clone(),
            deadline: None,
            due: None,
            date: on,
            detail: format!(
                "statement on {subject_name} issued by the area; competent: {:?}",
                c.issuer
            ),
            rule: c.rule.law.to_owned(),
        });
    }
    let due = deadlines::statement(received);
    let deadline = NewDeadline {
        kind: DeadlineKind::Statement,
        due: due.due,
        required: 1,
        rule: due.rule.law.to_owned(),
        opens: None,
    };
    let status = meet(DeadlineStatus::Open, deadline.due, on);
    if status == DeadlineStatus::MetLate {
        d.events.push(deadline_event(
            ComplianceKind::DeadlineMetLate,
            case,
            DeadlineKind::Statement,
            deadline.due,
            on,
            &deadline.rule,
        ));
    }
    d.opens.push(Opening {
        deadline,
        status,
        met_on: Some(on),
    });
    Ok(())
}

/// An open deadline found missed on `today` (its state already set to missed): the event, and
/// for half-yearly discussions the next period's. `half_yearly_opened` as in [`decide_fact`].
pub fn decide_missed(o: &Overdue, today: NaiveDate, half_yearly_opened: i64) -> Decision {
    let mut d = Decision::default();
    let dl = &o.deadline;
    d.events.push(deadline_event(
        ComplianceKind::DeadlineMissed,
        &o.case,
        dl.kind,
        dl.due,
        today,
        &dl.rule,
    ));
    if dl.kind == DeadlineKind::HalfYearlyDiscussions {
        let mut opened = half_yearly_opened;
        open_next_half_year(&mut d, &o.case, &mut opened);
    }
    d
}

#[cfg(test)]
mod tests;
