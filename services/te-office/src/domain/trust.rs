//! Whose messages the TE office believes: the party NATS authenticated (the subject), never what
//! a message says about itself (DESIGN.md §5). A refusal is a security event; its text names
//! parties, areas and ids only.

use kokeilu_proto::common::Agency;
use kokeilu_proto::party::{Party, bind};

/// An area's answer (received, acknowledged, rejected) on `subject`: the sender, the subject's
/// area and the area the answer names must be one area, the message must be addressed to the TE
/// office, and (once the referral is loaded, [`answered_by_its_area`]) the referral must have been
/// issued to that area. Returns the answering area.
pub fn check_answer(
    subject: &str,
    sender: Option<&Agency>,
    recipient: Option<&Agency>,
    named_area: &str,
) -> Result<String, String> {
    match bind(subject, sender, named_area).map_err(|r| r.to_string())? {
        Party::Area(area) if Party::TeOffice.is(recipient) => Ok(area),
        Party::Area(area) => Err(format!(
            "answer of area {area} not addressed to the TE office"
        )),
        other => Err(format!("{other} does not answer referrals")),
    }
}

/// Only the area a referral was issued to may answer it.
pub fn answered_by_its_area(
    referral_id: &str,
    referral_area: &str,
    answering: &str,
) -> Result<(), String> {
    if referral_area == answering {
        Ok(())
    } else {
        Err(format!(
            "area {answering} answered referral {referral_id} of area {referral_area}"
        ))
    }
}

/// A supervisory action on `subject`: AVI's, about the area the action names.
pub fn check_action(
    subject: &str,
    sender: Option<&Agency>,
    named_area: &str,
) -> Result<(), String> {
    match bind(subject, sender, named_area).map_err(|r| r.to_string())? {
        Party::Avi => Ok(()),
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
    fn an_answer_binds_to_one_area() {
        let kainuu = agency(AgencyKind::TrialArea, "kainuu");
        let helsinki = agency(AgencyKind::TrialArea, "helsinki");
        let te = agency(AgencyKind::TeOffice, "te-office");
        let ack = subjects::referral_acknowledged("kainuu");
        assert_eq!(
            check_answer(&ack, Some(&kainuu), Some(&te), "kainuu"),
            Ok("kainuu".into())
        );
        // Kainuu's credentials answering for Helsinki: the payload or the sender disagrees.
        assert!(check_answer(&ack, Some(&kainuu), Some(&te), "helsinki").is_err());
        assert!(check_answer(&ack, Some(&helsinki), Some(&te), "helsinki").is_err());
        assert!(check_answer(&ack, Some(&kainuu), None, "kainuu").is_err());
        assert!(
            check_answer(
                &subjects::referral_issued("kainuu"),
                Some(&te),
                Some(&te),
                "kainuu"
            )
            .is_err()
        );
        assert!(answered_by_its_area("r-1", "kainuu", "kainuu").is_ok());
        let e = answered_by_its_area("r-1", "helsinki", "kainuu").unwrap_err();
        assert!(e.contains("r-1") && e.contains("helsinki"), "{e}");
    }

    #[test]
    fn actions_are_avis() {
        let avi = agency(AgencyKind::Supervisor, "avi");
        let kainuu = agency(AgencyKind::TrialArea, "kainuu");
        let s = subjects::avi_action("kainuu");
        assert!(check_action(&s, Some(&avi), "kainuu").is_ok());
        assert!(check_action(&s, Some(&avi), "helsinki").is_err());
        assert!(check_action(&s, Some(&kainuu), "kainuu").is_err());
        assert!(check_action(&subjects::avi_answer("kainuu"), Some(&kainuu), "kainuu").is_err());
    }
}
