//! What the area tells the supervising agency (AVI) and what AVI asks of it.
//!
//! Every decision and service event is reported as a pseudonymised [`ServiceFact`] through the
//! outbox, in the same transaction as the change it reports. The client's pseudonym is the one the
//! TE office sent with the referral: the area never holds the pseudonym key. AVI's actions addressed to the area
//! are stored as they arrive; an information request is answered on the area's command, and that
//! answer is the only message that carries identity codes to AVI.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::envelope::{self, open, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::supervision::{
    ActionKind, ClientRecord, FactKind, InformationAnswer, ServiceFact, SupervisoryAction,
};
use kokeilu_proto::trialarea as pb;
use kokeilu_proto::{Payload, date_from_naive, date_to_naive, subjects, timestamp_from};
use kokeilu_rules::competence::{Issuer, competence};
use kokeilu_rules::suspension::{Scope, Suspension};

use crate::desk::{Desk, Idem};
use crate::domain::{
    self, IncomingReferral, RecordedEvent, RecordedStatement, ServiceEvent, Statement, Step,
    Transfer,
};
use crate::error::Error;

/// The fact AVI is told for a service event of `kind`.
fn fact_kind(kind: ServiceEvent) -> FactKind {
    match kind {
        ServiceEvent::InitialInterview => FactKind::InitialInterviewHeld,
        ServiceEvent::EmploymentPlan => FactKind::EmploymentPlanMade,
        ServiceEvent::JobSearchDiscussion => FactKind::JobSearchDiscussionHeld,
    }
}

/// The name a rules enum serialises to.
pub fn rule_name(v: impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Desk {
    /// A fact about `row`'s client, under the pseudonym the referral came with.
    pub fn fact(
        &self,
        row: &IncomingReferral,
        kind: FactKind,
        date: NaiveDate,
        now: DateTime<Utc>,
        fact_id: String,
    ) -> ServiceFact {
        ServiceFact {
            kind: kind as i32,
            referral_id: row.referral_id.clone(),
            area_id: self.area.clone(),
            client_pseudonym: row.client_pseudonym.clone(),
            pseudonym_key_id: row.pseudonym_key_id.clone(),
            date: Some(date_from_naive(date)),
            recorded_at: Some(timestamp_from(now)),
            municipality_code: row.municipality_code().to_owned(),
            fact_id,
            ..Default::default()
        }
    }

    /// AVI's suspensions of this area with their lifts, from the actions as received.
    pub async fn suspensions(&self, tx: &mut Tx) -> Result<Vec<Suspension>, Error> {
        Ok(suspensions_of(
            &self.area,
            &self.store.suspension_actions(tx).await?,
        ))
    }

    /// Queues `fact` for AVI in `tx`.
    pub async fn report(
        &self,
        tx: &mut Tx,
        row: &IncomingReferral,
        fact: &ServiceFact,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let env = seal(
            envelope::trial_area(&self.area),
            envelope::supervisor(),
            &row.referral_id,
            None,
            fact,
            now,
        );
        let mut msg = OutgoingMessage::new(subjects::supervision_fact(&self.area), env);
        if !row.trace_context.is_empty() {
            msg.trace_context = Some(row.trace_context.clone());
        }
        outbox::enqueue(tx, &msg, now).await
    }

    /// Loads an acknowledged client for recording something about them.
    async fn client(&self, tx: &mut Tx, referral_id: &str) -> Result<IncomingReferral, Error> {
        let client = self
            .store
            .referral_for_update(tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        let transfer = self.store.transfer_of(tx, referral_id).await?;
        domain::may_record(&client, transfer.as_ref())?;
        Ok(client)
    }

    /// Records that a client's services moved to `destination` (another area's slug or
    /// "te-office") on `date`, and tells AVI. Repeating the same transfer changes nothing.
    pub async fn transfer_client(
        &self,
        idem: &Idem,
        referral_id: &str,
        destination: &str,
        date: NaiveDate,
    ) -> Result<pb::TransferClientResponse, Error> {
        if destination != "te-office"
            && kokeilu_rules::registry::Registry::builtin()
                .current_area(destination)
                .is_none()
        {
            return Err(Error::field(
                "destination",
                "must be a trial area's slug or \"te-office\"",
            ));
        }
        if destination == self.area {
            return Err(Error::field("destination", "is this area itself"));
        }
        let now = self.clock.now();
        if date > self.clock.today() {
            return Err(Error::field("date", "is in the future"));
        }
        let mut tx = self.store.begin().await?;
        if self
            .claim::<pb::TransferClientResponse>(&mut tx, idem)
            .await?
            .is_some()
        {
            return Ok(pb::TransferClientResponse { replayed: true });
        }
        let response = pb::TransferClientResponse { replayed: false };
        let client = self
            .store
            .referral_for_update(&mut tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        let stored = self.store.transfer_of(&mut tx, referral_id).await?;
        let requested = Transfer {
            destination: destination.to_owned(),
            date,
        };
        let transfer = match domain::transfer(&client, stored.as_ref(), requested)? {
            Step::Repeat => {
                self.complete(&mut tx, idem, &response).await?;
                tx.commit().await?;
                return Ok(response);
            }
            Step::Apply(t) => t,
        };
        self.store
            .insert_transfer(&mut tx, referral_id, &transfer, now)
            .await?;
        let mut fact = self.fact(
            &client,
            FactKind::ClientTransferred,
            transfer.date,
            now,
            format!("{referral_id}:transferred"),
        );
        fact.transferred_to = transfer.destination;
        self.report(&mut tx, &client, &fact, now).await?;
        self.complete(&mut tx, idem, &response).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(referral_id, destination, "client transferred");
        Ok(response)
    }

    /// Records an interview, plan or discussion held on `date`. A retry under the same key
    /// returns the first event's id and records (and reports) nothing again.
    pub async fn record_service_event(
        &self,
        idem: &Idem,
        referral_id: &str,
        kind: ServiceEvent,
        date: NaiveDate,
    ) -> Result<pb::RecordServiceEventResponse, Error> {
        let now = self.clock.now();
        if date > self.clock.today() {
            return Err(Error::field("date", "is in the future"));
        }
        let mut tx = self.store.begin().await?;
        if let Some(first) = self
            .claim::<pb::RecordServiceEventResponse>(&mut tx, idem)
            .await?
        {
            return Ok(pb::RecordServiceEventResponse {
                replayed: true,
                ..first
            });
        }
        let client = self.client(&mut tx, referral_id).await?;
        domain::check_event_date(&client, date)?;
        // A suspension in force on the day ended the area's competence for the client (22 §).
        let suspensions = self.suspensions(&mut tx).await?;
        domain::check_client_not_suspended(&suspensions, &client, date)?;
        let event = RecordedEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            referral_id: referral_id.to_owned(),
            kind,
            date,
            recorded_at: now,
        };
        self.store.insert_service_event(&mut tx, &event).await?;
        if kind == ServiceEvent::EmploymentPlan {
            // The plan that came with the referral bound until now (24 § 3 mom).
            self.store
                .mark_plan_revised(&mut tx, referral_id, date)
                .await?;
        }
        let fact = self.fact(&client, fact_kind(kind), date, now, event.event_id.clone());
        self.report(&mut tx, &client, &fact, now).await?;
        let response = pb::RecordServiceEventResponse {
            event_id: event.event_id,
            replayed: false,
        };
        self.complete(&mut tx, idem, &response).await?;
        tx.commit().await?;
        self.outbox.wake();
        if kind == ServiceEvent::EmploymentPlan {
            self.feed_changed();
        }
        tracing::info!(referral_id, kind = ?kind, "service event recorded");
        Ok(response)
    }

    /// Records a labour-policy statement; returns its id and whether the area was competent.
    pub async fn issue_statement(
        &self,
        idem: &Idem,
        referral_id: &str,
        s: Statement,
    ) -> Result<pb::IssueStatementResponse, Error> {
        let now = self.clock.now();
        if s.date > self.clock.today() {
            return Err(Error::field("date", "is in the future"));
        }
        if s.information_received > s.date {
            return Err(Error::field(
                "information_received_date",
                "is after the statement date",
            ));
        }
        let within = competence(s.subject, s.date).issuer == Issuer::Municipality;
        let mut tx = self.store.begin().await?;
        if let Some(first) = self
            .claim::<pb::IssueStatementResponse>(&mut tx, idem)
            .await?
        {
            return Ok(pb::IssueStatementResponse {
                replayed: true,
                ..first
            });
        }
        let client = self.client(&mut tx, referral_id).await?;
        // A suspension in force on the statement's date that covers the client or the subject
        // returned that competence to the TE office (22 §).
        let suspensions = self.suspensions(&mut tx).await?;
        domain::check_client_not_suspended(&suspensions, &client, s.date)?;
        domain::check_statement_not_suspended(&suspensions, &s.subject_name, s.date)?;
        let recorded = RecordedStatement {
            statement_id: uuid::Uuid::now_v7().to_string(),
            referral_id: referral_id.to_owned(),
            statement: s,
            within_competence: within,
            recorded_at: now,
        };
        self.store.insert_statement(&mut tx, &recorded).await?;
        let s = &recorded.statement;
        let mut fact = self.fact(
            &client,
            FactKind::StatementIssued,
            s.date,
            now,
            recorded.statement_id.clone(),
        );
        fact.statement_subject = s.subject_name.clone();
        fact.information_received_date = Some(date_from_naive(s.information_received));
        self.report(&mut tx, &client, &fact, now).await?;
        let response = pb::IssueStatementResponse {
            statement_id: recorded.statement_id,
            within_competence: within,
            replayed: false,
        };
        self.complete(&mut tx, idem, &response).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(response)
    }

    /// AVI's actions addressed to this area, newest first: at most `limit` after the page
    /// position `after` (receipt time in microseconds, action id), each with its receipt time.
    pub async fn actions(
        &self,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<(i64, SupervisoryAction)>, Error> {
        Ok(self
            .store
            .actions(after, limit)
            .await?
            .into_iter()
            .map(|(at, mut a)| {
                // The unit that serves the municipality an order or remark is addressed to.
                if !a.action.municipality_code.is_empty() {
                    a.action.unit = self
                        .units
                        .unit_of(&a.action.municipality_code)
                        .unwrap_or_default()
                        .to_owned();
                }
                (at, a.action)
            })
            .collect())
    }

    /// Sends AVI the identifying details it asked for in information request `action_id`.
    pub async fn answer_information_request(
        &self,
        idem: &Idem,
        action_id: &str,
    ) -> Result<pb::AnswerInformationRequestResponse, Error> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if let Some(first) = self
            .claim::<pb::AnswerInformationRequestResponse>(&mut tx, idem)
            .await?
        {
            return Ok(pb::AnswerInformationRequestResponse {
                replayed: true,
                ..first
            });
        }
        let received = self
            .store
            .action_for_update(&mut tx, action_id)
            .await?
            .ok_or(Error::NotFound)?;
        let request = received.action;
        if request.kind != ActionKind::InformationRequest as i32 {
            return Err(Error::field("action_id", "not an information request"));
        }
        if received.answered_at.is_some() {
            return Err(Error::AlreadyDecided { status: "answered" });
        }
        let mut records = Vec::new();
        for id in &request.referral_ids {
            let Some(r) = self.store.referral_for_update(&mut tx, id).await? else {
                continue;
            };
            let events = self.store.service_events_of(&mut tx, id).await?;
            records.push(ClientRecord {
                referral_id: r.referral_id.clone(),
                henkilotunnus: r.henkilotunnus.clone(),
                home_municipality_code: r.home_municipality_code.clone(),
                status: format!("{:?}", r.status).to_lowercase(),
                received_at: Some(timestamp_from(r.received_at)),
                decided_at: r.decided_at.map(timestamp_from),
                service_events: events
                    .iter()
                    .map(|e| {
                        self.fact(
                            &r,
                            fact_kind(e.kind),
                            e.date,
                            e.recorded_at,
                            e.event_id.clone(),
                        )
                    })
                    .collect(),
            });
        }
        let answer = InformationAnswer {
            action_id: action_id.to_owned(),
            area_id: self.area.clone(),
            records,
            answered_at: Some(timestamp_from(now)),
            masked: false,
        };
        let env = seal(
            envelope::trial_area(&self.area),
            envelope::supervisor(),
            action_id,
            None,
            &answer,
            now,
        );
        outbox::enqueue(
            &mut tx,
            &OutgoingMessage::new(subjects::avi_answer(&self.area), env),
            now,
        )
        .await?;
        self.store.mark_answered(&mut tx, action_id, now).await?;
        let response = pb::AnswerInformationRequestResponse {
            records: u32::try_from(answer.records.len()).unwrap_or(u32::MAX),
            replayed: false,
        };
        self.complete(&mut tx, idem, &response).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(
            action_id,
            records = answer.records.len(),
            "information request answered"
        );
        Ok(response)
    }
}

/// AVI's suspensions of `area` as every party holds them (`kokeilu_rules::suspension`), from the
/// SUSPENSION and LIFT_SUSPENSION actions received, in any order: a lift sets `lifted_from` on the
/// suspension it names (1269/2020 22 §). A suspension without an effective date counts from the
/// day it was issued.
pub fn suspensions_of(area: &str, actions: &[SupervisoryAction]) -> Vec<Suspension> {
    let day = |d: &Option<kokeilu_proto::common::Date>| d.as_ref().and_then(date_to_naive);
    let mut out: Vec<Suspension> = actions
        .iter()
        .filter(|a| a.kind == ActionKind::Suspension as i32 && a.area_id == area)
        .filter_map(|a| {
            let from = day(&a.effective_from).or_else(|| {
                a.issued_at
                    .as_ref()
                    .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
                    .map(kokeilu_platform::clock::finnish_date)
            })?;
            Some(Suspension {
                action_id: a.action_id.clone(),
                area: area.to_owned(),
                from,
                lifted_from: None,
                scope: a.partial.then(|| {
                    let scope = a.scope.clone().unwrap_or_default();
                    Scope {
                        client_groups: scope.client_groups,
                        municipality_codes: scope.municipality_codes,
                        statement_subjects: scope.statement_subjects,
                    }
                }),
            })
        })
        .collect();
    for lift in actions
        .iter()
        .filter(|a| a.kind == ActionKind::LiftSuspension as i32 && a.area_id == area)
    {
        let Some(on) = day(&lift.effective_from) else {
            continue;
        };
        if let Some(s) = out.iter_mut().find(|s| s.action_id == lift.lifts_action_id) {
            s.lifted_from = Some(s.lifted_from.map_or(on, |earlier| earlier.min(on)));
        }
    }
    out
}

/// The area's consumer of AVI's actions.
pub fn actions_consumer(area: &str, workers: usize) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(
        subjects::AVI_STREAM,
        &format!("area-{area}-avi-actions"),
        vec![subjects::avi_action(area)],
    );
    c.workers = workers;
    c
}

/// Stores AVI's actions addressed to the area.
pub struct Actions {
    pub desk: Desk,
}

impl Handler for Actions {
    async fn handle(&self, tx: &mut Tx, msg: &Incoming) -> Result<(), HandlerError> {
        if msg.envelope.payload_type != SupervisoryAction::TYPE {
            return Err(HandlerError::Permanent(format!(
                "unexpected {}",
                msg.envelope.payload_type
            )));
        }
        let action: SupervisoryAction = open(&msg.envelope)?;
        domain::trust::check_action(
            &msg.subject,
            msg.envelope.sender.as_ref(),
            &action.area_id,
            &self.desk.area,
        )
        .map_err(HandlerError::Security)?;
        // SUSPENSION and LIFT_SUSPENSION are kept as received like every action; the area's
        // refusals read them from here ([`suspensions_of`], 1269/2020 22 §).
        // Moving the clients a suspension covers back to the TE office in bulk is issue 11: it
        // would start here, when a SUSPENSION arrives.
        self.desk
            .store
            .insert_action(tx, &action, self.desk.clock.now())
            .await?;
        tracing::warn!(action_id = %action.action_id, kind = action.kind, "supervisory action received from AVI");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kokeilu_proto::supervision::SuspensionScope;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 10, d).unwrap_or_default()
    }

    fn action(id: &str, kind: ActionKind, area: &str, from: u32) -> SupervisoryAction {
        SupervisoryAction {
            action_id: id.into(),
            kind: kind as i32,
            area_id: area.into(),
            effective_from: Some(date_from_naive(day(from))),
            ..Default::default()
        }
    }

    #[test]
    fn suspensions_carry_their_scope_and_lifts_in_any_order() {
        let lift = SupervisoryAction {
            lifts_action_id: "s1".into(),
            ..action("l1", ActionKind::LiftSuspension, "kainuu", 20)
        };
        let partial = SupervisoryAction {
            partial: true,
            scope: Some(SuspensionScope {
                client_groups: vec!["under_30".into()],
                ..Default::default()
            }),
            ..action("s1", ActionKind::Suspension, "kainuu", 10)
        };
        let full = action("s2", ActionKind::Suspension, "kainuu", 25);
        let elsewhere = action("s3", ActionKind::Suspension, "oulu", 1);
        let order = action("o1", ActionKind::Order, "kainuu", 1);
        let got = suspensions_of("kainuu", &[lift, partial, full, elsewhere, order]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].action_id, "s1");
        assert_eq!(got[0].from, day(10));
        assert_eq!(got[0].lifted_from, Some(day(20)), "the lift came first");
        assert_eq!(
            got[0].scope.as_ref().map(|s| s.client_groups.clone()),
            Some(vec!["under_30".to_owned()])
        );
        assert_eq!(got[1].scope, None, "full");
        assert!(got[0].covers_client(day(19), &["under_30"], "205"));
        assert!(!got[0].covers_client(day(20), &["under_30"], "205"));
    }
}
