//! NATS subjects and JetStream streams of the Kokeilu contracts.
//!
//! Every subject carries the owning or receiving trial area as a token, so NATS permissions can
//! confine each agency to its own subjects (see `deploy/nats`).

/// Stream of the referral family.
pub const REFERRAL_STREAM: &str = "KOKEILU_REFERRAL";
/// Every subject of the referral family.
pub const REFERRAL_ALL: &str = "kokeilu.v1.referral.>";
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
