//! NATS subjects and JetStream streams of the Kokeilu contracts.
//!
//! Every subject carries a token that NATS permissions pin to one party (see `deploy/nats`): the
//! trial area for referrals, answers and an area's facts, `te-office` for the TE office's facts.
//! [`crate::party`] reads the publishing party back from a subject.

/// Stream of the referral family.
pub const REFERRAL_STREAM: &str = "KOKEILU_REFERRAL";
/// Every subject of the referral family.
pub const REFERRAL_ALL: &str = "kokeilu.v1.referral.>";
/// Stream of pseudonymised service facts (parties → AVI).
pub const SUPERVISION_STREAM: &str = "KOKEILU_SUPERVISION";
pub const SUPERVISION_ALL: &str = "kokeilu.v1.supervision.>";
/// Stream of compliance events (AVI → subscribers).
pub const COMPLIANCE_STREAM: &str = "KOKEILU_COMPLIANCE";
pub const COMPLIANCE_ALL: &str = "kokeilu.v1.compliance.>";
/// Stream of AVI's actions and the areas' answers.
pub const AVI_STREAM: &str = "KOKEILU_AVI";
pub const AVI_ALL: &str = "kokeilu.v1.avi.>";
/// Stream of dead-lettered messages.
pub const DEAD_LETTER_STREAM: &str = "KOKEILU_DLQ";
/// Every dead-letter subject.
pub const DEAD_LETTER_ALL: &str = "kokeilu.v1.dlq.>";

/// TE office → area: a referral.
pub fn referral_issued(area: &str) -> String {
    format!("kokeilu.v1.referral.{area}.issued")
}

/// Area → TE office: the referral is in the area's database.
pub fn referral_received(area: &str) -> String {
    format!("kokeilu.v1.referral.{area}.received")
}

/// Area → TE office: the client is acknowledged.
pub fn referral_acknowledged(area: &str) -> String {
    format!("kokeilu.v1.referral.{area}.acknowledged")
}

/// Area → TE office: the referral is rejected.
pub fn referral_rejected(area: &str) -> String {
    format!("kokeilu.v1.referral.{area}.rejected")
}

/// The subject token of the TE office; never an area slug.
pub const TE_OFFICE_TOKEN: &str = "te-office";
/// The subject token of AVI; never an area slug.
pub const AVI_TOKEN: &str = "avi";

/// Area → AVI: a pseudonymised service fact about a client of `area`.
pub fn supervision_fact(area: &str) -> String {
    format!("kokeilu.v1.supervision.{area}.fact")
}

/// TE office → AVI: a pseudonymised service fact (the area is named in the payload). Its own
/// subject, which no area may publish on, so an area cannot forge a fact "from the TE office".
pub fn te_office_fact() -> String {
    format!("kokeilu.v1.supervision.{TE_OFFICE_TOKEN}.fact")
}

/// AVI → subscribers: a compliance event of `area`, `kind` being e.g. "deadline_missed".
pub fn compliance(area: &str, kind: &str) -> String {
    format!("kokeilu.v1.compliance.{area}.{kind}")
}

/// AVI → area (and TE office): a supervisory action.
pub fn avi_action(area: &str) -> String {
    format!("kokeilu.v1.avi.{area}.action")
}

/// Area → AVI: the answer to an information request.
pub fn avi_answer(area: &str) -> String {
    format!("kokeilu.v1.avi.{area}.answer")
}

/// Where a consumer's poison messages go.
pub fn dead_letter(consumer: &str) -> String {
    format!("kokeilu.v1.dlq.{consumer}")
}

/// Whether `s` is usable as one subject token (area slugs, consumer names).
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_carry_the_area_token() {
        assert_eq!(
            referral_issued("kainuu"),
            "kokeilu.v1.referral.kainuu.issued"
        );
        assert_eq!(
            referral_rejected("helsinki"),
            "kokeilu.v1.referral.helsinki.rejected"
        );
        assert!(is_token("vantaa-kerava"));
        assert!(!is_token("a.b"));
        assert!(!is_token("*"));
        assert!(!is_token(""));
    }
}
