//! AVI's supervision rules, free of wire and storage types: which deadlines a fact opens or meets,
//! how deadline states move, and which compliance events follow. Deadlines come from the rules
//! crate (effective-dated); the acknowledgement deadline is operational (configurable, default 2
//! working days). Every deadline of the area counts from its receipt of the referral at the
//! earliest (1269/2020 24 §, DOMAIN.md § 1.b): the referral itself opens none.
//!
//! Applying a fact or a missed deadline is decided here in one pure step ([`decide_referral`],
//! [`decide_receipt`], [`decide_fact`], [`decide_missed`]) from what the ledger loaded through
//! the store; the ledger then writes the whole [`Decision`].

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
        /// A correction: an earlier event no longer stands.
        Retraction = 5,
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
            Self::Retraction => "retraction",
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
    /// The residence municipality, and whether it decided the area (149/2023).
    pub residence_municipality_code: String,
    pub decided_by_residence: bool,
    /// The TE office's initial interview of this job search, if it held one.
    pub te_interview_on: Option<NaiveDate>,
    /// The end of the previous job search (the 6-month rule).
    pub previous_job_search_end: Option<NaiveDate>,
    /// The date of the employment plan that travels with the referral.
    pub employment_plan_on: Option<NaiveDate>,
}

/// What the ledger needs to know of a referral's case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub referral_id: String,
    pub area: String,
    pub pseudonym: String,
    pub job_search_start: NaiveDate,
    /// The client's municipality inside the area (the deciding one: residence when decided by
    /// residence).
    pub municipality_code: String,
    /// The case's deadlines open at the area's receipt, which has not been reported yet: facts
    /// of the area wait for it (parked).
    pub awaiting_receipt: bool,
}

impl Referral {
    /// The case of a newly recorded referral: it awaits the area's receipt.
    pub fn case(&self) -> Case {
        Case {
            referral_id: self.referral_id.clone(),
            area: self.area.clone(),
            pseudonym: self.pseudonym.clone(),
            job_search_start: self.job_search_start,
            municipality_code: self.municipality_code.clone(),
            awaiting_receipt: true,
        }
    }
}

/// What the referral said that the deadlines opened at receipt depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intake {
    pub job_search_start: NaiveDate,
    pub te_interview_on: Option<NaiveDate>,
    pub previous_job_search_end: Option<NaiveDate>,
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
    /// The client's municipality inside the area.
    pub municipality: String,
    /// The stored deadline the event is about.
    pub deadline_id: Option<i64>,
    /// RETRACTION: the deadline whose published miss it retracts.
    pub retracts_deadline: Option<i64>,
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
    pub municipality: String,
    /// RETRACTION: the event it retracts.
    pub retracts_event_id: String,
    /// A later RETRACTION withdrew this event.
    pub retracted: bool,
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

/// A rule text with the interpretation it rests on, if any.
pub fn rule_text(d: &deadlines::Due) -> String {
    match d.interpretation {
        Some(why) => format!("{} (interpretation: {why})", d.rule.law),
        None => d.rule.law.to_owned(),
    }
}

/// Deadlines the area's receipt of a referral on `received` opens (1269/2020 24 §: the area's
/// competence, and its deadlines, start at receipt): the operational acknowledgement, counted
/// from the receipt date so that transport delay is not the municipality's; the initial
/// interview when the law requires a new one, counted from receipt when its statutory deadline
/// had already passed ([`deadlines::area_initial_interview`]); and, when the TE office held the
/// initial interview, the discussions after it, none due before receipt.
pub fn on_receipt(intake: &Intake, received: NaiveDate, ack_working_days: u32) -> Vec<NewDeadline> {
    let start = intake.job_search_start;
    let mut opens = vec![NewDeadline {
        kind: DeadlineKind::Acknowledgement,
        due: add_working_days(received, ack_working_days),
        required: 1,
        rule: format!(
            "operational: acknowledge within {ack_working_days} working days of the area's \
             receipt of the referral (its competence starts at receipt, 1269/2020 24 §)"
        ),
        opens: None,
    }];
    match deadlines::area_initial_interview(
        start,
        received,
        intake.te_interview_on,
        intake.previous_job_search_end,
    ) {
        deadlines::AreaInterview::Required(due) => opens.push(NewDeadline {
            kind: DeadlineKind::InitialInterview,
            due: due.due,
            required: 1,
            rule: rule_text(&due),
            opens: None,
        }),
        deadlines::AreaInterview::NotRequired { .. } => {}
    }
    if let Some(held) = intake.te_interview_on.filter(|held| *held >= start) {
        opens.extend(discussions_after(start, held, Some(received)));
    }
    opens
}

/// The discussions due after an initial interview held on `held`; with `received`, each as the
/// area owes it from its receipt ([`deadlines::from_receipt`]: none falls due before it).
fn discussions_after(
    start: NaiveDate,
    held: NaiveDate,
    received: Option<NaiveDate>,
) -> Vec<NewDeadline> {
    deadlines::after_initial_interview(start, held)
        .into_iter()
        .filter_map(|d| {
            // The period each deadline counts from: 3 months from the interview (Nordic model),
            // the 6-month mark, or 3 months from the start of the job search (before 2.5.2022).
            let (kind, opens, period_start) = match d.kind {
                deadlines::Kind::IntensiveDiscussions => {
                    (DeadlineKind::IntensiveDiscussions, None, held)
                }
                deadlines::Kind::RegularDiscussion => {
                    (DeadlineKind::RegularDiscussion, None, start)
                }
                deadlines::Kind::HalfYearlyDiscussions => {
                    let mark = six_month_mark(start, 1);
                    (DeadlineKind::HalfYearlyDiscussions, Some(mark), mark)
                }
                _ => return None,
            };
            let d = match received {
                Some(received) => deadlines::from_receipt(d, period_start, received),
                None => d,
            };
            Some(NewDeadline {
                kind,
                due: d.due,
                required: i64::from(d.count),
                rule: rule_text(&d),
                opens,
            })
        })
        .collect()
}

/// Deadlines an initial interview the area held on `held` opens.
pub fn on_initial_interview(job_search_start: NaiveDate, held: NaiveDate) -> Vec<NewDeadline> {
    discussions_after(job_search_start, held, None)
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

/// The outcome of meeting a deadline on `on`. A fact dated on or before the due date meets it
/// even when the sweep already reported it missed (the fact was on its way): met, not late.
pub fn meet(status: DeadlineStatus, due: NaiveDate, on: NaiveDate) -> DeadlineStatus {
    match status {
        DeadlineStatus::Open | DeadlineStatus::Missed if on <= due => DeadlineStatus::Met,
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
    /// The area received the referral (24 §).
    Received {
        on: NaiveDate,
        at: DateTime<Utc>,
    },
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
/// late (`date` = the day it was met), or of a retraction of a published miss (`date` = the day
/// it was met, on time). `deadline_id`: the stored deadline, when there is one.
pub fn deadline_event(
    kind: ComplianceKind,
    case: &Case,
    (deadline, deadline_id): (DeadlineKind, Option<i64>),
    due: NaiveDate,
    date: NaiveDate,
    rule: &str,
) -> Draft {
    let detail = match kind {
        ComplianceKind::DeadlineMissed => format!("{} due {due} not met", deadline.name()),
        ComplianceKind::Retraction => format!(
            "{} due {due} was met on {date}: the reported miss is withdrawn",
            deadline.name()
        ),
        _ => format!("{} due {due} met on {date}", deadline.name()),
    };
    Draft {
        kind,
        area: case.area.clone(),
        referral_id: case.referral_id.clone(),
        pseudonym: case.pseudonym.clone(),
        municipality: case.municipality_code.clone(),
        deadline_id,
        retracts_deadline: match kind {
            ComplianceKind::Retraction => deadline_id,
            _ => None,
        },
        deadline: Some(deadline),
        due: Some(due),
        date,
        detail,
        rule: rule.to_owned(),
    }
}

/// The day 149/2023 let temporary protection decide the area by the place of residence
/// (1269/2020 4 § 2 mom as amended by 149/2023).
pub fn residence_basis_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 3, 1).unwrap_or(NaiveDate::MIN)
}

/// The target-group ground (rule name) that may be decided by residence.
const TEMPORARY_PROTECTION: &str = "temporary_protection";

/// A new referral: a wrong-area event when the area does not cover the client's municipality on
/// the referral date. The home municipality decides (5 § 1 mom); the residence decides for
/// temporary protection from 1.3.2023 (149/2023), and then the area is judged against the
/// residence. A referral decided by residence without that basis is itself in the wrong area.
/// No deadline opens here: the area's deadlines start at its receipt (24 §, [`on_receipt`]).
pub fn decide_referral(r: &Referral, registry: &Registry) -> Decision {
    let mut d = Decision::default();
    let on = r.date;
    let wrong = |detail: String, rule: &str| Draft {
        kind: ComplianceKind::WrongArea,
        area: r.area.clone(),
        referral_id: r.referral_id.clone(),
        pseudonym: r.pseudonym.clone(),
        municipality: r.municipality_code.clone(),
        deadline_id: None,
        retracts_deadline: None,
        deadline: None,
        due: None,
        date: on,
        detail,
        rule: rule.to_owned(),
    };
    let (code, rule) = if r.decided_by_residence {
        let lawful =
            on >= residence_basis_from() && r.grounds.iter().any(|g| g == TEMPORARY_PROTECTION);
        if !lawful {
            d.events.push(wrong(
                format!(
                    "referral decided by residence on {on} without temporary protection in force \
                     (the residence decides only for temporary protection from 2023-03-01)"
                ),
                "1269/2020 5 § 1 mom (home municipality decides); 4 § 2 mom as amended by 149/2023",
            ));
            return d;
        }
        let residence = if r.residence_municipality_code.is_empty() {
            &r.municipality_code
        } else {
            &r.residence_municipality_code
        };
        (
            residence,
            "1269/2020 4 § 2 mom as amended by 149/2023 (residence decides for temporary protection)",
        )
    } else {
        (
            &r.municipality_code,
            "1269/2020 5 § 1 mom (home municipality decides)",
        )
    };
    let competent = registry.area_for_municipality(code, on);
    if competent.is_none_or(|a| a.slug != r.area) {
        let detail = match competent {
            Some(a) => format!(
                "municipality {code} belongs to area {} on {on}, not {}",
                a.slug, r.area
            ),
            None => format!("municipality {code} is in no trial area on {on}"),
        };
        d.events.push(wrong(detail, rule));
    }
    d
}

/// The area received the referral on `received` (at `at`): the case's deadlines open
/// ([`on_receipt`]).
pub fn decide_receipt(
    intake: &Intake,
    received: NaiveDate,
    at: DateTime<Utc>,
    ack_working_days: u32,
) -> Decision {
    Decision {
        case: Some(CaseUpdate::Received { on: received, at }),
        opens: on_receipt(intake, received, ack_working_days)
            .into_iter()
            .map(Opening::open)
            .collect(),
        ..Decision::default()
    }
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
        let which = (kind, Some(dl.id));
        if status == DeadlineStatus::Met && dl.status == DeadlineStatus::Missed {
            // Met on time, but the fact reached AVI after the sweep published the miss: the
            // miss does not stand, and one correction says so (no MET_LATE).
            d.events.push(deadline_event(
                ComplianceKind::Retraction,
                case,
                which,
                dl.due,
                on,
                &dl.rule,
            ));
        }
        if status == DeadlineStatus::MetLate {
            if dl.status == DeadlineStatus::Open {
                d.events.push(deadline_event(
                    ComplianceKind::DeadlineMissed,
                    case,
                    which,
                    dl.due,
                    dl.due,
                    &dl.rule,
                ));
            }
            d.events.push(deadline_event(
                ComplianceKind::DeadlineMetLate,
                case,
                which,
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
            municipality: case.municipality_code.clone(),
            deadline_id: None,
            retracts_deadline: None,
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
            (DeadlineKind::Statement, None),
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
        (dl.kind, Some(dl.id)),
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
