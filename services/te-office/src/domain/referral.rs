//! A referral as the TE office keeps it: its status, grounds and history, the suspensions AVI
//! orders, and the rule that decides what an area's answer changes.
//!
//! Stored numbers convert to these types fallibly: a value no variant has is a
//! [`BadStoredValue`], never a default.

use chrono::{DateTime, NaiveDate, Utc};

/// A stored value that means nothing to the TE office (an unknown status or ground number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not a known value")]
pub struct BadStoredValue {
    pub what: &'static str,
    pub value: String,
}

impl BadStoredValue {
    pub fn new(what: &'static str, value: impl ToString) -> Self {
        Self {
            what,
            value: value.to_string(),
        }
    }
}

/// Target-group grounds (1269/2020 4 §), as stored (the wire enum's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ground {
    NoEarningsRelatedAllowance = 1,
    Under30 = 2,
    Immigrant = 3,
    ForeignLanguage = 4,
    AtRiskOfUnemployment = 5,
    TemporaryProtection = 6,
}

impl Ground {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            1 => Self::NoEarningsRelatedAllowance,
            2 => Self::Under30,
            3 => Self::Immigrant,
            4 => Self::ForeignLanguage,
            5 => Self::AtRiskOfUnemployment,
            6 => Self::TemporaryProtection,
            _ => return None,
        })
    }

    /// The wire ground for a rules ground, where the wire has one.
    pub fn from_rule(g: kokeilu_rules::eligibility::Ground) -> Option<Self> {
        use kokeilu_rules::eligibility::Ground as R;
        Some(match g {
            R::NoEarningsRelatedAllowance => Self::NoEarningsRelatedAllowance,
            R::Under30 => Self::Under30,
            R::Immigrant => Self::Immigrant,
            R::ForeignLanguage => Self::ForeignLanguage,
            R::AtRiskOfUnemployment => Self::AtRiskOfUnemployment,
            R::TemporaryProtection => Self::TemporaryProtection,
            _ => return None,
        })
    }

    /// The rules' ground (for the declared-grounds check).
    pub fn to_rule(self) -> kokeilu_rules::eligibility::Ground {
        use kokeilu_rules::eligibility::Ground as R;
        match self {
            Self::NoEarningsRelatedAllowance => R::NoEarningsRelatedAllowance,
            Self::Under30 => R::Under30,
            Self::Immigrant => R::Immigrant,
            Self::ForeignLanguage => R::ForeignLanguage,
            Self::AtRiskOfUnemployment => R::AtRiskOfUnemployment,
            Self::TemporaryProtection => R::TemporaryProtection,
        }
    }

    /// The rule name AVI's facts and suspension scopes use (`kokeilu_rules::suspension::
    /// CLIENT_GROUPS`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NoEarningsRelatedAllowance => "no_earnings_related_allowance",
            Self::Under30 => "under_30",
            Self::Immigrant => "immigrant",
            Self::ForeignLanguage => "foreign_language",
            Self::AtRiskOfUnemployment => "at_risk_of_unemployment",
            Self::TemporaryProtection => "temporary_protection",
        }
    }

    /// Stored form: comma-separated numbers (also part of a request's fingerprint).
    pub fn encode_list(grounds: &[Ground]) -> String {
        grounds
            .iter()
            .map(|g| (*g as i32).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The inverse of [`Ground::encode_list`]; any part that is not a ground is an error.
    pub fn decode_list(s: &str) -> Result<Vec<Ground>, BadStoredValue> {
        if s.is_empty() {
            return Ok(Vec::new());
        }
        s.split(',')
            .map(|p| {
                p.trim()
                    .parse()
                    .ok()
                    .and_then(Ground::from_i32)
                    .ok_or_else(|| BadStoredValue::new("ground list", s))
            })
            .collect()
    }
}

/// The kind of plan that travels with a referral (1269/2020 9 §), as stored (the wire numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    Employment = 1,
    Activation = 2,
    Integration = 3,
    /// Multi-sector joint service (TYP).
    Multisector = 4,
}

impl PlanKind {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            1 => Self::Employment,
            2 => Self::Activation,
            3 => Self::Integration,
            4 => Self::Multisector,
            _ => return None,
        })
    }
}

impl TryFrom<i64> for PlanKind {
    type Error = BadStoredValue;

    fn try_from(v: i64) -> Result<Self, Self::Error> {
        i32::try_from(v)
            .ok()
            .and_then(Self::from_i32)
            .ok_or_else(|| BadStoredValue::new("plan kind", v))
    }
}

/// A plan made before the transfer: it keeps binding the client and the area until the area
/// revises it (1269/2020 24 § 3 mom; 5 §).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmploymentPlan {
    /// The TE office's id of the plan (no personal data).
    pub plan_id: String,
    pub kind: PlanKind,
    pub made_on: NaiveDate,
    pub next_review_on: Option<NaiveDate>,
}

/// Where a referral is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Issued = 1,
    Delivered = 2,
    Acknowledged = 3,
    Rejected = 4,
}

impl Status {
    /// Whether the area has not decided yet.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Issued | Self::Delivered)
    }
}

impl TryFrom<i64> for Status {
    type Error = BadStoredValue;

    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Ok(match v {
            1 => Self::Issued,
            2 => Self::Delivered,
            3 => Self::Acknowledged,
            4 => Self::Rejected,
            _ => return Err(BadStoredValue::new("referral status", v)),
        })
    }
}

impl From<Status> for i64 {
    fn from(s: Status) -> Self {
        s as i64
    }
}

/// A referral as the TE office keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub referral_id: String,
    pub idempotency_key: String,
    /// Fingerprint of the request, to tell a retry from a reused key.
    pub request_hash: String,
    pub henkilotunnus: String,
    pub home_municipality_code: String,
    pub area_id: String,
    pub grounds: Vec<Ground>,
    pub job_search_start: NaiveDate,
    pub referral_date: NaiveDate,
    pub status: Status,
    /// The area's reason (the wire enum's number), 0 unless rejected.
    pub rejection_reason: i32,
    pub issued_message_id: String,
    pub created_at: DateTime<Utc>,
    /// Place of residence (JTYPL 1:9.2), when known.
    pub residence_municipality_code: String,
    /// The area was chosen by place of residence (temporary protection, 149/2023).
    pub decided_by_residence: bool,
    /// The TE office's initial interview of this job search, if held.
    pub initial_interview_date: Option<NaiveDate>,
    /// The end of the previous job search, if any (the 6-month rule, 1381/2021).
    pub previous_job_search_end: Option<NaiveDate>,
    /// The plan in force at the transfer, if any.
    pub employment_plan: Option<EmploymentPlan>,
}

impl Referral {
    /// The municipality that decided the area: the residence when decided by residence
    /// (149/2023), else the home municipality (1269/2020 5 § 1 mom).
    pub fn deciding_municipality(&self) -> &str {
        if self.decided_by_residence {
            &self.residence_municipality_code
        } else {
            &self.home_municipality_code
        }
    }
}

/// One entry of a referral's status history, which is also the `WatchReferrals` feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// Position in the feed.
    pub seq: i64,
    pub referral_id: String,
    pub area_id: String,
    pub status: Status,
    pub at: DateTime<Utc>,
    pub detail: String,
}

/// Which referrals a listing shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct ReferralFilter {
    pub area_id: Option<String>,
    pub status: Option<Status>,
    pub limit: i64,
    /// Keyset cursor: (created_at micros, referral_id) of the last row of the previous page.
    pub after: Option<(i64, String)>,
}

/// A suspension AVI ordered for a trial area (1269/2020 22 §).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    pub action_id: String,
    pub area_id: String,
    pub effective_from: NaiveDate,
    /// Part of the area only: it covers what `scope` names.
    pub partial: bool,
    /// What a partial suspension covers (`None` for a full one).
    pub scope: Option<kokeilu_rules::suspension::Scope>,
    /// Lifted from this day (AVI's LIFT_SUSPENSION), if lifted.
    pub lifted_from: Option<NaiveDate>,
    pub text: String,
}

impl Suspension {
    /// The rules' view of it, which decides what it covers on a date.
    pub fn rule(&self) -> kokeilu_rules::suspension::Suspension {
        kokeilu_rules::suspension::Suspension {
            action_id: self.action_id.clone(),
            area: self.area_id.clone(),
            from: self.effective_from,
            lifted_from: self.lifted_from,
            scope: if self.partial {
                Some(self.scope.clone().unwrap_or_default())
            } else {
                None
            },
        }
    }
}

/// What an area's answer does to a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerOutcome {
    /// The referral moves to the answered status, and the history records it.
    Advance,
    /// Only the history records it (a late "received" after the area decided).
    RecordOnly,
    /// Already applied: nothing changes.
    Unchanged,
    /// The answer contradicts the area's earlier decision.
    Conflict,
}

/// Decides what `answer` does to a referral that is `current`; `recorded` says whether the
/// history already has an entry with the answer's status. Answers move a referral forward,
/// never back.
pub fn answer_outcome(current: Status, answer: Status, recorded: bool) -> AnswerOutcome {
    match answer {
        Status::Delivered if current == Status::Issued => AnswerOutcome::Advance,
        Status::Delivered if recorded => AnswerOutcome::Unchanged,
        Status::Delivered => AnswerOutcome::RecordOnly,
        Status::Acknowledged | Status::Rejected if current.is_open() => AnswerOutcome::Advance,
        Status::Acknowledged | Status::Rejected if current != answer => AnswerOutcome::Conflict,
        _ => AnswerOutcome::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AnswerOutcome::*;
    use Status::*;

    #[test]
    fn answers_move_forward_only() {
        let table = [
            // (current, answer, recorded, outcome)
            (Issued, Delivered, false, Advance),
            (Delivered, Delivered, true, Unchanged),
            (Acknowledged, Delivered, false, RecordOnly),
            (Acknowledged, Delivered, true, Unchanged),
            (Rejected, Delivered, false, RecordOnly),
            (Issued, Acknowledged, false, Advance),
            (Delivered, Acknowledged, false, Advance),
            (Delivered, Rejected, false, Advance),
            (Acknowledged, Acknowledged, true, Unchanged),
            (Rejected, Rejected, true, Unchanged),
            (Acknowledged, Rejected, false, Conflict),
            (Rejected, Acknowledged, false, Conflict),
            (Issued, Issued, false, Unchanged),
        ];
        for (current, answer, recorded, outcome) in table {
            assert_eq!(
                answer_outcome(current, answer, recorded),
                outcome,
                "{current:?} answered {answer:?} (recorded: {recorded})"
            );
        }
    }

    #[test]
    fn stored_numbers_decode_or_fail() {
        for s in [Issued, Delivered, Acknowledged, Rejected] {
            assert_eq!(Status::try_from(i64::from(s)), Ok(s));
        }
        assert!(Status::try_from(0).is_err());
        assert!(Status::try_from(99).is_err());
        let grounds = vec![Ground::Under30, Ground::TemporaryProtection];
        assert_eq!(
            Ground::decode_list(&Ground::encode_list(&grounds)),
            Ok(grounds)
        );
        assert_eq!(Ground::decode_list(""), Ok(vec![]));
        assert!(Ground::decode_list("1,x").is_err());
        assert!(Ground::decode_list("1,9").is_err());
    }
}
