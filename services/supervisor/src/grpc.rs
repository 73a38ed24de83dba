//! The SupervisorService gRPC API (thin: validate, call the ledger, convert between wire and
//! domain types).

use kokeilu_bus::feed::{self, Cursor, FeedStream};
use kokeilu_platform::identity::caller;
use kokeilu_platform::limits::{StreamCap, holding};
use kokeilu_proto::supervision::{self as sv, ActionKind};
use kokeilu_proto::supervisor::{self as pb, supervisor_service_server::SupervisorService};
use kokeilu_proto::{date_from_naive, date_to_naive, timestamp_from};
use kokeilu_rules::registry::Registry;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::actions::{ActionRequest, Keyed, scope_of};
use crate::complaints::{Decision, MAX_SUMMARY_CHARS, NewComplaint};
use crate::domain::{ComplianceEvent, ComplianceKind};
use crate::error::Error;
use crate::ledger::Ledger;

#[derive(Clone)]
pub struct Api {
    ledger: Ledger,
    closing: CancellationToken,
    streams: StreamCap,
}

impl Api {
    /// `closing` ends the open subscriptions when the server stops; `streams` caps how many each
    /// caller holds open.
    pub fn new(ledger: Ledger, closing: CancellationToken, streams: StreamCap) -> Self {
        Self {
            ledger,
            closing,
            streams,
        }
    }
}

fn area(id: &str, required: bool) -> Result<String, Error> {
    if id.is_empty() && !required {
        return Ok(String::new());
    }
    if Registry::builtin().current_area(id).is_none() {
        return Err(Error::field("area_id", "not a trial area"));
    }
    Ok(id.to_owned())
}

fn kinds(v: &[i32]) -> Result<Vec<ComplianceKind>, Error> {
    v.iter()
        .map(|k| match sv::ComplianceKind::try_from(*k) {
            Ok(sv::ComplianceKind::DeadlineMissed) => Ok(ComplianceKind::DeadlineMissed),
            Ok(sv::ComplianceKind::DeadlineMetLate) => Ok(ComplianceKind::DeadlineMetLate),
            Ok(sv::ComplianceKind::WrongArea) => Ok(ComplianceKind::WrongArea),
            Ok(sv::ComplianceKind::StatementOutsideCompetence) => {
                Ok(ComplianceKind::StatementOutsideCompetence)
            }
            Ok(sv::ComplianceKind::Retraction) => Ok(ComplianceKind::Retraction),
            Ok(sv::ComplianceKind::Unspecified) | Err(_) => {
                Err(Error::field("kinds", "unknown compliance kind"))
            }
        })
        .collect()
}

/// A compliance event on the wire (the feed, and the message published for it).
pub fn compliance_event(e: &ComplianceEvent) -> sv::ComplianceEvent {
    sv::ComplianceEvent {
        event_id: e.event_id.clone(),
        cursor: Cursor::encode(e.seq),
        kind: e.kind as i32,
        area_id: e.area.clone(),
        referral_id: e.referral_id.clone(),
        client_pseudonym: e.pseudonym.clone(),
        deadline: e.deadline.map_or(0, |k| k as i32),
        due_date: e.due.map(date_from_naive),
        date: Some(date_from_naive(e.date)),
        detail: e.detail.clone(),
        rule: e.rule.clone(),
        detected_at: Some(timestamp_from(e.detected_at)),
        retracts_event_id: e.retracts_event_id.clone(),
        municipality_code: e.municipality.clone(),
        retracted: e.retracted,
    }
}

fn cursor(c: &str) -> Result<Cursor, Error> {
    Cursor::parse("after_cursor", c, "event").map_err(|v| Error::Invalid(vec![v]))
}

fn text(t: &str, field: &str) -> Result<String, Error> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 4000 {
        return Err(Error::field(field, "required, at most 4000 characters"));
    }
    if kokeilu_platform::privacy::contains_identity_code(t.as_bytes()) {
        return Err(Error::field(
            field,
            "must not contain a personal identity code",
        ));
    }
    Ok(t.to_owned())
}

fn date(d: &Option<kokeilu_proto::common::Date>, field: &str) -> Result<chrono::NaiveDate, Error> {
    d.as_ref()
        .and_then(date_to_naive)
        .ok_or_else(|| Error::field(field, "required calendar date"))
}

/// Full method names: idempotency keys are scoped by them.
mod method {
    macro_rules! m {
        ($name:ident, $rpc:literal) => {
            pub const $name: &str = concat!("/kokeilu.supervisor.v1.SupervisorService/", $rpc);
        };
    }
    m!(REQUEST_INFORMATION, "RequestInformation");
    m!(ISSUE_ORDER, "IssueOrder");
    m!(ISSUE_REMARK, "IssueRemark");
    m!(SUSPEND_TRIAL, "SuspendTrial");
    m!(LIFT_SUSPENSION, "LiftSuspension");
    m!(RECEIVE_COMPLAINT, "ReceiveComplaint");
    m!(DECIDE_COMPLAINT, "DecideComplaint");
}

/// Referral ids (UUIDs), at most 1000; at least one when `required`.
fn referral_ids(ids: Vec<String>, required: bool) -> Result<Vec<String>, Error> {
    if (required && ids.is_empty()) || ids.len() > 1000 {
        return Err(Error::field(
            "referral_ids",
            if required {
                "1 to 1000 referral ids"
            } else {
                "at most 1000 referral ids"
            },
        ));
    }
    if ids.iter().any(|id| uuid::Uuid::parse_str(id).is_err()) {
        return Err(Error::field("referral_ids", "must be referral ids (UUIDs)"));
    }
    Ok(ids)
}

/// An action or complaint id (a UUID); empty allowed unless `required`.
fn id(id: &str, field: &str, required: bool) -> Result<String, Error> {
    let id = id.trim();
    if id.is_empty() && !required {
        return Ok(String::new());
    }
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(Error::field(field, "required: an id (UUID) AVI gave"));
    }
    Ok(id.to_owned())
}

/// A municipality code (three digits) or empty; membership of the area is checked on the day.
fn municipality(code: &str) -> Result<String, Error> {
    let code = code.trim();
    if !code.is_empty() && (code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit())) {
        return Err(Error::field(
            "municipality_code",
            "a municipality code (kuntanumero, three digits) or empty",
        ));
    }
    Ok(code.to_owned())
}

/// The suspension an order threatens: `None` for the whole trial, else the partial scope.
fn threat(t: &pb::SuspensionThreat) -> Result<Option<kokeilu_rules::suspension::Scope>, Error> {
    let scope = t.scope.as_ref().map(scope_of).unwrap_or_default();
    match (t.partial, scope.is_empty()) {
        (true, _) => Ok(Some(scope)),
        (false, true) => Ok(None),
        (false, false) => Err(Error::field(
            "threat.scope",
            "only for a partial suspension (set threat.partial)",
        )),
    }
}

type EventStream = FeedStream<sv::ComplianceEvent>;

#[tonic::async_trait]
impl SupervisorService for Api {
    type SubscribeComplianceEventsStream = EventStream;

    async fn subscribe_compliance_events(
        &self,
        request: Request<pb::SubscribeComplianceEventsRequest>,
    ) -> Result<Response<Self::SubscribeComplianceEventsStream>, Status> {
        let permit = self.streams.open(caller(&request)?)?;
        let req = request.into_inner();
        let area = area(&req.area_id, false)?;
        let kinds = kinds(&req.kinds)?;
        let after = cursor(&req.after_cursor)?
            .resolve(|| self.ledger.last_event_seq())
            .await
            .map_err(Error::from)?;
        let ledger = self.ledger.clone();
        let stream =
            self.ledger
                .store
                .feed()
                .stream(after, self.closing.clone(), move |after, limit| {
                    let ledger = ledger.clone();
                    let area = area.clone();
                    let kinds = kinds.clone();
                    async move {
                        let batch = ledger
                            .events_after(after, &area, &kinds, false, limit)
                            .await
                            .map_err(|e| Status::from(Error::from(e)))?;
                        Ok(batch.iter().map(|e| (e.seq, compliance_event(e))).collect())
                    }
                });
        Ok(Response::new(holding(stream, permit)))
    }

    async fn list_compliance_events(
        &self,
        request: Request<pb::ListComplianceEventsRequest>,
    ) -> Result<Response<pb::ListComplianceEventsResponse>, Status> {
        let req = request.into_inner();
        let area = area(&req.area_id, false)?;
        let kinds = kinds(&req.kinds)?;
        let after = cursor(&req.after_cursor)?
            .resolve(|| self.ledger.last_event_seq())
            .await
            .map_err(Error::from)?;
        let limit =
            feed::page_size("page_size", req.page_size).map_err(|v| Error::Invalid(vec![v]))?;
        let events = self
            .ledger
            .events_after(after, &area, &kinds, req.standing_only, limit)
            .await
            .map_err(Error::from)?;
        let events: Vec<_> = events.iter().map(compliance_event).collect();
        let next_cursor = events.last().map(|e| e.cursor.clone()).unwrap_or_default();
        Ok(Response::new(pb::ListComplianceEventsResponse {
            events,
            next_cursor,
        }))
    }

    async fn get_area_summary(
        &self,
        request: Request<pb::GetAreaSummaryRequest>,
    ) -> Result<Response<pb::AreaSummary>, Status> {
        let area = area(&request.into_inner().area_id, true)?;
        let deadlines = self
            .ledger
            .deadline_counts(&area)
            .await
            .map_err(Error::from)?;
        let months = self.ledger.monthly(&area).await.map_err(Error::from)?;
        let by_municipality = self
            .ledger
            .municipalities(&area)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::AreaSummary {
            area_id: area,
            deadlines: deadlines
                .into_iter()
                .map(|d| pb::DeadlineCounts {
                    deadline: d.kind as i32,
                    open: d.open,
                    met: d.met,
                    missed: d.missed,
                    met_late: d.met_late,
                })
                .collect(),
            months: months
                .into_iter()
                .map(|m| pb::MonthSummary {
                    month: m.month,
                    referrals: m.referrals,
                    acknowledged: m.acknowledged,
                    rejected: m.rejected,
                    initial_interviews: m.initial_interviews,
                    median_days_to_initial_interview: m
                        .median_days_to_initial_interview
                        .unwrap_or(0.0),
                    late_initial_interviews: m.late_initial_interviews,
                })
                .collect(),
            lead_municipality_code: by_municipality.lead,
            municipalities: by_municipality
                .rows
                .into_iter()
                .map(|m| pb::MunicipalitySummary {
                    municipality_code: m.code,
                    name: m.name,
                    referrals: m.referrals,
                    acknowledged: m.acknowledged,
                    rejected: m.rejected,
                    initial_interviews: m.initial_interviews,
                    late_initial_interviews: m.late_initial_interviews,
                    standing_events: m.standing_events,
                })
                .collect(),
            standing_events: by_municipality.standing_events,
            retracted_events: by_municipality.retracted_events,
        }))
    }

    async fn request_information(
        &self,
        request: Request<pb::RequestInformationRequest>,
    ) -> Result<Response<sv::SupervisoryAction>, Status> {
        let actor = caller(&request)?.uri();
        let req = request.into_inner();
        let keyed = Keyed::new(method::REQUEST_INFORMATION, &req.idempotency_key, &req)?;
        let area = area(&req.area_id, true)?;
        let referral_ids = referral_ids(req.referral_ids, true)?;
        let action = ActionRequest {
            text: text(&req.purpose, "purpose")?,
            referral_ids,
            ..ActionRequest::new(ActionKind::InformationRequest, area, actor)
        };
        Ok(Response::new(self.ledger.issue(&keyed, action).await?))
    }

    async fn get_information_answer(
        &self,
        request: Request<pb::GetInformationAnswerRequest>,
    ) -> Result<Response<sv::InformationAnswer>, Status> {
        let actor = caller(&request)?.clone();
        Ok(Response::new(
            self.ledger
                .answer(&request.into_inner().action_id, &actor)
                .await?,
        ))
    }

    async fn issue_order(
        &self,
        request: Request<pb::IssueOrderRequest>,
    ) -> Result<Response<sv::SupervisoryAction>, Status> {
        let actor = caller(&request)?.uri();
        let req = request.into_inner();
        let keyed = Keyed::new(method::ISSUE_ORDER, &req.idempotency_key, &req)?;
        let action = ActionRequest {
            text: text(&req.text, "text")?,
            deadline: Some(date(&req.deadline, "deadline")?),
            threat: req.threat.as_ref().map(threat).transpose()?,
            municipality: municipality(&req.municipality_code)?,
            complaint_id: id(&req.complaint_id, "complaint_id", false)?,
            ..ActionRequest::new(ActionKind::Order, area(&req.area_id, true)?, actor)
        };
        Ok(Response::new(self.ledger.issue(&keyed, action).await?))
    }

    async fn issue_remark(
        &self,
        request: Request<pb::IssueRemarkRequest>,
    ) -> Result<Response<sv::SupervisoryAction>, Status> {
        let actor = caller(&request)?.uri();
        let req = request.into_inner();
        let keyed = Keyed::new(method::ISSUE_REMARK, &req.idempotency_key, &req)?;
        let action = ActionRequest {
            text: text(&req.text, "text")?,
            municipality: municipality(&req.municipality_code)?,
            complaint_id: id(&req.complaint_id, "complaint_id", false)?,
            ..ActionRequest::new(ActionKind::Remark, area(&req.area_id, true)?, actor)
        };
        Ok(Response::new(self.ledger.issue(&keyed, action).await?))
    }

    async fn suspend_trial(
        &self,
        request: Request<pb::SuspendTrialRequest>,
    ) -> Result<Response<sv::SupervisoryAction>, Status> {
        let actor = caller(&request)?.uri();
        let req = request.into_inner();
        let keyed = Keyed::new(method::SUSPEND_TRIAL, &req.idempotency_key, &req)?;
        let given = req.scope.as_ref().map(scope_of).unwrap_or_default();
        let scope = match (req.partial, given.is_empty()) {
            // A partial suspension must name what it covers ([`decide`] checks the names).
            (true, _) => Some(given),
            (false, true) => None,
            (false, false) => {
                return Err(Error::field(
                    "scope",
                    "only for a partial suspension (set partial, or leave scope empty to suspend \
                     the whole trial)",
                )
                .into());
            }
        };
        let action = ActionRequest {
            text: text(&req.text, "text")?,
            effective_from: Some(date(&req.effective_from, "effective_from")?),
            scope,
            complaint_id: id(&req.complaint_id, "complaint_id", false)?,
            ..ActionRequest::new(ActionKind::Suspension, area(&req.area_id, true)?, actor)
        };
        Ok(Response::new(self.ledger.issue(&keyed, action).await?))
    }

    async fn list_actions(
        &self,
        request: Request<pb::ListActionsRequest>,
    ) -> Result<Response<pb::ListActionsResponse>, Status> {
        let req = request.into_inner();
        let area = area(&req.area_id, false)?;
        let invalid = |v| Error::Invalid(vec![v]);
        let limit = feed::page_size("page_size", req.page_size).map_err(invalid)?;
        let after = feed::PageToken::parse("page_token", &req.page_token).map_err(invalid)?;
        let rows = self
            .ledger
            .actions(&area, after.map(|t| (t.at, t.id)), limit + 1)
            .await?;
        let (rows, next_page_token) = feed::keyset_page(rows, limit, |(at, a)| feed::PageToken {
            at: *at,
            id: a.action_id.clone(),
        });
        Ok(Response::new(pb::ListActionsResponse {
            actions: rows.into_iter().map(|(_, a)| a).collect(),
            next_page_token,
        }))
    }

    async fn lift_suspension(
        &self,
        request: Request<pb::LiftSuspensionRequest>,
    ) -> Result<Response<sv::SupervisoryAction>, Status> {
        let actor = caller(&request)?.uri();
        let req = request.into_inner();
        let keyed = Keyed::new(method::LIFT_SUSPENSION, &req.idempotency_key, &req)?;
        let action = ActionRequest {
            text: text(&req.text, "text")?,
            effective_from: Some(date(&req.effective_from, "effective_from")?),
            lifts: id(&req.suspension_action_id, "suspension_action_id", true)?,
            ..ActionRequest::new(ActionKind::LiftSuspension, area(&req.area_id, true)?, actor)
        };
        Ok(Response::new(self.ledger.issue(&keyed, action).await?))
    }

    async fn receive_complaint(
        &self,
        request: Request<pb::ReceiveComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        let req = request.into_inner();
        let keyed = Keyed::new(method::RECEIVE_COMPLAINT, &req.idempotency_key, &req)?;
        let summary = req.summary.trim();
        if summary.is_empty() || summary.chars().count() > MAX_SUMMARY_CHARS {
            return Err(Error::field("summary", "required, at most 2000 characters").into());
        }
        let complaint = NewComplaint {
            area: area(&req.area_id, true)?,
            municipality: municipality(&req.municipality_code)?,
            received_on: date(&req.received_on, "received_on")?,
            summary: text(summary, "summary")?,
            referral_ids: referral_ids(req.referral_ids, false)?,
        };
        Ok(Response::new(
            self.ledger.receive_complaint(&keyed, complaint).await?,
        ))
    }

    async fn decide_complaint(
        &self,
        request: Request<pb::DecideComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        let req = request.into_inner();
        let keyed = Keyed::new(method::DECIDE_COMPLAINT, &req.idempotency_key, &req)?;
        let complaint_id = id(&req.complaint_id, "complaint_id", true)?;
        let note = req.note.trim();
        let decision = Decision {
            status: pb::ComplaintStatus::try_from(req.status)
                .map_err(|_| Error::field("status", "unknown status"))?,
            outcome: pb::ComplaintOutcome::try_from(req.outcome)
                .map_err(|_| Error::field("outcome", "unknown outcome"))?,
            on: match &req.on {
                None => self.ledger.clock.today(),
                Some(_) => date(&req.on, "on")?,
            },
            note: if note.is_empty() {
                String::new()
            } else {
                text(note, "note")?
            },
            action_id: id(&req.action_id, "action_id", false)?,
        };
        Ok(Response::new(
            self.ledger
                .decide_complaint(&keyed, &complaint_id, decision)
                .await?,
        ))
    }

    async fn get_complaint(
        &self,
        request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        let id = id(&request.into_inner().complaint_id, "complaint_id", true)?;
        Ok(Response::new(self.ledger.complaint(&id).await?))
    }

    async fn list_complaints(
        &self,
        request: Request<pb::ListComplaintsRequest>,
    ) -> Result<Response<pb::ListComplaintsResponse>, Status> {
        let req = request.into_inner();
        let area = area(&req.area_id, false)?;
        let status = pb::ComplaintStatus::try_from(req.status)
            .map_err(|_| Error::field("status", "unknown status"))?;
        let invalid = |v| Error::Invalid(vec![v]);
        let limit = feed::page_size("page_size", req.page_size).map_err(invalid)?;
        let after = feed::PageToken::parse("page_token", &req.page_token).map_err(invalid)?;
        let rows = self
            .ledger
            .complaints(&area, status, after.map(|t| (t.at, t.id)), limit + 1)
            .await?;
        let (rows, next_page_token) = feed::keyset_page(rows, limit, |(at, c)| feed::PageToken {
            at: *at,
            id: c.complaint_id.clone(),
        });
        Ok(Response::new(pb::ListComplaintsResponse {
            complaints: rows.into_iter().map(|(_, c)| c).collect(),
            next_page_token,
        }))
    }

    async fn get_ministry_notice(
        &self,
        request: Request<pb::GetMinistryNoticeRequest>,
    ) -> Result<Response<pb::MinistryNotice>, Status> {
        let req = request.into_inner();
        let today = self.ledger.clock.today();
        let on = match &req.date {
            None => today,
            Some(_) => date(&req.date, "date")?,
        };
        if on > today {
            return Err(Error::field(
                "date",
                &format!("the procedures under way are known up to today ({today})"),
            )
            .into());
        }
        Ok(Response::new(self.ledger.ministry_notice(on).await?))
    }
}
