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

use crate::actions::NewAction;
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
        let area = area(&req.area_id, true)?;
        if req.referral_ids.is_empty() || req.referral_ids.len() > 1000 {
            return Err(Error::field("referral_ids", "1 to 1000 referral ids").into());
        }
        if req
            .referral_ids
            .iter()
            .any(|id| uuid::Uuid::parse_str(id).is_err())
        {
            return Err(Error::field("referral_ids", "must be referral ids (UUIDs)").into());
        }
        let action = self
            .ledger
            .issue(NewAction {
                kind: ActionKind::InformationRequest,
                area,
                text: text(&req.purpose, "purpose")?,
                referral_ids: req.referral_ids,
                deadline: None,
                effective_from: None,
                partial: false,
                actor,
            })
            .await?;
        Ok(Response::new(action))
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
        let action = NewAction {
            kind: ActionKind::Order,
            area: area(&req.area_id, true)?,
            text: text(&req.text, "text")?,
            referral_ids: Vec::new(),
            deadline: Some(date(&req.deadline, "deadline")?),
            effective_from: None,
            partial: false,
            actor,
        };
        Ok(Response::new(self.ledger.issue(action).await?))
    }

    async fn issue_remark(
        &self,
        request: Request<pb::IssueRemarkRequest>,
    ) -> Result<Response<sv::SupervisoryAction>, Status> {
        let actor = caller(&request)?.uri();
        let req = request.into_inner();
        let action = NewAction {
            kind: ActionKind::Remark,
            area: area(&req.area_id, true)?,
            text: text(&req.text, "text")?,
            referral_ids: Vec::new(),
            deadline: None,
            effective_from: None,
            partial: false,
            actor,
        };
        Ok(Response::new(self.ledger.issue(action).await?))
    }

    async fn suspend_trial(
        &self,
        request: Request<pb::SuspendTrialRequest>,
    ) -> Result<Response<sv::SupervisoryAction>, Status> {
        let actor = caller(&request)?.uri();
        let req = request.into_inner();
        let action = NewAction {
            kind: ActionKind::Suspension,
            area: area(&req.area_id, true)?,
            text: text(&req.text, "text")?,
            referral_ids: Vec::new(),
            deadline: None,
            effective_from: Some(date(&req.effective_from, "effective_from")?),
            partial: req.partial,
            actor,
        };
        Ok(Response::new(self.ledger.issue(action).await?))
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
        _request: Request<pb::LiftSuspensionRequest>,
    ) -> Result<Response<sv::SupervisoryAction>, Status> {
        Err(Status::unimplemented("LiftSuspension"))
    }

    async fn receive_complaint(
        &self,
        _request: Request<pb::ReceiveComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        Err(Status::unimplemented("ReceiveComplaint"))
    }

    async fn decide_complaint(
        &self,
        _request: Request<pb::DecideComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        Err(Status::unimplemented("DecideComplaint"))
    }

    async fn get_complaint(
        &self,
        _request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, Status> {
        Err(Status::unimplemented("GetComplaint"))
    }

    async fn list_complaints(
        &self,
        _request: Request<pb::ListComplaintsRequest>,
    ) -> Result<Response<pb::ListComplaintsResponse>, Status> {
        Err(Status::unimplemented("ListComplaints"))
    }

    async fn get_ministry_notice(
        &self,
        _request: Request<pb::GetMinistryNoticeRequest>,
    ) -> Result<Response<pb::MinistryNotice>, Status> {
        Err(Status::unimplemented("GetMinistryNotice"))
    }
}
