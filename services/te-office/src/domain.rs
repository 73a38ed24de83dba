//! The TE office's rules for a referral, free of wire and storage types.
//!
//! A request becomes a [`NewReferral`] only if every field is valid (`request`); [`decide`] then
//! decides which trial area is competent for the client (home municipality, or residence for
//! temporary protection, 149/2023) on the referral date, and [`covering`] whether an AVI
//! suspension keeps the client with the TE office. A stored
//! referral, its status history and the rule for an area's answer are in [`referral`].

use chrono::NaiveDate;
use kokeilu_rules::eligibility::{self, Outcome};
use kokeilu_rules::registry::Registry;

pub mod referral;
mod request;
pub mod trust;

pub use referral::{
    AnswerOutcome, BadStoredValue, EmploymentPlan, Ground, PlanKind, Referral, ReferralFilter,
    Status, StatusChange, Suspension, answer_outcome,
};
use request::has_no_home;
pub use request::{NewReferral, RawPlan, RawReferral};

/// Why no referral can be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReferable {
    /// No trial generation is in force on the date.
    NoTrialInForce { date: NaiveDate },
    /// The municipality belongs to no trial area on the date: the TE office keeps the client.
    OutsideTrialAreas {
        municipality: String,
        date: NaiveDate,
    },
    /// The trial rules keep the client with the TE office (reason as the rules name it).
    Stays {
        reason: String,
        detail: String,
        rule: String,
    },
}

/// Where a referral goes, on which grounds, and which municipality decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub area: String,
    pub grounds: Vec<Ground>,
    /// The municipality that decided the area (home, or residence when `by_residence`).
    pub municipality: String,
    /// Decided by place of residence (temporary protection without a home municipality,
    /// 149/2023).
    pub by_residence: bool,
}

/// Decides the area (and, with facts, the grounds) of a validated referral on `date`.
pub fn decide(
    registry: &Registry,
    req: &NewReferral,
    date: NaiveDate,
) -> Result<Routed, NotReferable> {
    let Some(facts) = &req.facts else {
        // Declared grounds: temporary protection without a home municipality is referred by
        // place of residence (149/2023, 1269/2020 4 § 2 mom and 5 § 1 mom as amended); the
        // declared-grounds check has refused that ground before 1.3.2023.
        let by_residence = has_no_home(registry, &req.home_municipality_code)
            && req.grounds.contains(&Ground::TemporaryProtection)
            && !req.residence_municipality_code.is_empty();
        let municipality = if by_residence {
            req.residence_municipality_code.clone()
        } else {
            req.home_municipality_code.clone()
        };
        return route(registry, &municipality, date).map(|area| Routed {
            area,
            grounds: req.grounds.clone(),
            municipality,
            by_residence,
        });
    };
    let decision =
        eligibility::evaluate(registry, facts, date).map_err(|e| NotReferable::Stays {
            reason: "unusable_facts".into(),
            detail: e.to_string(),
            rule: String::new(),
        })?;
    match decision.outcome {
        Outcome::Referral {
            trial,
            area,
            municipality,
            by_residence,
        } if trial == "2021" => Ok(Routed {
            area,
            municipality,
            by_residence,
            grounds: decision
                .grounds
                .into_iter()
                .filter_map(Ground::from_rule)
                .collect(),
        }),
        Outcome::Referral { trial, .. } => Err(NotReferable::Stays {
            reason: "historical_trial".into(),
            detail: format!("trial {trial} has no running areas"),
            rule: decision.rule.law.to_owned(),
        }),
        Outcome::StaysWithTeOffice { reason, detail } => Err(NotReferable::Stays {
            reason: serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            detail,
            rule: decision.rule.law.to_owned(),
        }),
    }
}

/// The suspension in force on `date` that covers a client routed as `routed` (its grounds and
/// deciding municipality), if any: AVI's suspension ends the area's competence for exactly what
/// it covers, and the TE office keeps those clients (1269/2020 22 §).
pub fn covering<'a>(
    suspensions: &'a [Suspension],
    date: NaiveDate,
    routed: &Routed,
) -> Option<&'a Suspension> {
    let grounds: Vec<&str> = routed.grounds.iter().map(|g| g.name()).collect();
    suspensions
        .iter()
        .find(|s| s.rule().covers_client(date, &grounds, &routed.municipality))
}

/// The trial area competent for `municipality` on `date`.
pub fn route(
    registry: &Registry,
    municipality: &str,
    date: NaiveDate,
) -> Result<String, NotReferable> {
    if registry.trial_in_force(date).is_none() {
        return Err(NotReferable::NoTrialInForce { date });
    }
    registry
        .area_for_municipality(municipality, date)
        .map(|a| a.slug.clone())
        .ok_or_else(|| NotReferable::OutsideTrialAreas {
            municipality: municipality.to_owned(),
            date,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn raw(hetu: &str, code: &str) -> RawReferral {
        RawReferral {
            idempotency_key: "k-1".into(),
            henkilotunnus: hetu.into(),
            home_municipality_code: code.into(),
            job_search_start: Some(Some(day(2024, 3, 1))),
            grounds: vec![1],
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_request_passes() {
        let r = NewReferral::validate(
            raw("131052-308T", "205"),
            Registry::builtin(),
            day(2024, 3, 4),
        )
        .unwrap();
        assert_eq!(r.home_municipality_code, "205");
        assert_eq!(r.grounds, vec![Ground::NoEarningsRelatedAllowance]);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut r = raw("131052-308X", "9999");
        r.idempotency_key = String::new();
        r.grounds = vec![0];
        r.job_search_start = Some(None);
        let errs = NewReferral::validate(r, Registry::builtin(), day(2024, 3, 4)).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "idempotency_key",
                "jobseeker.henkilotunnus",
                "jobseeker.home_municipality_code",
                "jobseeker.job_search_start_date",
                "jobseeker.grounds[0]"
            ]
        );
        assert!(errs.iter().all(|v| !v.description.contains("131052")));
    }

    #[test]
    fn under_30_must_match_the_birth_date() {
        let mut r = raw("131052-308T", "205");
        r.grounds = vec![2];
        let errs = NewReferral::validate(r, Registry::builtin(), day(2024, 3, 4)).unwrap_err();
        assert_eq!(errs[0].field, "jobseeker.grounds");
    }

    #[test]
    fn routing_follows_the_home_municipality() {
        let reg = Registry::builtin();
        assert_eq!(route(reg, "205", day(2024, 3, 4)).unwrap(), "kainuu");
        assert_eq!(route(reg, "837", day(2024, 3, 4)).unwrap(), "pirkanmaa");
        assert_eq!(route(reg, "091", day(2024, 3, 4)).unwrap(), "helsinki");
        // Kauniainen (235) is in no trial area.
        assert!(matches!(
            route(reg, "235", day(2024, 3, 4)),
            Err(NotReferable::OutsideTrialAreas { .. })
        ));
        // After the 2021–2024 trial ended nothing is referred.
        assert!(matches!(
            route(reg, "205", day(2025, 2, 3)),
            Err(NotReferable::NoTrialInForce { .. })
        ));
    }

    fn validated(mut r: RawReferral, today: NaiveDate) -> NewReferral {
        if r.job_search_start == Some(Some(day(2024, 3, 1))) {
            r.job_search_start = Some(Some(today - chrono::Duration::days(3)));
        }
        NewReferral::validate(r, Registry::builtin(), today).unwrap()
    }

    #[test]
    fn declared_temporary_protection_without_a_home_goes_by_residence() {
        let reg = Registry::builtin();
        let today = day(2024, 3, 4);
        let mut r = raw("131052-308T", "");
        r.grounds = vec![Ground::TemporaryProtection as i32];
        r.residence_municipality_code = "205".into();
        let routed = decide(reg, &validated(r.clone(), today), today).unwrap();
        assert_eq!(routed.area, "kainuu");
        assert_eq!(routed.municipality, "205");
        assert!(routed.by_residence);
        // A special code (999: no home municipality in Finland) is no home either.
        r.home_municipality_code = "999".into();
        assert!(
            decide(reg, &validated(r.clone(), today), today)
                .unwrap()
                .by_residence
        );
        // With a home municipality the home decides (1269/2020 5 § 1 mom).
        r.home_municipality_code = "837".into();
        let routed = decide(reg, &validated(r, today), today).unwrap();
        assert_eq!(routed.area, "pirkanmaa");
        assert_eq!(routed.municipality, "837");
        assert!(!routed.by_residence);
    }

    #[test]
    fn facts_carry_the_residence_basis_of_the_rules() {
        let reg = Registry::builtin();
        let today = day(2024, 3, 4);
        let mut r = raw("131052-308T", "");
        r.grounds = vec![];
        r.residence_municipality_code = "205".into();
        r.facts = Some(kokeilu_rules::eligibility::JobseekerFacts {
            registered_as_jobseeker: true,
            temporary_protection: true,
            ..Default::default()
        });
        let new = validated(r, today);
        // The top-level residence fills the facts'.
        assert_eq!(
            new.facts
                .as_ref()
                .map(|f| f.residence_municipality_code.as_str()),
            Some("205")
        );
        let routed = decide(reg, &new, today).unwrap();
        assert_eq!(routed.area, "kainuu");
        assert_eq!(routed.municipality, "205");
        assert!(routed.by_residence);
    }

    #[test]
    fn a_suspension_covers_by_grounds_and_deciding_municipality() {
        let s = Suspension {
            action_id: "a-1".into(),
            area_id: "kainuu".into(),
            effective_from: day(2024, 10, 1),
            partial: true,
            scope: Some(kokeilu_rules::suspension::Scope {
                client_groups: vec!["temporary_protection".into()],
                municipality_codes: vec!["205".into()],
                statement_subjects: vec![],
            }),
            lifted_from: Some(day(2024, 10, 10)),
            text: String::new(),
        };
        let routed = |grounds: Vec<Ground>, municipality: &str| Routed {
            area: "kainuu".into(),
            grounds,
            municipality: municipality.into(),
            by_residence: true,
        };
        let all = [s];
        let tp = routed(vec![Ground::TemporaryProtection], "205");
        assert!(covering(&all, day(2024, 10, 1), &tp).is_some());
        assert!(covering(&all, day(2024, 9, 30), &tp).is_none(), "not yet");
        assert!(covering(&all, day(2024, 10, 10), &tp).is_none(), "lifted");
        let elsewhere = routed(vec![Ground::TemporaryProtection], "290");
        assert!(covering(&all, day(2024, 10, 1), &elsewhere).is_none());
        let other = routed(vec![Ground::Under30], "205");
        assert!(covering(&all, day(2024, 10, 1), &other).is_none());
        // A partial suspension that names only statement subjects keeps no client.
        let statements = Suspension {
            scope: Some(kokeilu_rules::suspension::Scope {
                statement_subjects: vec!["general_conditions".into()],
                ..Default::default()
            }),
            ..all[0].clone()
        };
        assert!(covering(&[statements], day(2024, 10, 1), &tp).is_none());
    }

    #[test]
    fn the_new_fields_are_checked_against_the_dates() {
        let today = day(2024, 3, 4);
        let mut r = raw("131052-308T", "205");
        r.initial_interview_date = Some(Some(day(2024, 2, 29)));
        r.previous_job_search_end = Some(Some(day(2024, 3, 1)));
        r.employment_plan = Some(RawPlan {
            plan_id: String::new(),
            kind: 0,
            made_on: Some(Some(day(2024, 3, 5))),
            next_review_on: Some(None),
        });
        let errs = NewReferral::validate(r, Registry::builtin(), today).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "jobseeker.initial_interview_date",
                "jobseeker.previous_job_search_end_date",
                "jobseeker.employment_plan.kind",
                "jobseeker.employment_plan.made_on",
                "jobseeker.employment_plan.next_review_on",
            ]
        );
        // An earlier request without the new fields keeps its fingerprint; with them it differs.
        let plain = validated(raw("131052-308T", "205"), today);
        let mut with = raw("131052-308T", "205");
        with.job_search_start = Some(Some(plain.job_search_start));
        with.initial_interview_date = Some(Some(plain.job_search_start));
        assert_ne!(validated(with, today).fingerprint(), plain.fingerprint());
    }
}
