//! Whose messages AVI believes: the party NATS authenticated (the subject), never what a message
//! says about itself (DESIGN.md §5). A refusal is a security event; its text names parties, areas
//! and ids only.
//!
//! - The TE office reports only that it issued a referral, on its own subject
//!   (`kokeilu.v1.supervision.te-office.fact`), about any area.
//! - An area reports everything after that, on its own subject, about its own area's referrals.
//! - Only the area an information request was addressed to may answer it.

use kokeilu_proto::common::Agency;
use kokeilu_proto::party::{Party, bind};
use kokeilu_proto::supervision::FactKind;

/// A service fact of `kind` on `subject`, naming `named_area`: returns the reporting party.
pub fn check_fact(
    subject: &str,
    sender: Option<&Agency>,
    kind: i32,
    named_area: &str,
) -> Result<Party, String> {
    let party = bind(subject, sender, named_area).map_err(|r| r.to_string())?;
    let issued = kind == FactKind::ReferralIssued as i32;
    match (&party, issued) {
        (Party::TeOffice, true) | (Party::Area(_), false) => Ok(party),
        (Party::TeOffice, false) => Err("the TE office reports only issued referrals".into()),
        (Party::Area(area), true) => Err(format!(
            "area {area} reported a referral as issued; only the TE office issues referrals"
        )),
        (Party::Avi, _) => Err("AVI's own subjects carry no service facts".into()),
    }
}

/// A fact about an existing case counts only from the area the referral went to.
pub fn check_case_area(referral_id: &str, case_area: &str, reporting: &str) -> Result<(), String> {
    if case_area == reporting {
        Ok(())
    } else {
        Err(format!(
            "area {reporting} reported a fact about referral {referral_id} of area {case_area}"
        ))
    }
}

/// An answer to information request `action_id` on `subject`: from the area it names, which must
/// be the area the request was addressed to (`requested_of`).
pub fn check_answer(
    subject: &str,
    sender: Option<&Agency>,
    named_area: &str,
    action_id: &str,
    requested_of: &str,
) -> Result<(), String> {
    match bind(subject, sender, named_area).map_err(|r| r.to_string())? {
        Party::Area(area) if area == requested_of => Ok(()),
        Party::Area(area) => Err(format!(
            "area {area} answered information request {action_id} addressed to area {requested_of}"
        )),
        other => Err(format!("{other} does not answer information requests")),
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
    fn facts_come_from_their_own_party() {
        let te = agency(AgencyKind::TeOffice, "te-office");
        let kainuu = agency(AgencyKind::TrialArea, "kainuu");
        let issued = FactKind::ReferralIssued as i32;
        let acked = FactKind::ReferralAcknowledged as i32;
        let te_fact = subjects::te_office_fact();
        let kainuu_fact = subjects::supervision_fact("kainuu");

        assert_eq!(
            check_fact(&te_fact, Some(&te), issued, "kainuu"),
            Ok(Party::TeOffice)
        );
        assert_eq!(
            check_fact(&kainuu_fact, Some(&kainuu), acked, "kainuu"),
            Ok(Party::Area("kainuu".into()))
        );
        // An area forging the TE office's fact: on its own subject, or claiming to be the TE office.
        assert!(check_fact(&kainuu_fact, Some(&kainuu), issued, "kainuu").is_err());
        assert!(check_fact(&kainuu_fact, Some(&te), issued, "kainuu").is_err());
        assert!(check_fact(&te_fact, Some(&kainuu), issued, "kainuu").is_err());
        // The TE office speaks only of issuing; an area only of its own area.
        assert!(check_fact(&te_fact, Some(&te), acked, "kainuu").is_err());
        assert!(check_fact(&kainuu_fact, Some(&kainuu), acked, "helsinki").is_err());
        assert!(check_fact("kokeilu.v1.supervision.avi.note", None, acked, "kainuu").is_err());

        assert!(check_case_area("r-1", "kainuu", "kainuu").is_ok());
        assert!(check_case_area("r-1", "helsinki", "kainuu").is_err());
    }

    #[test]
    fn only_the_addressed_area_answers() {
        let kainuu = agency(AgencyKind::TrialArea, "kainuu");
        let helsinki = agency(AgencyKind::TrialArea, "helsinki");
        let s = subjects::avi_answer("kainuu");
        assert!(check_answer(&s, Some(&kainuu), "kainuu", "a-1", "kainuu").is_ok());
        let e = check_answer(&s, Some(&kainuu), "kainuu", "a-1", "helsinki").unwrap_err();
        assert!(e.contains("a-1"), "{e}");
        assert!(check_answer(&s, Some(&helsinki), "helsinki", "a-1", "helsinki").is_err());
        assert!(check_answer(&s, Some(&kainuu), "helsinki", "a-1", "helsinki").is_err());
    }
}
