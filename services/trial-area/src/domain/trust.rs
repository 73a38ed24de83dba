//! Whose messages the area believes: the party NATS authenticated (the subject), never what a
//! message says about itself (DESIGN.md §5). A refusal is a security event; its text names
//! parties, areas and ids only.

use kokeilu_platform::privacy::is_pseudonym;
use kokeilu_proto::common::Agency;
use kokeilu_proto::party::{Party, bind};

/// A referral on `subject`: issued by the TE office (subject and sender), addressed to this area
/// (recipient, subject and payload), and carrying the client's pseudonym with its key id.
pub fn check_referral(
    subject: &str,
    sender: Option<&Agency>,
    recipient: Option<&Agency>,
    named_area: &str,
    own: &str,
) -> Result<(), String> {
    match bind(subject, sender, named_area).map_err(|r| r.to_string())? {
        Party::TeOffice => {}
        other => return Err(format!("{other} does not issue referrals")),
    }
    if named_area != own {
        return Err(format!("referral for area {named_area}, this is {own}"));
    }
    if !Party::Area(own.to_owned()).is(recipient) {
        return Err(format!(
            "referral for this area ({own}) addressed elsewhere"
        ));
    }
    Ok(())
}

/// The pseudonym a referral carries must look like one and name its key, or the area could not
/// report about the client to AVI.
pub fn check_pseudonym(pseudonym: &str, key_id: &str) -> Result<(), String> {
    if !is_pseudonym(pseudonym) {
        return Err("referral without a valid client pseudonym".into());
    }
    kokeilu_platform::privacy::check_key_id(key_id).map_err(|e| format!("referral: {e}"))
}

/// A supervisory action on `subject`: AVI's, about this area.
pub fn check_action(
    subject: &str,
    sender: Option<&Agency>,
    named_area: &str,
    own: &str,
) -> Result<(), String> {
    match bind(subject, sender, named_area).map_err(|r| r.to_string())? {
        Party::Avi if named_area == own => Ok(()),
        Party::Avi => Err(format!("action for area {named_area}, this is {own}")),
        other => Err(format!("{other} does not issue supervisory actions")),
    }
}

#[cfg(test)]
mod tests {
    use kokeilu_proto::common::AgencyKind;
    use kokeilu_proto::subjects;

    use super::*;

    fn agency(kind: AgencyKind, id: &str) -> Agency {
        Agency {
            kind: kind as i32,
            id: id.into(),
        }
    }

    #[test]
    fn a_referral_comes_from_the_te_office_to_this_area() {
        let te = agency(AgencyKind::TeOffice, "te-office");
        let kainuu = agency(AgencyKind::TrialArea, "kainuu");
        let helsinki = agency(AgencyKind::TrialArea, "helsinki");
        let s = subjects::referral_issued("kainuu");
        assert!(check_referral(&s, Some(&te), Some(&kainuu), "kainuu", "kainuu").is_ok());
        assert!(check_referral(&s, Some(&kainuu), Some(&kainuu), "kainuu", "kainuu").is_err());
        assert!(check_referral(&s, Some(&te), Some(&helsinki), "kainuu", "kainuu").is_err());
        assert!(check_referral(&s, Some(&te), Some(&kainuu), "helsinki", "kainuu").is_err());
        let h = subjects::referral_issued("helsinki");
        assert!(check_referral(&h, Some(&te), Some(&helsinki), "helsinki", "kainuu").is_err());
    }

    #[test]
    fn a_referral_carries_a_pseudonym_and_its_key_id() {
        assert!(check_pseudonym(&"0a".repeat(32), "2025-01").is_ok());
        assert!(check_pseudonym("", "2025-01").is_err());
        assert!(check_pseudonym(&"0a".repeat(32), "").is_err());
        assert!(check_pseudonym("131052-308T", "2025-01").is_err());
    }

    #[test]
    fn actions_are_avis_about_this_area() {
        let avi = agency(AgencyKind::Supervisor, "avi");
        let te = agency(AgencyKind::TeOffice, "te-office");
        let s = subjects::avi_action("kainuu");
        assert!(check_action(&s, Some(&avi), "kainuu", "kainuu").is_ok());
        assert!(check_action(&s, Some(&te), "kainuu", "kainuu").is_err());
        assert!(check_action(&s, Some(&avi), "helsinki", "kainuu").is_err());
        let h = subjects::avi_action("helsinki");
        assert!(check_action(&h, Some(&avi), "helsinki", "kainuu").is_err());
    }
}
