//! The TrialAreaService gRPC API: converts wire types, calls the desk, converts back.

use kokeilu_bus::feed::{self, Cursor, FeedStream, PageToken};
use kokeilu_platform::grpc::FieldViolation;
use kokeilu_platform::identity::caller;
use kokeilu_platform::limits::{StreamCap, holding};
use kokeilu_proto::trialarea::{self as pb, trial_area_service_server::TrialAreaService};
use kokeilu_proto::{date_from_naive, timestamp_from};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::desk::{Desk, Idem, method};
use crate::domain::{
    IncomingReferral, IncomingStatus, Rejection, ServiceEvent, Statement, interview_rule,
};
use crate::error::Error;
use crate::units::Units;
use kokeilu_proto::referral::EmploymentPlan;
use kokeilu_rules::deadlines::AreaInterview;

/// gRPC front of the area's desk.
#[derive(Clone)]
pub struct Api {
    desk: Desk,
    closing: CancellationToken,
    streams: StreamCap,
}

impl Api {
    /// `closing` ends the open `WatchIncomingReferrals` streams when the server stops;
    /// `streams` caps how many each caller holds open.
    pub fn new(desk: Desk, closing: CancellationToken, streams: StreamCap) -> Self {
        Self {
            desk,
            closing,
            streams,
        }
    }
}

fn wire_status(s: IncomingStatus) -> pb::IncomingStatus {
    match s {
        IncomingStatus::Received => pb::IncomingStatus::Received,
        IncomingStatus::Acknowledged => pb::IncomingStatus::Acknowledged,
        IncomingStatus::Rejected => pb::IncomingStatus::Rejected,
    }
}

pub fn to_wire(units: &Units, r: &IncomingReferral) -> pb::IncomingReferral {
    let interview = r.initial_interview();
    let (required, due) = match &interview {
        AreaInterview::Required(due) => (true, Some(date_from_naive(due.due))),
        AreaInterview::NotRequired { .. } => (false, None),
    };
    let optional = |d: Option<chrono::NaiveDate>| d.map(date_from_naive);
    pb::IncomingReferral {
        residence_municipality_code: r.residence_municipality_code.clone(),
        decided_by_residence: r.decided_by_residence,
        te_office_initial_interview_date: optional(r.te_office_interview),
        previous_job_search_end_date: optional(r.previous_job_search_end),
        employment_plan: r.employment_plan.as_ref().map(|p| EmploymentPlan {
            plan_id: p.plan_id.clone(),
            kind: p.kind,
            made_on: Some(date_from_naive(p.made_on)),
            next_review_on: optional(p.next_review_on),
        }),
        plan_revised_on: optional(r.plan_revised_on),
        municipality_code: r.municipality_code().to_owned(),
        unit: units
            .unit_of(r.municipality_code())
            .unwrap_or_default()
            .to_owned(),
        initial_interview_required: required,
        initial_interview_due: due,
        initial_interview_rule: interview_rule(&interview),
        referral_id: r.referral_id.clone(),
        area_id: r.area_id.clone(),
        henkilotunnus: r.henkilotunnus.clone(),
        home_municipality_code: r.home_municipality_code.clone(),
        grounds: r.grounds.clone(),
        job_search_start_date: Some(date_from_naive(r.job_search_start)),
        referral_date: Some(date_from_naive(r.referral_date)),
        status: wire_status(r.status) as i32,
        received_at: Some(timestamp_from(r.received_at)),
        decided_at: r.decided_at.map(timestamp_from),
        rejection_reason: r.rejection_reason.map_or(0, |reason| reason as i32),
        cursor: Cursor::encode(r.cursor),
    }
}

fn invalid(v: FieldViolation) -> Error {
    Error::Invalid(vec![v])
}

fn referral_id(id: &str) -> Result<&str, Error> {
    if uuid::Uuid::parse_str(id).is_ok() {
        Ok(id)
    } else {
        Err(Error::Invalid(vec![FieldViolation::new(
            "referral_id",
            "must be a referral id (UUID)",
        )]))
    }
}

fn required_date(
    d: &Option<kokeilu_proto::common::Date>,
    field: &str,
) -> Result<chrono::NaiveDate, Error> {
    match d {
        None => Err(Error::field(field, "required")),
        Some(d) => kokeilu_proto::date_to_naive(d)
            .ok_or_else(|| Error::field(field, "not a calendar date")),
    }
}

type IncomingStream = FeedStream<pb::IncomingReferral>;

#[tonic::async_trait]
impl TrialAreaService for Api {
    async fn list_incoming_referrals(
        &self,
        request: Request<pb::ListIncomingReferralsRequest>,
    ) -> Result<Response<pb::ListIncomingReferralsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let limit = feed::page_size("page_size", req.page_size).map_err(invalid)?;
        let status = match pb::IncomingStatus::try_from(req.status) {
            Ok(pb::IncomingStatus::Unspecified) => None,
            Ok(pb::IncomingStatus::Received) => Some(IncomingStatus::Received),
            Ok(pb::IncomingStatus::Acknowledged) => Some(IncomingStatus::Acknowledged),
            Ok(pb::IncomingStatus::Rejected) => Some(IncomingStatus::Rejected),
            Err(_) => {
                return Err(
                    Error::Invalid(vec![FieldViolation::new("status", "unknown status")]).into(),
                );
            }
        };
        let after = match PageToken::parse("page_token", &req.page_token).map_err(invalid)? {
            None => None,
            Some(t) => Some((
                chrono::DateTime::from_timestamp_micros(t.at).ok_or_else(|| {
                    invalid(FieldViolation::new("page_token", "not a page token"))
                })?,
                t.id,
            )),
        };
        let rows = self.desk.list(status, limit + 1, after).await?;
        let (rows, next_page_token) = feed::keyset_page(rows, limit, |r| PageToken {
            at: r.received_at.timestamp_micros(),
            id: r.referral_id.clone(),
        });
        Ok(Response::new(pb::ListIncomingReferralsResponse {
            referrals: rows.iter().map(|r| to_wire(&self.desk.units, r)).collect(),
            next_page_token,
        }))
    }

    async fn get_incoming_referral(
        &self,
        request: Request<pb::GetIncomingReferralRequest>,
    ) -> Result<Response<pb::IncomingReferral>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let id = referral_id(&req.referral_id)?;
        let row = self.desk.referral(id).await?;
        Ok(Response::new(to_wire(&self.desk.units, &row)))
    }

    type WatchIncomingReferralsStream = IncomingStream;

    async fn watch_incoming_referrals(
        &self,
        request: Request<pb::WatchIncomingReferralsRequest>,
    ) -> Result<Response<Self::WatchIncomingReferralsStream>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let permit = self.streams.open(&caller)?;
        let after = Cursor::parse("after_cursor", &req.after_cursor, "referral")
            .map_err(invalid)?
            .resolve(|| self.desk.last_cursor())
            .await?;
        let desk = self.desk.clone();
        let stream =
            self.desk
                .store
                .feed()
                .stream(after, self.closing.clone(), move |after, limit| {
                    let desk = desk.clone();
                    async move {
                        let batch = desk
                            .changes_after(after, limit)
                            .await
                            .map_err(Status::from)?;
                        Ok(batch
                            .iter()
                            .map(|r| (r.cursor, to_wire(&desk.units, r)))
                            .collect())
                    }
                });
        Ok(Response::new(holding(stream, permit)))
    }

    async fn acknowledge_client(
        &self,
        request: Request<pb::AcknowledgeClientRequest>,
    ) -> Result<Response<pb::AcknowledgeClientResponse>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let idem = Idem::new(method::ACKNOWLEDGE, &req.idempotency_key, &req)?;
        let id = referral_id(&req.referral_id)?;
        Ok(Response::new(self.desk.acknowledge(&idem, id).await?))
    }

    async fn reject_referral(
        &self,
        request: Request<pb::RejectReferralRequest>,
    ) -> Result<Response<pb::RejectReferralResponse>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let id = referral_id(&req.referral_id)?;
        let rejection = Rejection::validate(req.reason, &req.detail).map_err(Error::Invalid)?;
        let idem = Idem::new(method::REJECT, &req.idempotency_key, &req)?;
        Ok(Response::new(self.desk.reject(&idem, id, rejection).await?))
    }

    async fn record_service_event(
        &self,
        request: Request<pb::RecordServiceEventRequest>,
    ) -> Result<Response<pb::RecordServiceEventResponse>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let id = referral_id(&req.referral_id)?;
        let kind = ServiceEvent::try_from(i64::from(req.kind)).map_err(|_| {
            Error::field(
                "kind",
                "required: INITIAL_INTERVIEW, EMPLOYMENT_PLAN or JOB_SEARCH_DISCUSSION",
            )
        })?;
        let date = required_date(&req.date, "date")?;
        let idem = Idem::new(method::RECORD_SERVICE_EVENT, &req.idempotency_key, &req)?;
        Ok(Response::new(
            self.desk
                .record_service_event(&idem, id, kind, date)
                .await?,
        ))
    }

    async fn transfer_client(
        &self,
        request: Request<pb::TransferClientRequest>,
    ) -> Result<Response<pb::TransferClientResponse>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let id = referral_id(&req.referral_id)?;
        if req.destination.trim().is_empty() {
            return Err(
                Error::field("destination", "required: an area slug or \"te-office\"").into(),
            );
        }
        let date = required_date(&req.date, "date")?;
        let idem = Idem::new(method::TRANSFER, &req.idempotency_key, &req)?;
        Ok(Response::new(
            self.desk
                .transfer_client(&idem, id, req.destination.trim(), date)
                .await?,
        ))
    }

    async fn issue_statement(
        &self,
        request: Request<pb::IssueStatementRequest>,
    ) -> Result<Response<pb::IssueStatementResponse>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let id = referral_id(&req.referral_id)?;
        let subject = serde_json::from_value(serde_json::Value::String(req.subject.clone()))
            .map_err(|_| {
                Error::field(
                    "subject",
                    "unknown statement subject (see `kokeilu rules statement-competence`)",
                )
            })?;
        let idem = Idem::new(method::ISSUE_STATEMENT, &req.idempotency_key, &req)?;
        let statement = Statement {
            subject,
            subject_name: req.subject,
            information_received: required_date(
                &req.information_received_date,
                "information_received_date",
            )?,
            date: required_date(&req.date, "date")?,
        };
        Ok(Response::new(
            self.desk.issue_statement(&idem, id, statement).await?,
        ))
    }

    async fn list_supervisory_actions(
        &self,
        request: Request<pb::ListSupervisoryActionsRequest>,
    ) -> Result<Response<pb::ListSupervisoryActionsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let limit = feed::page_size("page_size", req.page_size).map_err(invalid)?;
        let after = PageToken::parse("page_token", &req.page_token).map_err(invalid)?;
        let rows = self
            .desk
            .actions(after.map(|t| (t.at, t.id)), limit + 1)
            .await?;
        let (rows, next_page_token) = feed::keyset_page(rows, limit, |(at, a)| PageToken {
            at: *at,
            id: a.action_id.clone(),
        });
        Ok(Response::new(pb::ListSupervisoryActionsResponse {
            actions: rows.into_iter().map(|(_, a)| a).collect(),
            next_page_token,
        }))
    }

    async fn answer_information_request(
        &self,
        request: Request<pb::AnswerInformationRequestRequest>,
    ) -> Result<Response<pb::AnswerInformationRequestResponse>, Status> {
        let caller = caller(&request)?.clone();
        let req = request.into_inner();
        self.desk.check_area(&caller, &req.area_id)?;
        let idem = Idem::new(method::ANSWER, &req.idempotency_key, &req)?;
        Ok(Response::new(
            self.desk
                .answer_information_request(&idem, &req.action_id)
                .await?,
        ))
    }
}
