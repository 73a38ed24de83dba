//! The trial area's rules for incoming referrals and their clients, free of wire and storage
//! types.
//!
//! The use cases load what they need through the store, ask a pure function here for the
//! decision (acknowledge, reject, record, transfer), and write that decision through the store.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_platform::grpc::FieldViolation;
use kokeilu_rules::competence::StatementSubject;
use kokeilu_rules::deadlines::{AreaInterview, NoInterview, area_initial_interview};
use kokeilu_rules::suspension::{CLIENT_GROUPS, Suspension};

pub mod trust;

/// A number that no variant of a stored enum has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value} is no {what}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: i64,
}

/// Where an incoming referral is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingStatus {
    Received = 1,
    Acknowledged = 2,
    Rejected = 3,
}

impl TryFrom<i64> for IncomingStatus {
    type Error = UnknownValue;

    fn try_from(v: i64) -> Result<Self, UnknownValue> {
        Ok(match v {
            1 => Self::Received,
            2 => Self::Acknowledged,
            3 => Self::Rejected,
            value => {
                return Err(UnknownValue {
                    what: "incoming status",
                    value,
                });
            }
        })
    }
}

impl From<IncomingStatus> for i64 {
    fn from(s: IncomingStatus) -> i64 {
        s as i64
    }
}

/// Why an area rejects a referral (the wire enum's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionReason {
    NotOurResident = 1,
    NotInTargetGroup = 2,
    DuplicateClient = 3,
    DataError = 4,
}

impl TryFrom<i64> for RejectionReason {
    type Error = UnknownValue;

    fn try_from(v: i64) -> Result<Self, UnknownValue> {
        Ok(match v {
            1 => Self::NotOurResident,
            2 => Self::NotInTargetGroup,
            3 => Self::DuplicateClient,
            4 => Self::DataError,
            value => {
                return Err(UnknownValue {
                    what: "rejection reason",
                    value,
                });
            }
        })
    }
}

impl From<RejectionReason> for i64 {
    fn from(r: RejectionReason) -> i64 {
        r as i64
    }
}

/// A referral the TE office addressed to this area, as the area holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingReferral {
    pub referral_id: String,
    pub area_id: String,
    pub henkilotunnus: String,
    pub home_municipality_code: String,
    pub grounds: Vec<i32>,
    pub job_search_start: NaiveDate,
    pub referral_date: NaiveDate,
    pub status: IncomingStatus,
    pub received_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Set once the referral is rejected.
    pub rejection_reason: Option<RejectionReason>,
    pub rejection_detail: String,
    pub issued_message_id: String,
    /// The client's pseudonym, as the TE office sent it with the referral (the area has no key).
    pub client_pseudonym: String,
    /// Id of the TE office's key that made `client_pseudonym`.
    pub pseudonym_key_id: String,
    /// Trace context of the referral, so every later message about it joins the same trace.
    pub trace_context: Vec<(String, String)>,
    /// Feed position of the latest change (of this change, when read from the feed).
    pub cursor: i64,
    /// Place of residence (JTYPL 1:9.2), when the TE office knew it.
    pub residence_municipality_code: String,
    /// The area was chosen by place of residence (temporary protection, 149/2023).
    pub decided_by_residence: bool,
    /// The TE office's initial interview of this job search, if it held one.
    pub te_office_interview: Option<NaiveDate>,
    /// The end of the client's previous job search, if any (the 6-month rule).
    pub previous_job_search_end: Option<NaiveDate>,
    /// The plan that came with the referral: it binds until the area revises it (24 § 3 mom).
    pub employment_plan: Option<Plan>,
    /// The day the area revised the plan (first recorded an employment plan of its own).
    pub plan_revised_on: Option<NaiveDate>,
}

/// An employment plan made before the transfer (1269/2020 24 § 3 mom; 5 §).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// The TE office's id of the plan (no personal data).
    pub plan_id: String,
    /// The wire's PlanKind number.
    pub kind: i32,
    pub made_on: NaiveDate,
    pub next_review_on: Option<NaiveDate>,
}

impl IncomingReferral {
    /// The client's municipality inside the area: the residence when it decided the area
    /// (149/2023), else the home municipality. Facts, units and suspensions go by it.
    pub fn municipality_code(&self) -> &str {
        if self.decided_by_residence && !self.residence_municipality_code.is_empty() {
            &self.residence_municipality_code
        } else {
            &self.home_municipality_code
        }
    }

    /// The Finnish calendar date of receipt: the area's competence starts then (24 §).
    pub fn received_on(&self) -> NaiveDate {
        kokeilu_platform::clock::finnish_date(self.received_at)
    }

    /// The referral's target-group grounds by name, as suspension scopes name client groups
    /// ([`CLIENT_GROUPS`]: the wire's TargetGroupGround numbers 1–6 in order).
    pub fn ground_names(&self) -> Vec<&'static str> {
        self.grounds
            .iter()
            .filter_map(|g| {
                usize::try_from(*g)
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| CLIENT_GROUPS.get(i).copied())
            })
            .collect()
    }

    /// The initial interview the area owes the client (1269/2020 24 §: counted from receipt
    /// when the statutory deadline fell before it; none when the TE office held it or under the
    /// 6-month rule).
    pub fn initial_interview(&self) -> AreaInterview {
        area_initial_interview(
            self.job_search_start,
            self.received_on(),
            self.te_office_interview,
            self.previous_job_search_end,
        )
    }
}

/// The rule text shown with an [`AreaInterview`]: the section, and the interpretation when the
/// due date rests on one.
pub fn interview_rule(interview: &AreaInterview) -> String {
    match interview {
        AreaInterview::Required(due) => match due.interpretation {
            Some(why) => format!("{} (interpretation: {why})", due.rule.law),
            None => due.rule.law.to_owned(),
        },
        AreaInterview::NotRequired {
            why: NoInterview::HeldByTeOffice,
        } => "not required: the TE office held the initial interview of this job search \
              (1269/2020 24 §)"
            .to_owned(),
        AreaInterview::NotRequired {
            why: NoInterview::SixMonthRule,
        } => "not required: the previous job search ended less than 6 months before this one \
              began (JTYPL 2:4 as amended by 1379/2021)"
            .to_owned(),
    }
}

/// A validated rejection.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub reason: RejectionReason,
    pub detail: String,
}

impl Rejection {
    pub fn validate(reason: i32, detail: &str) -> Result<Self, Vec<FieldViolation>> {
        let mut bad = Vec::new();
        let reason = RejectionReason::try_from(i64::from(reason)).ok();
        if reason.is_none() {
            bad.push(FieldViolation::new(
                "reason",
                "required: NOT_OUR_RESIDENT, NOT_IN_TARGET_GROUP, DUPLICATE_CLIENT or DATA_ERROR",
            ));
        }
        let detail = detail.trim();
        if detail.chars().count() > 500 {
            bad.push(FieldViolation::new("detail", "at most 500 characters"));
        } else if contains_identity_code(detail) {
            bad.push(FieldViolation::new(
                "detail",
                "must not contain a personal identity code",
            ));
        }
        match reason {
            Some(reason) if bad.is_empty() => Ok(Self {
                reason,
                detail: detail.to_owned(),
            }),
            _ => Err(bad),
        }
    }
}

/// A service event the law requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceEvent {
    InitialInterview = 1,
    EmploymentPlan = 2,
    JobSearchDiscussion = 3,
}

impl TryFrom<i64> for ServiceEvent {
    type Error = UnknownValue;

    fn try_from(v: i64) -> Result<Self, UnknownValue> {
        Ok(match v {
            1 => Self::InitialInterview,
            2 => Self::EmploymentPlan,
            3 => Self::JobSearchDiscussion,
            value => {
                return Err(UnknownValue {
                    what: "service event kind",
                    value,
                });
            }
        })
    }
}

impl From<ServiceEvent> for i64 {
    fn from(k: ServiceEvent) -> i64 {
        k as i64
    }
}

/// A service event recorded for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub event_id: String,
    pub referral_id: String,
    pub kind: ServiceEvent,
    pub date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
}

/// A validated statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub subject: StatementSubject,
    pub subject_name: String,
    pub information_received: NaiveDate,
    pub date: NaiveDate,
}

/// A statement as recorded, with whether the area was competent to issue it.
#[derive(Debug, Clone)]
pub struct RecordedStatement {
    pub statement_id: String,
    pub referral_id: String,
    pub statement: Statement,
    pub within_competence: bool,
    pub recorded_at: DateTime<Utc>,
}

/// A client's move out of the area's services: to another area's slug or to "te-office".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub destination: String,
    pub date: NaiveDate,
}

/// Why the area refuses a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The referral already has another decision (`"rejected"`, `"acknowledged"`).
    AlreadyDecided(&'static str),
    /// Only acknowledged clients have service events, statements and transfers.
    NotAClient,
    /// The client left for `destination`; nothing more is recorded.
    Transferred(String),
    /// A request field contradicts the stored referral.
    Field(&'static str, &'static str),
    /// AVI's suspension `action_id`, in force since `since`, covers it (1269/2020 22 §).
    Suspended { action_id: String, since: NaiveDate },
}

/// Whether AVI's suspensions let the area act for `client` on `date`: a suspension in force that
/// covers the client (by the referral's grounds and the client's municipality) ended the area's
/// organising responsibility and competence for them (1269/2020 22 §).
//
// Moving the covered clients back to the TE office in bulk is issue 11; until then the area
// keeps them but records nothing more for them.
pub fn check_client_not_suspended(
    suspensions: &[Suspension],
    client: &IncomingReferral,
    date: NaiveDate,
) -> Result<(), Refusal> {
    let grounds = client.ground_names();
    match suspensions
        .iter()
        .find(|s| s.covers_client(date, &grounds, client.municipality_code()))
    {
        Some(s) => Err(Refusal::Suspended {
            action_id: s.action_id.clone(),
            since: s.from,
        }),
        None => Ok(()),
    }
}

/// Whether the area is still competent for statements on `subject` on `date`: a suspension in
/// force covering the subject returns it to the TE office (1269/2020 22 §).
pub fn check_statement_not_suspended(
    suspensions: &[Suspension],
    subject: &str,
    date: NaiveDate,
) -> Result<(), Refusal> {
    match suspensions
        .iter()
        .find(|s| s.covers_statement(date, subject))
    {
        Some(s) => Err(Refusal::Suspended {
            action_id: s.action_id.clone(),
            since: s.from,
        }),
        None => Ok(()),
    }
}

/// What a change does to a stored referral.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<T> {
    /// The same change was made before: answer as then, write nothing.
    Repeat,
    /// Write this.
    Apply(T),
}

/// Acknowledging `current` at `now`: the referral as decided, or a repeat.
pub fn acknowledge(
    current: &IncomingReferral,
    now: DateTime<Utc>,
) -> Result<Step<IncomingReferral>, Refusal> {
    match current.status {
        IncomingStatus::Acknowledged => Ok(Step::Repeat),
        IncomingStatus::Rejected => Err(Refusal::AlreadyDecided("rejected")),
        IncomingStatus::Received => Ok(Step::Apply(IncomingReferral {
            status: IncomingStatus::Acknowledged,
            decided_at: Some(now),
            ..current.clone()
        })),
    }
}

/// Rejecting `current` at `now`; rejecting again for the same reason is a repeat.
pub fn reject(
    current: &IncomingReferral,
    rejection: &Rejection,
    now: DateTime<Utc>,
) -> Result<Step<IncomingReferral>, Refusal> {
    match current.status {
        IncomingStatus::Rejected if current.rejection_reason == Some(rejection.reason) => {
            Ok(Step::Repeat)
        }
        IncomingStatus::Rejected => Err(Refusal::AlreadyDecided("rejected")),
        IncomingStatus::Acknowledged => Err(Refusal::AlreadyDecided("acknowledged")),
        IncomingStatus::Received => Ok(Step::Apply(IncomingReferral {
            status: IncomingStatus::Rejected,
            decided_at: Some(now),
            rejection_reason: Some(rejection.reason),
            rejection_detail: rejection.detail.clone(),
            ..current.clone()
        })),
    }
}

/// Whether something may be recorded about `client` (who may have left through `transfer`).
pub fn may_record(client: &IncomingReferral, transfer: Option<&Transfer>) -> Result<(), Refusal> {
    if client.status != IncomingStatus::Acknowledged {
        return Err(Refusal::NotAClient);
    }
    match transfer {
        Some(t) => Err(Refusal::Transferred(t.destination.clone())),
        None => Ok(()),
    }
}

/// Whether a service event on `date` fits `client`'s job search.
pub fn check_event_date(client: &IncomingReferral, date: NaiveDate) -> Result<(), Refusal> {
    if date < client.job_search_start {
        Err(Refusal::Field("date", "is before the job search started"))
    } else {
        Ok(())
    }
}

/// Transferring `client` as `requested`, given the transfer already stored (if any).
pub fn transfer(
    client: &IncomingReferral,
    stored: Option<&Transfer>,
    requested: Transfer,
) -> Result<Step<Transfer>, Refusal> {
    if client.status != IncomingStatus::Acknowledged {
        return Err(Refusal::NotAClient);
    }
    if let Some(stored) = stored {
        return if *stored == requested {
            Ok(Step::Repeat)
        } else {
            Err(Refusal::Transferred(stored.destination.clone()))
        };
    }
    check_event_date(client, requested.date)?;
    Ok(Step::Apply(requested))
}

/// Whether free text carries something shaped like a henkilötunnus: it must never.
pub fn contains_identity_code(text: &str) -> bool {
    kokeilu_platform::privacy::contains_identity_code(text.as_bytes())
}

/// Checks who acts, and for which area: the acting area is the caller certificate's
/// (`certified`), never a request field. The certificate must be this deployment's area (the
/// authorisation table already admits no other); a request may leave `area_id` empty or name
/// that same area, and naming any other is refused.
pub fn check_area(certified: Option<&str>, requested: &str, own: &str) -> Result<(), AreaMismatch> {
    match certified {
        Some(area) if area == own => {}
        _ => return Err(AreaMismatch::NotThisArea),
    }
    if requested.is_empty() || requested == own {
        Ok(())
    } else {
        Err(AreaMismatch::Other)
    }
}

/// A request that acts, or names, an area the caller's certificate does not act for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaMismatch {
    /// The certificate is not this deployment's area.
    NotThisArea,
    /// `area_id` names another area.
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received() -> IncomingReferral {
        IncomingReferral {
            referral_id: "r".into(),
            area_id: "kainuu".into(),
            henkilotunnus: String::new(),
            home_municipality_code: "205".into(),
            grounds: vec![1],
            job_search_start: NaiveDate::from_ymd_opt(2024, 8, 28).unwrap(),
            referral_date: NaiveDate::from_ymd_opt(2024, 9, 2).unwrap(),
            status: IncomingStatus::Received,
            received_at: DateTime::UNIX_EPOCH,
            decided_at: None,
            rejection_reason: None,
            rejection_detail: String::new(),
            issued_message_id: "m".into(),
            client_pseudonym: "ab".repeat(32),
            pseudonym_key_id: "k1".into(),
            trace_context: vec![],
            cursor: 1,
            residence_municipality_code: String::new(),
            decided_by_residence: false,
            te_office_interview: None,
            previous_job_search_end: None,
            employment_plan: None,
            plan_revised_on: None,
        }
    }

    #[test]
    fn identity_codes_in_free_text_are_caught() {
        assert!(contains_identity_code(
            "asiakas 131052-308T ei asu alueella"
        ));
        assert!(contains_identity_code("010101A123B"));
        assert!(!contains_identity_code("ei asu alueella, muutti 2023"));
        assert!(!contains_identity_code("puh. 040-1234567"));
    }

    #[test]
    fn a_rejection_needs_a_known_reason() {
        assert!(Rejection::validate(0, "").is_err());
        assert!(Rejection::validate(9, "").is_err());
        let r = Rejection::validate(1, " muutti pois ").unwrap();
        assert_eq!(r.reason, RejectionReason::NotOurResident);
        assert_eq!(r.detail, "muutti pois");
        let errs = Rejection::validate(4, "hetu 131052-308T väärin").unwrap_err();
        assert_eq!(errs[0].field, "detail");
    }

    #[test]
    fn the_acting_area_is_the_certificates_and_a_request_cannot_name_another() {
        let own = Some("kainuu");
        assert_eq!(check_area(own, "kainuu", "kainuu"), Ok(()));
        assert_eq!(check_area(own, "", "kainuu"), Ok(()));
        assert_eq!(
            check_area(own, "helsinki", "kainuu"),
            Err(AreaMismatch::Other)
        );
        assert_eq!(
            check_area(Some("helsinki"), "helsinki", "kainuu"),
            Err(AreaMismatch::NotThisArea)
        );
        assert_eq!(
            check_area(None, "kainuu", "kainuu"),
            Err(AreaMismatch::NotThisArea)
        );
    }

    #[test]
    fn stored_numbers_round_trip_and_unknown_ones_are_refused() {
        for s in [
            IncomingStatus::Received,
            IncomingStatus::Acknowledged,
            IncomingStatus::Rejected,
        ] {
            assert_eq!(IncomingStatus::try_from(i64::from(s)), Ok(s));
        }
        for k in [
            ServiceEvent::InitialInterview,
            ServiceEvent::EmploymentPlan,
            ServiceEvent::JobSearchDiscussion,
        ] {
            assert_eq!(ServiceEvent::try_from(i64::from(k)), Ok(k));
        }
        assert!(IncomingStatus::try_from(0).is_err());
        assert!(IncomingStatus::try_from(4).is_err());
        assert!(ServiceEvent::try_from(9).is_err());
        assert!(RejectionReason::try_from(0).is_err());
    }

    #[test]
    fn decisions_on_a_referral() {
        let now = DateTime::UNIX_EPOCH + chrono::Duration::days(1);
        let r = received();
        let Ok(Step::Apply(acked)) = acknowledge(&r, now) else {
            panic!("a received referral is acknowledged");
        };
        assert_eq!(acked.status, IncomingStatus::Acknowledged);
        assert_eq!(acked.decided_at, Some(now));
        assert_eq!(acknowledge(&acked, now), Ok(Step::Repeat));

        let rejection = Rejection::validate(1, "muutti").unwrap();
        assert_eq!(
            reject(&acked, &rejection, now),
            Err(Refusal::AlreadyDecided("acknowledged"))
        );
        let Ok(Step::Apply(rejected)) = reject(&r, &rejection, now) else {
            panic!("a received referral is rejected");
        };
        assert_eq!(
            rejected.rejection_reason,
            Some(RejectionReason::NotOurResident)
        );
        assert_eq!(reject(&rejected, &rejection, now), Ok(Step::Repeat));
        let other = Rejection::validate(2, "").unwrap();
        assert_eq!(
            reject(&rejected, &other, now),
            Err(Refusal::AlreadyDecided("rejected"))
        );
        assert_eq!(
            acknowledge(&rejected, now),
            Err(Refusal::AlreadyDecided("rejected"))
        );
    }

    #[test]
    fn only_clients_who_stayed_are_recorded_or_transferred() {
        let r = received();
        assert_eq!(may_record(&r, None), Err(Refusal::NotAClient));
        let client = IncomingReferral {
            status: IncomingStatus::Acknowledged,
            ..r
        };
        assert_eq!(may_record(&client, None), Ok(()));
        let to_oulu = Transfer {
            destination: "oulu".into(),
            date: client.job_search_start,
        };
        assert_eq!(
            may_record(&client, Some(&to_oulu)),
            Err(Refusal::Transferred("oulu".into()))
        );
        assert_eq!(
            transfer(&client, None, to_oulu.clone()),
            Ok(Step::Apply(to_oulu.clone()))
        );
        assert_eq!(
            transfer(&client, Some(&to_oulu), to_oulu.clone()),
            Ok(Step::Repeat)
        );
        let later = Transfer {
            date: client.job_search_start + chrono::Duration::days(1),
            ..to_oulu.clone()
        };
        assert_eq!(
            transfer(&client, Some(&to_oulu), later),
            Err(Refusal::Transferred("oulu".into()))
        );
        let early = Transfer {
            date: client.job_search_start - chrono::Duration::days(1),
            ..to_oulu
        };
        assert_eq!(
            transfer(&client, None, early),
            Err(Refusal::Field("date", "is before the job search started"))
        );
    }
}
