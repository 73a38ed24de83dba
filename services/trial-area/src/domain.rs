//! The trial area's rules for incoming referrals, free of wire and storage types.

use kokeilu_platform::grpc::FieldViolation;

/// Where an incoming referral is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingStatus {
    Received = 1,
    Acknowledged = 2,
    Rejected = 3,
}

impl IncomingStatus {
    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            1 => Self::Received,
            2 => Self::Acknowledged,
            3 => Self::Rejected,
            _ => return None,
        })
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

impl RejectionReason {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            1 => Self::NotOurResident,
            2 => Self::NotInTargetGroup,
            3 => Self::DuplicateClient,
            4 => Self::DataError,
            _ => return None,
        })
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
        let reason = RejectionReason::from_i32(reason);
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

/// Whether free text carries something shaped like a henkilötunnus: it must never.
pub fn contains_identity_code(text: &str) -> bool {
    kokeilu_platform::privacy::contains_identity_code(text.as_bytes())
}

/// Checks the area named in a request against this deployment's area.
pub fn check_area(requested: &str, own: &str) -> Result<(), AreaMismatch> {
    if requested.is_empty() {
        Err(AreaMismatch::Missing)
    } else if requested != own {
        Err(AreaMismatch::Other(requested.to_owned()))
    } else {
        Ok(())
    }
}

/// A request for an area this deployment does not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AreaMismatch {
    Missing,
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn requests_for_another_area_are_told_apart() {
        assert_eq!(check_area("kainuu", "kainuu"), Ok(()));
        assert_eq!(check_area("", "kainuu"), Err(AreaMismatch::Missing));
        assert_eq!(
            check_area("helsinki", "kainuu"),
            Err(AreaMismatch::Other("helsinki".into()))
        );
    }
}
