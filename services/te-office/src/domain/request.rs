//! A SubmitReferral (or EvaluateEligibility) request made valid: every field checked against
//! the registry and the referral date, all violations at once, before anything is decided.

use chrono::NaiveDate;
use kokeilu_platform::grpc::FieldViolation;
use kokeilu_rules::eligibility::{JobseekerFacts, declared};
use kokeilu_rules::hetu::Hetu;
use kokeilu_rules::registry::Registry;
use sha2::{Digest, Sha256};

use super::referral::{EmploymentPlan, Ground, PlanKind};

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
pub(crate) fn has_no_home(registry: &Registry, code: &str) -> bool {
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
