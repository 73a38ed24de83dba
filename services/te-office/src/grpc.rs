//! The TeOfficeService gRPC API: converts wire types, calls the desk, converts back.

use kokeilu_bus::feed::{self, Cursor, FeedStream, PageToken};
use kokeilu_platform::grpc::FieldViolation;
use kokeilu_platform::identity::caller;
use kokeilu_platform::limits::{StreamCap, holding};
use kokeilu_proto::teoffice::{self as pb, te_office_service_server::TeOfficeService};
use kokeilu_proto::{date_from_naive, date_to_naive, timestamp_from};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use kokeilu_rules::eligibility::{self, DeclineReason, EmploymentStatus, JobseekerFacts, Outcome};

use crate::domain::{
    NewReferral, RawPlan, RawReferral, Referral, ReferralFilter, Status as RefStatus, StatusChange,
};
use crate::error::Error;
use crate::referrals::Desk;

/// gRPC front of the desk.
#[derive(Clone)]
pub struct Api {
    desk: Desk,
    closing: CancellationToken,
    streams: StreamCap,
}

impl Api {
    /// `closing` ends the open `WatchReferrals` streams when the server stops; `streams` caps
    /// how many each caller holds open.
    pub fn new(desk: Desk, closing: CancellationToken, streams: StreamCap) -> Self {
        Self {
            desk,
            closing,
            streams,
        }
    }
}

fn wire_status(s: RefStatus) -> pb::ReferralStatus {
    match s {
        RefStatus::Issued => pb::ReferralStatus::Issued,
        RefStatus::Delivered => pb::ReferralStatus::Delivered,
        RefStatus::Acknowledged => pb::ReferralStatus::Acknowledged,
        RefStatus::Rejected => pb::ReferralStatus::Rejected,
    }
}

fn domain_status(v: i32, field: &str) -> Result<Option<RefStatus>, Error> {
    match pb::ReferralStatus::try_from(v) {
        Ok(pb::ReferralStatus::Unspecified) => Ok(None),
        Ok(pb::ReferralStatus::Issued) => Ok(Some(RefStatus::Issued)),
        Ok(pb::ReferralStatus::Delivered) => Ok(Some(RefStatus::Delivered)),
        Ok(pb::ReferralStatus::Acknowledged) => Ok(Some(RefStatus::Acknowledged)),
        Ok(pb::ReferralStatus::Rejected) => Ok(Some(RefStatus::Rejected)),
        Err(_) => Err(Error::Invalid(vec![FieldViolation::new(
            field,
            "unknown status",
        )])),
    }
}

fn referral_to_wire(r: &Referral, history: &[StatusChange]) -> pb::Referral {
    pb::Referral {
        referral_id: r.referral_id.clone(),
        area_id: r.area_id.clone(),
        home_municipality_code: r.home_municipality_code.clone(),
        status: wire_status(r.status) as i32,
        history: history
            .iter()
            .map(|e| pb::StatusChange {
                status: wire_status(e.status) as i32,
                at: Some(timestamp_from(e.at)),
                detail: e.detail.clone(),
            })
            .collect(),
        referral_date: Some(date_from_naive(r.referral_date)),
        job_search_start_date: Some(date_from_naive(r.job_search_start)),
        grounds: r.grounds.iter().map(|g| *g as i32).collect(),
        rejection_reason: r.rejection_reason,
        created_at: Some(timestamp_from(r.created_at)),
        residence_municipality_code: r.residence_municipality_code.clone(),
        decided_by_residence: r.decided_by_residence,
    }
}

fn change_to_wire(e: &StatusChange) -> pb::ReferralStatusChange {
    pb::ReferralStatusChange {
        cursor: Cursor::encode(e.seq),
        referral_id: e.referral_id.clone(),
        area_id: e.area_id.clone(),
        status: wire_status(e.status) as i32,
        at: Some(timestamp_from(e.at)),
        detail: e.detail.clone(),
    }
}

fn invalid(v: FieldViolation) -> Error {
    Error::Invalid(vec![v])
}

/// Wire facts into the rules' facts (henkilötunnus, home and start date are filled in later).
fn facts_from_wire(f: pb::JobseekerFacts) -> Result<JobseekerFacts, Error> {
    let bad = |field: &str, why: &str| Error::Invalid(vec![FieldViolation::new(field, why)]);
    let employment_status = match pb::EmploymentStatus::try_from(f.employment_status) {
        Ok(pb::EmploymentStatus::Unemployed) => EmploymentStatus::Unemployed,
        Ok(pb::EmploymentStatus::LaidOff) => EmploymentStatus::LaidOff,
        Ok(pb::EmploymentStatus::EmployedSubsidised) => EmploymentStatus::EmployedSubsidised,
        Ok(pb::EmploymentStatus::InService) => EmploymentStatus::InService,
        Ok(pb::EmploymentStatus::InTraining) => EmploymentStatus::InTraining,
        Ok(pb::EmploymentStatus::OpenMarketEmployed) => EmploymentStatus::OpenMarketEmployed,
        Ok(pb::EmploymentStatus::ShortWorkingWeek) => EmploymentStatus::ShortWorkingWeek,
        Ok(pb::EmploymentStatus::OutsideLabourForce) => EmploymentStatus::OutsideLabourForce,
        Ok(pb::EmploymentStatus::UnemploymentPension) => EmploymentStatus::UnemploymentPension,
        Ok(pb::EmploymentStatus::Unspecified) | Err(_) => {
            return Err(bad("jobseeker.facts.employment_status", "required"));
        }
    };
    let te_office_declines = match pb::DeclineReason::try_from(f.te_office_declines) {
        Ok(pb::DeclineReason::Unspecified) => None,
        Ok(pb::DeclineReason::LinguisticRights) => Some(DeclineReason::LinguisticRights),
        Ok(pb::DeclineReason::InappropriateClientRelationship) => {
            Some(DeclineReason::InappropriateClientRelationship)
        }
        Ok(pb::DeclineReason::OtherJustified) => Some(DeclineReason::OtherJustified),
        Err(_) => return Err(bad("jobseeker.facts.te_office_declines", "unknown reason")),
    };
    Ok(JobseekerFacts {
        residence_municipality_code: f.residence_municipality_code.trim().to_owned(),
        employment_status,
        registered_as_jobseeker: f.registered_as_jobseeker,
        entitled_to_earnings_related_allowance: f.entitled_to_earnings_related_allowance,
        immigrant: f.immigrant,
        mother_tongue: f.mother_tongue.trim().to_owned(),
        at_risk_of_unemployment: f.at_risk_of_unemployment,
        temporary_protection: f.temporary_protection,
        change_security_eligible: f.change_security_eligible,
        previously_client_of_area: f.previously_client_of_area.trim().to_owned(),
        te_office_declines,
        continuous_unemployment_months: f.continuous_unemployment_months,
        unemployment_benefit_days: f.unemployment_benefit_days,
        labour_market_subsidy_days: f.labour_market_subsidy_days,
        needs_multisector_service: f.needs_multisector_service,
        needs_municipal_services: f.needs_municipal_services,
        risk_of_exclusion: f.risk_of_exclusion,
        ..Default::default()
    })
}

fn raw_referral(idempotency_key: String, seeker: pb::Jobseeker) -> Result<RawReferral, Error> {
    Ok(RawReferral {
        idempotency_key,
        henkilotunnus: seeker.henkilotunnus,
        home_municipality_code: seeker.home_municipality_code,
        job_search_start: seeker.job_search_start_date.as_ref().map(date_to_naive),
        grounds: seeker.grounds,
        facts: seeker.facts.map(facts_from_wire).transpose()?,
        residence_municipality_code: seeker.residence_municipality_code,
        initial_interview_date: seeker.initial_interview_date.as_ref().map(date_to_naive),
        previous_job_search_end: seeker
            .previous_job_search_end_date
            .as_ref()
            .map(date_to_naive),
        employment_plan: seeker.employment_plan.map(|p| RawPlan {
            plan_id: p.plan_id,
            kind: p.kind,
            made_on: p.made_on.as_ref().map(date_to_naive),
            next_review_on: p.next_review_on.as_ref().map(date_to_naive),
        }),
    })
}

fn snake(v: impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn decision_to_wire(d: eligibility::Decision) -> pb::EligibilityDecision {
    let mut out = pb::EligibilityDecision {
        date: Some(date_from_naive(d.date)),
        grounds: d.grounds.iter().map(snake).collect(),
        rule: d.rule.law.to_owned(),
        rule_effective_from: Some(date_from_naive(d.rule.effective_from)),
        ..Default::default()
    };
    match d.outcome {
        Outcome::Referral {
            trial,
            area,
            municipality,
            by_residence,
        } => {
            out.referable = trial == "2021";
            out.trial_id = trial;
            out.area_id = area;
            out.municipality_code = municipality;
            out.by_residence = by_residence;
        }
        Outcome::StaysWithTeOffice { reason, detail } => {
            out.stay_reason = snake(reason);
            out.detail = detail;
        }
    }
    out
}

type ChangeStream = FeedStream<pb::ReferralStatusChange>;

#[tonic::async_trait]
impl TeOfficeService for Api {
    async fn submit_referral(
        &self,
        request: Request<pb::SubmitReferralRequest>,
    ) -> Result<Response<pb::SubmitReferralResponse>, Status> {
        let req = request.into_inner();
        let raw = raw_referral(req.idempotency_key, req.jobseeker.unwrap_or_default())?;
        let new = NewReferral::validate(raw, self.desk.registry, self.desk.clock.today())
            .map_err(Error::Invalid)?;
        let done = self.desk.submit(new).await?;
        Ok(Response::new(pb::SubmitReferralResponse {
            referral_id: done.referral.referral_id,
            area_id: done.referral.area_id,
            status: wire_status(done.referral.status) as i32,
            replayed: done.replayed,
        }))
    }

    async fn get_referral(
        &self,
        request: Request<pb::GetReferralRequest>,
    ) -> Result<Response<pb::Referral>, Status> {
        let id = request.into_inner().referral_id;
        if uuid::Uuid::parse_str(&id).is_err() {
            return Err(Error::Invalid(vec![FieldViolation::new(
                "referral_id",
                "must be a referral id (UUID)",
            )])
            .into());
        }
        let (referral, history) = self.desk.referral(&id).await?;
        Ok(Response::new(referral_to_wire(&referral, &history)))
    }

    async fn list_referrals(
        &self,
        request: Request<pb::ListReferralsRequest>,
    ) -> Result<Response<pb::ListReferralsResponse>, Status> {
        let req = request.into_inner();
        let limit = feed::page_size("page_size", req.page_size).map_err(invalid)?;
        let after = PageToken::parse("page_token", &req.page_token).map_err(invalid)?;
        let filter = ReferralFilter {
            area_id: (!req.area_id.is_empty()).then_some(req.area_id),
            status: domain_status(req.status, "status")?,
            limit: limit + 1,
            after: after.map(|t| (t.at, t.id)),
        };
        let rows = self.desk.list(&filter).await?;
        let (rows, next_page_token) = feed::keyset_page(rows, limit, |(r, _)| PageToken {
            at: r.created_at.timestamp_micros(),
            id: r.referral_id.clone(),
        });
        let referrals = rows
            .iter()
            .map(|(r, history)| referral_to_wire(r, history))
            .collect();
        Ok(Response::new(pb::ListReferralsResponse {
            referrals,
            next_page_token,
        }))
    }

    async fn evaluate_eligibility(
        &self,
        request: Request<pb::EvaluateEligibilityRequest>,
    ) -> Result<Response<pb::EligibilityDecision>, Status> {
        let req = request.into_inner();
        let on = match &req.date {
            None => self.desk.clock.today(),
            Some(d) => date_to_naive(d).ok_or_else(|| {
                Error::Invalid(vec![FieldViolation::new("date", "not a calendar date")])
            })?,
        };
        let seeker = req.jobseeker.unwrap_or_default();
        if seeker.facts.is_none() {
            return Err(
                Error::Invalid(vec![FieldViolation::new("jobseeker.facts", "required")]).into(),
            );
        }
        // The same validation as SubmitReferral; no idempotency key is needed for a question.
        let raw = raw_referral("evaluation".into(), seeker)?;
        let new = NewReferral::validate(raw, self.desk.registry, on).map_err(Error::Invalid)?;
        let facts = new.facts.unwrap_or_default();
        let decision = eligibility::evaluate(self.desk.registry, &facts, on).map_err(|e| {
            Error::Invalid(vec![FieldViolation::new("jobseeker.facts", e.to_string())])
        })?;
        Ok(Response::new(decision_to_wire(decision)))
    }

    type WatchReferralsStream = ChangeStream;

    async fn watch_referrals(
        &self,
        request: Request<pb::WatchReferralsRequest>,
    ) -> Result<Response<Self::WatchReferralsStream>, Status> {
        let permit = self.streams.open(caller(&request)?)?;
        let req = request.into_inner();
        let cursor = Cursor::parse("after_cursor", &req.after_cursor, "change").map_err(invalid)?;
        let after = cursor.resolve(|| self.desk.last_change()).await?;
        let area = (!req.area_id.is_empty()).then_some(req.area_id);
        let desk = self.desk.clone();
        let stream =
            self.desk
                .store
                .feed()
                .stream(after, self.closing.clone(), move |after, limit| {
                    let desk = desk.clone();
                    let area = area.clone();
                    async move {
                        let batch = desk.changes_after(after, area.as_deref(), limit).await?;
                        Ok(batch.iter().map(|e| (e.seq, change_to_wire(e))).collect())
                    }
                });
        Ok(Response::new(holding(stream, permit)))
    }
}
