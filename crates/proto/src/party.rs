//! Which party a message comes from, as NATS authenticated it.
//!
//! NATS permissions (`deploy/nats/accounts.conf`) pin each agency's user to the subjects it may
//! publish on, and each of those subjects names its publisher: an area's answers and facts carry
//! the area's slug, the TE office's facts carry `te-office`, AVI's actions are on `avi.<area>.action`.
//! So the subject a message arrived on says who sent it, whatever the message says about itself.
//! [`bind`] requires `sender = the subject's party = the area named in the payload`; a consumer
//! refuses anything else as a security event (`HandlerError::Security`) and changes nothing.

use crate::common::{Agency, AgencyKind};
use crate::subjects::{AVI_TOKEN, TE_OFFICE_TOKEN, is_token};

/// A party that publishes on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    TeOffice,
    /// A trial area, by slug.
    Area(String),
    /// The supervising agency.
    Avi,
}

impl Party {
    /// Whether `agency` (an envelope's sender or recipient) is this party.
    pub fn is(&self, agency: Option<&Agency>) -> bool {
        let Some(a) = agency else { return false };
        match self {
            Party::TeOffice => a.kind == AgencyKind::TeOffice as i32,
            Party::Area(slug) => a.kind == AgencyKind::TrialArea as i32 && a.id == *slug,
            Party::Avi => a.kind == AgencyKind::Supervisor as i32,
        }
    }
}

impl std::fmt::Display for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Party::TeOffice => f.write_str(TE_OFFICE_TOKEN),
            Party::Area(slug) => write!(f, "area {slug}"),
            Party::Avi => f.write_str(AVI_TOKEN),
        }
    }
}

/// What a subject says: who may publish on it and which area it is about (`None` for the TE
/// office's facts, which name the area in the payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub publisher: Party,
    pub area: Option<String>,
}

/// An area slug as a subject token: a token that is neither `te-office` nor `avi`.
fn area_token(t: &str) -> Option<String> {
    (is_token(t) && t != TE_OFFICE_TOKEN && t != AVI_TOKEN).then(|| t.to_owned())
}

/// The route of a Kokeilu subject; `None` for anything else.
pub fn route(subject: &str) -> Option<Route> {
    let tokens: Vec<&str> = subject.split('.').collect();
    let [kokeilu, v1, family, token, rest @ ..] = tokens.as_slice() else {
        return None;
    };
    if *kokeilu != "kokeilu" || *v1 != "v1" {
        return None;
    }
    let area = |publisher: fn(String) -> Party| {
        area_token(token).map(|a| Route {
            publisher: publisher(a.clone()),
            area: Some(a),
        })
    };
    match (*family, *token, rest) {
        ("supervision", TE_OFFICE_TOKEN, ["fact"]) => Some(Route {
            publisher: Party::TeOffice,
            area: None,
        }),
        ("supervision", AVI_TOKEN, [_, ..]) => Some(Route {
            publisher: Party::Avi,
            area: None,
        }),
        ("supervision", _, ["fact"]) => area(Party::Area),
        ("referral", _, ["issued"]) => area(|_| Party::TeOffice),
        ("referral", _, ["received" | "acknowledged" | "rejected"]) => area(Party::Area),
        ("avi", _, ["action"]) => area(|_| Party::Avi),
        ("avi", _, ["answer"]) => area(Party::Area),
        ("compliance", _, [kind]) if is_token(kind) => area(|_| Party::Avi),
        _ => None,
    }
}

/// Why a message is not bound to the party that NATS authenticated. The text names subjects,
/// parties and areas only, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("subject {0:?} names no Kokeilu party")]
    UnknownSubject(String),
    #[error("published on {subject:?} (by {party}) but the sender says {sender}")]
    Sender {
        subject: String,
        party: Party,
        sender: String,
    },
    #[error("published on {subject:?} (about {area:?}) but the payload names area {named:?}")]
    Area {
        subject: String,
        area: String,
        named: String,
    },
    #[error("the payload names {0:?}, which is not an area")]
    NotAnArea(String),
}

fn describe(agency: Option<&Agency>) -> String {
    match agency {
        None => "nobody".into(),
        Some(a) => match AgencyKind::try_from(a.kind) {
            Ok(AgencyKind::TeOffice) => "te-office".into(),
            Ok(AgencyKind::Supervisor) => "avi".into(),
            Ok(AgencyKind::TrialArea) => format!("area {:?}", truncated(&a.id)),
            _ => format!("unknown kind {}", a.kind),
        },
    }
}

/// A value from the message itself, shown in a refusal only when it is a plain token (a slug):
/// anything else could carry personal data into logs and dead letters.
fn truncated(s: &str) -> String {
    if is_token(s) {
        s.to_owned()
    } else {
        format!("<{} characters, not a slug>", s.chars().count())
    }
}

/// Requires `sender = the subject's party = the area the payload names` and returns the party.
/// For the TE office's facts, whose subject names no area, `named_area` must still be an area.
pub fn bind(subject: &str, sender: Option<&Agency>, named_area: &str) -> Result<Party, Refusal> {
    let route = route(subject).ok_or_else(|| Refusal::UnknownSubject(truncated(subject)))?;
    if !route.publisher.is(sender) {
        return Err(Refusal::Sender {
            subject: subject.to_owned(),
            party: route.publisher,
            sender: describe(sender),
        });
    }
    match route.area {
        Some(area) if area != named_area => Err(Refusal::Area {
            subject: subject.to_owned(),
            area,
            named: truncated(named_area),
        }),
        None if area_token(named_area).is_none() => Err(Refusal::NotAnArea(truncated(named_area))),
        _ => Ok(route.publisher),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subjects;

    fn agency(kind: AgencyKind, id: &str) -> Agency {
        Agency {
            kind: kind as i32,
            id: id.into(),
        }
    }

    #[test]
    fn every_subject_names_its_publisher() {
        let area = |p: Party, a: &str| {
            Some(Route {
                publisher: p,
                area: Some(a.into()),
            })
        };
        let kainuu = || Party::Area("kainuu".into());
        assert_eq!(
            route(&subjects::referral_issued("kainuu")),
            area(Party::TeOffice, "kainuu")
        );
        for s in [
            subjects::referral_received("kainuu"),
            subjects::referral_acknowledged("kainuu"),
            subjects::referral_rejected("kainuu"),
            subjects::supervision_fact("kainuu"),
            subjects::avi_answer("kainuu"),
        ] {
            assert_eq!(route(&s), area(kainuu(), "kainuu"), "{s}");
        }
        assert_eq!(
            route(&subjects::te_office_fact()),
            Some(Route {
                publisher: Party::TeOffice,
                area: None
            })
        );
        assert_eq!(
            route(&subjects::avi_action("kainuu")),
            area(Party::Avi, "kainuu")
        );
        assert_eq!(
            route(&subjects::compliance("kainuu", "deadline_missed")),
            area(Party::Avi, "kainuu")
        );
        for s in [
            "kokeilu.v1.referral.te-office.acknowledged",
            "kokeilu.v1.avi.avi.answer",
            "kokeilu.v1.referral.kainuu.issued.extra",
            "kokeilu.v2.referral.kainuu.issued",
            "kokeilu.v1.referral.*.issued",
            "kokeilu.v1.dlq.te-office-answers",
            "elsewhere",
        ] {
            assert_eq!(route(s), None, "{s}");
        }
    }

    #[test]
    fn sender_subject_and_payload_must_agree() {
        let kainuu = agency(AgencyKind::TrialArea, "kainuu");
        let helsinki = agency(AgencyKind::TrialArea, "helsinki");
        let te = agency(AgencyKind::TeOffice, "te-office");
        let avi = agency(AgencyKind::Supervisor, "avi");
        let ack = |a| subjects::referral_acknowledged(a);

        assert_eq!(
            bind(&ack("kainuu"), Some(&kainuu), "kainuu"),
            Ok(Party::Area("kainuu".into()))
        );
        // Kainuu's subject, Kainuu as sender, but Helsinki's referral named in the payload.
        assert!(matches!(
            bind(&ack("kainuu"), Some(&kainuu), "helsinki"),
            Err(Refusal::Area { .. })
        ));
        // The sender lies about itself.
        assert!(matches!(
            bind(&ack("kainuu"), Some(&helsinki), "helsinki"),
            Err(Refusal::Sender { .. })
        ));
        assert!(matches!(
            bind(&ack("kainuu"), Some(&te), "kainuu"),
            Err(Refusal::Sender { .. })
        ));
        assert!(matches!(
            bind(&ack("kainuu"), None, "kainuu"),
            Err(Refusal::Sender { .. })
        ));
        // An area's fact subject is the area's, whatever the sender says.
        assert!(matches!(
            bind(&subjects::supervision_fact("kainuu"), Some(&te), "kainuu"),
            Err(Refusal::Sender { .. })
        ));
        // The TE office's facts: the TE office's subject and any area in the payload.
        assert_eq!(
            bind(&subjects::te_office_fact(), Some(&te), "helsinki"),
            Ok(Party::TeOffice)
        );
        assert!(matches!(
            bind(&subjects::te_office_fact(), Some(&te), "avi"),
            Err(Refusal::NotAnArea(_))
        ));
        assert!(matches!(
            bind(&subjects::te_office_fact(), Some(&kainuu), "kainuu"),
            Err(Refusal::Sender { .. })
        ));
        // AVI's actions and the areas' answers.
        assert_eq!(
            bind(&subjects::avi_action("kainuu"), Some(&avi), "kainuu"),
            Ok(Party::Avi)
        );
        assert!(matches!(
            bind(&subjects::avi_action("kainuu"), Some(&avi), "helsinki"),
            Err(Refusal::Area { .. })
        ));
        assert!(matches!(
            bind(&subjects::avi_answer("kainuu"), Some(&helsinki), "helsinki"),
            Err(Refusal::Sender { .. })
        ));
        assert!(matches!(
            bind("kokeilu.v1.nothing", Some(&te), "kainuu"),
            Err(Refusal::UnknownSubject(_))
        ));
        // What the message says about itself is shown only as a slug: never personal data.
        let liar = agency(AgencyKind::TrialArea, "131052-308T");
        let e = bind(&ack("kainuu"), Some(&liar), "010101A123B").unwrap_err();
        let text = e.to_string();
        assert!(!text.contains("308T") && !text.contains("A123B"), "{text}");
        let e = bind(&ack("kainuu"), Some(&kainuu), "010101A123B").unwrap_err();
        assert!(!e.to_string().contains("A123B"), "{e}");
    }
}
