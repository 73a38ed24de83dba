//! The TE office's rules for a referral, free of wire and storage types.
//!
//! A request becomes a [`NewReferral`] only if every field is valid; [`route`] then decides which
//! trial area is competent for the client's home municipality on the referral date. A stored
//! referral, its status history and the rule for an area's answer are in [`referral`].

use chrono::NaiveDate;
use kokeilu_platform::grpc::FieldViolation;
use kokeilu_rules::eligibility::{self, JobseekerFacts, Outcome, declared};
use kokeilu_rules::hetu::Hetu;
use kokeilu_rules::registry::Registry;
use sha2::{Digest, Sha256};

pub mod referral;
pub mod trust;

pub use referral::{
    AnswerOutcome, BadStoredValue, EmploymentPlan, Ground, PlanKind, Referral, ReferralFilter,
    Status, StatusChange, Suspension, answer_outcome,
};

/// The validated content of a SubmitReferral call.
#[derive(Debug, Clone)]
pub struct NewReferral {
    pub idempotency_key: String,
    pub hetu: Hetu,
    pub home_municipality_code: String,
    pub job_search_start: NaiveDate,
    /// Declared grounds (empty when `facts` decide).
    pub grounds: Vec<Ground>,
    /// The facts for the trial rules, complete with code, home municipality and start date.
    pub facts: Option<JobseekerFacts>,
    /// Place of residence (JTYPL 1:9.2); empty when not given.
    pub residence_municipality_code: String,
    /// The TE office's initial interview of this job search, if held.
    pub initial_interview_date: Option<NaiveDate>,
    /// The end of the previous job search, if any.
    pub previous_job_search_end: Option<NaiveDate>,
    /// The plan in force, if one was made; it travels with the referral.
    pub employment_plan: Option<EmploymentPlan>,
}

/// A plan as the gRPC layer extracts it (dates: `None` absent, `Some(None)` not a date).
#[derive(Debug, Clone, Default)]
pub struct RawPlan {
    pub plan_id: String,
    pub kind: i32,
    pub made_on: Option<Option<NaiveDate>>,
    pub next_review_on: Option<Option<NaiveDate>>,
}

/// Raw request fields, as the gRPC layer extracts them.
#[derive(Debug, Clone, Default)]
pub struct RawReferral {
    pub idempotency_key: String,
    pub henkilotunnus: String,
    pub home_municipality_code: String,
    pub job_search_start: Option<Option<NaiveDate>>,
    pub grounds: Vec<i32>,
    /// Facts for the rules (henkilötunnus, home municipality and start date are filled in here).
    pub facts: Option<JobseekerFacts>,
    pub residence_municipality_code: String,
    pub initial_interview_date: Option<Option<NaiveDate>>,
    pub previous_job_search_end: Option<Option<NaiveDate>>,
    pub employment_plan: Option<RawPlan>,
}

/// No home municipality in Finland: an empty code or a special one (198/199/200/999).
fn has_no_home(registry: &Registry, code: &str) -> bool {
    code.is_empty()
        || registry
            .classification_code(code)
            .is_some_and(|m| m.special)
}

/// A 3-digit code of a known municipality, or the problem with it.
fn municipality_problem(registry: &Registry, code: &str) -> Option<&'static str> {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        Some("must be a 3-digit Statistics Finland municipality code")
    } else if registry.municipality(code).is_none() {
        Some("unknown municipality code")
    } else {
        None
    }
}

/// An optional date field: `None` when absent, a violation when it is no calendar date.
fn optional_date(
    value: Option<Option<NaiveDate>>,
    field: &str,
    bad: &mut Vec<FieldViolation>,
) -> Option<NaiveDate> {
    match value {
        None => None,
        Some(None) => {
            bad.push(FieldViolation::new(field, "not a calendar date"));
            None
        }
        Some(Some(d)) => Some(d),
    }
}

/// Validates the plan that travels with a referral: kind and date required, not made in the
/// future, reviewed no earlier than made.
fn validate_plan(
    raw: RawPlan,
    today: NaiveDate,
    bad: &mut Vec<FieldViolation>,
) -> Option<EmploymentPlan> {
    let before = bad.len();
    let kind = PlanKind::from_i32(raw.kind);
    if kind.is_none() {
        bad.push(FieldViolation::new(
            "jobseeker.employment_plan.kind",
            "required: the kind of plan (1269/2020 9 §)",
        ));
    }
    let plan_id = raw.plan_id.trim().to_owned();
    if plan_id.chars().count() > 128 || plan_id.chars().any(char::is_control) {
        bad.push(FieldViolation::new(
            "jobseeker.employment_plan.plan_id",
            "at most 128 printable characters",
        ));
    }
    let made_on = match raw.made_on {
        None => {
            bad.push(FieldViolation::new(
                "jobseeker.employment_plan.made_on",
                "required",
            ));
            None
        }
        Some(None) => {
            bad.push(FieldViolation::new(
                "jobseeker.employment_plan.made_on",
                "not a calendar date",
            ));
            None
        }
        Some(Some(d)) if d > today => {
            bad.push(FieldViolation::new(
                "jobseeker.employment_plan.made_on",
                "is after the referral date",
            ));
            None
        }
        Some(Some(d)) => Some(d),
    };
    let next_review_on = optional_date(
        raw.next_review_on,
        "jobseeker.employment_plan.next_review_on",
        bad,
    );
    if let (Some(made), Some(review)) = (made_on, next_review_on)
        && review < made
    {
        bad.push(FieldViolation::new(
            "jobseeker.employment_plan.next_review_on",
            "is before the plan was made",
        ));
    }
    match (kind, made_on) {
        (Some(kind), Some(made_on)) if bad.len() == before => Some(EmploymentPlan {
            plan_id,
            kind,
            made_on,
            next_review_on,
        }),
        _ => None,
    }
}

impl NewReferral {
    /// Validates every field against the registry and the referral date; all violations at once.
    pub fn validate(
        raw: RawReferral,
        registry: &Registry,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut bad = Vec::new();
        let key = raw.idempotency_key.trim().to_owned();
        if key.is_empty() || key.chars().count() > 128 || key.chars().any(char::is_control) {
            bad.push(FieldViolation::new(
                "idempotency_key",
                "required: 1 to 128 printable characters",
            ));
        }
        let hetu = match Hetu::parse(&raw.henkilotunnus) {
            Ok(h) if h.is_temporary() => {
                bad.push(FieldViolation::new(
                    "jobseeker.henkilotunnus",
                    "a temporary identity code (individual number 900-999) cannot be referred",
                ));
                None
            }
            Ok(h) if h.birth_date() > today => {
                bad.push(FieldViolation::new(
                    "jobseeker.henkilotunnus",
                    "birth date is in the future",
                ));
                None
            }
            Ok(h) => Some(h),
            Err(e) => {
                bad.push(FieldViolation::new(
                    "jobseeker.henkilotunnus",
                    e.to_string(),
                ));
                None
            }
        };
        let code = raw.home_municipality_code.trim().to_owned();
        let residence = raw.residence_municipality_code.trim().to_owned();
        if !residence.is_empty()
            && let Some(why) = municipality_problem(registry, &residence)
        {
            bad.push(FieldViolation::new(
                "jobseeker.residence_municipality_code",
                why,
            ));
        }
        let mut raw = raw;
        if let Some(f) = raw.facts.as_mut() {
            // The jobseeker's residence is one fact: given at the top, it fills the facts'.
            let inner = f.residence_municipality_code.trim();
            if inner.is_empty() {
                f.residence_municipality_code = residence.clone();
            } else if !residence.is_empty() && inner != residence {
                bad.push(FieldViolation::new(
                    "jobseeker.residence_municipality_code",
                    "differs from jobseeker.facts.residence_municipality_code",
                ));
            }
        }
        let declared_protection =
            raw.facts.is_none() && raw.grounds.contains(&(Ground::TemporaryProtection as i32));
        let protected =
            declared_protection || raw.facts.as_ref().is_some_and(|f| f.temporary_protection);
        let no_home = has_no_home(registry, &code);
        if declared_protection && no_home && residence.is_empty() {
            // 149/2023: without a home municipality the place of residence decides the area.
            bad.push(FieldViolation::new(
                "jobseeker.residence_municipality_code",
                "required for temporary protection without a home municipality (149/2023)",
            ));
        }
        if let Some(f) = &raw.facts {
            let residence = f.residence_municipality_code.trim();
            if !residence.is_empty() && registry.municipality(residence).is_none() {
                bad.push(FieldViolation::new(
                    "jobseeker.facts.residence_municipality_code",
                    "unknown municipality code",
                ));
            }
            if protected && residence.is_empty() && registry.municipality(&code).is_none() {
                bad.push(FieldViolation::new(
                    "jobseeker.facts.residence_municipality_code",
                    "required for temporary protection without a home municipality",
                ));
            }
            let earlier = f.previously_client_of_area.trim();
            if !earlier.is_empty() && registry.current_area(earlier).is_none() {
                bad.push(FieldViolation::new(
                    "jobseeker.facts.previously_client_of_area",
                    "not a trial area",
                ));
            }
        }
        if protected && (code.is_empty() || registry.classification_code(&code).is_some()) {
            // Temporary protection: no home municipality (empty or 198/199/200/999) is allowed.
        } else if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            bad.push(FieldViolation::new(
                "jobseeker.home_municipality_code",
                "must be a 3-digit Statistics Finland municipality code",
            ));
        } else if registry.municipality(&code).is_none() {
            bad.push(FieldViolation::new(
                "jobseeker.home_municipality_code",
                "unknown municipality code",
            ));
        }
        let start = match raw.job_search_start {
            None => {
                bad.push(FieldViolation::new(
                    "jobseeker.job_search_start_date",
                    "required",
                ));
                None
            }
            Some(None) => {
                bad.push(FieldViolation::new(
                    "jobseeker.job_search_start_date",
                    "not a calendar date",
                ));
                None
            }
            Some(Some(d)) if d > today => {
                bad.push(FieldViolation::new(
                    "jobseeker.job_search_start_date",
                    "is after the referral date",
                ));
                None
            }
            Some(Some(d)) if hetu.as_ref().is_some_and(|h| d < h.birth_date()) => {
                bad.push(FieldViolation::new(
                    "jobseeker.job_search_start_date",
                    "is before the jobseeker's birth date",
                ));
                None
            }
            Some(Some(d)) => Some(d),
        };
        let interview = optional_date(
            raw.initial_interview_date,
            "jobseeker.initial_interview_date",
            &mut bad,
        );
        match interview {
            Some(d) if d > today => bad.push(FieldViolation::new(
                "jobseeker.initial_interview_date",
                "is after the referral date",
            )),
            Some(d) if start.is_some_and(|s| d < s) => bad.push(FieldViolation::new(
                "jobseeker.initial_interview_date",
                "is before the job search start",
            )),
            _ => {}
        }
        let previous_end = optional_date(
            raw.previous_job_search_end,
            "jobseeker.previous_job_search_end_date",
            &mut bad,
        );
        if let (Some(end), Some(s)) = (previous_end, start)
            && end >= s
        {
            bad.push(FieldViolation::new(
                "jobseeker.previous_job_search_end_date",
                "must be before the job search start",
            ));
        }
        let employment_plan = raw
            .employment_plan
            .take()
            .and_then(|p| validate_plan(p, today, &mut bad));
        let mut grounds = Vec::new();
        match (&raw.facts, raw.grounds.is_empty()) {
            (None, true) => bad.push(FieldViolation::new(
                "jobseeker.grounds",
                "at least one target-group ground (4 §) is required, or the facts",
            )),
            (Some(_), false) => bad.push(FieldViolation::new(
                "jobseeker.grounds",
                "leave empty when facts are given: the rules decide the grounds",
            )),
            _ => {}
        }
        for (i, g) in raw.grounds.iter().enumerate() {
            match Ground::from_i32(*g) {
                Some(g) => grounds.push(g),
                None => bad.push(FieldViolation::new(
                    format!("jobseeker.grounds[{i}]"),
                    "unknown or unspecified ground",
                )),
            }
        }
        grounds.sort();
        grounds.dedup();
        // Declared grounds are held to the rule in force on the referral date (1269/2020 4 §,
        // 1381/2021, 149/2023). Before the trial began no trial is in force at all, which routing
        // answers.
        if today >= declared::trial_start() {
            let rules: Vec<_> = grounds.iter().map(|g| g.to_rule()).collect();
            for problem in declared::not_in_force(&rules, today) {
                bad.push(FieldViolation::new(
                    "jobseeker.grounds",
                    problem.to_string(),
                ));
            }
        }
        if let Some(h) = &hetu
            && grounds.contains(&Ground::Under30)
            && h.age_on(today) >= 30
        {
            bad.push(FieldViolation::new(
                "jobseeker.grounds",
                "UNDER_30 does not match the birth date in the henkilötunnus",
            ));
        }
        match (hetu, start) {
            (Some(hetu), Some(job_search_start)) if bad.is_empty() => Ok(Self {
                facts: raw.facts.map(|f| JobseekerFacts {
                    henkilotunnus: hetu.expose().to_owned(),
                    home_municipality_code: code.clone(),
                    job_search_start_date: Some(job_search_start),
                    ..f
                }),
                idempotency_key: key,
                hetu,
                home_municipality_code: code,
                job_search_start,
                grounds,
                residence_municipality_code: residence,
                initial_interview_date: interview,
                previous_job_search_end: previous_end,
                employment_plan,
            }),
            _ => Err(bad),
        }
    }

    /// Fingerprint of the content, to tell a retry from a different request with the same key.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.hetu.expose().as_bytes());
        h.update(b"|");
        h.update(self.home_municipality_code.as_bytes());
        h.update(b"|");
        h.update(self.job_search_start.to_string().as_bytes());
        h.update(b"|");
        h.update(Ground::encode_list(&self.grounds).as_bytes());
        if let Some(f) = &self.facts {
            h.update(b"|");
            h.update(serde_json::to_string(f).unwrap_or_default().as_bytes());
        }
        // Fields added later only when given, so an earlier request keeps its fingerprint.
        let opt = |d: Option<NaiveDate>| d.map_or_else(String::new, |d| d.to_string());
        let plan = self.employment_plan.as_ref().map_or_else(String::new, |p| {
            format!(
                "{}/{}/{}/{}",
                p.plan_id,
                p.kind as i32,
                p.made_on,
                opt(p.next_review_on)
            )
        });
        let added = format!(
            "{}|{}|{}|{}",
            self.residence_municipality_code,
            opt(self.initial_interview_date),
            opt(self.previous_job_search_end),
            plan
        );
        if added != "|||" {
            h.update(b"|+");
            h.update(added.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

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
        r.facts = Some(JobseekerFacts {
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
