//! What the area tells the supervising agency (AVI) and what AVI asks of it.
//!
//! Every decision and service event is reported as a pseudonymised [`ServiceFact`] through the
//! outbox, in the same transaction as the change it reports. AVI's actions addressed to the area
//! are stored as they arrive; an information request is answered on the area's command, and that
//! answer is the only message that carries identity codes to AVI.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::db::{from_micros, micros};
use kokeilu_bus::envelope::{self, open, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::supervision::{
    ActionKind, ClientRecord, FactKind, InformationAnswer, ServiceFact, SupervisoryAction,
};
use kokeilu_proto::{Payload, date_from_naive, subjects, timestamp_from};
use kokeilu_rules::competence::{Issuer, StatementSubject, competence};
use prost::Message;
use sqlx::Row;

use crate::db::IncomingRow;
use crate::desk::Desk;
use crate::domain::IncomingStatus;
use crate::error::Error;

/// A service event the law requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceEvent {
    InitialInterview = 1,
    EmploymentPlan = 2,
    JobSearchDiscussion = 3,
}

impl ServiceEvent {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            1 => Self::InitialInterview,
            2 => Self::EmploymentPlan,
            3 => Self::JobSearchDiscussion,
            _ => return None,
        })
    }

    fn fact(self) -> FactKind {
        match self {
            Self::InitialInterview => FactKind::InitialInterviewHeld,
            Self::EmploymentPlan => FactKind::EmploymentPlanMade,
            Self::JobSearchDiscussion => FactKind::JobSearchDiscussionHeld,
        }
    }
}

/// A validated statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub subject: StatementSubject,
    pub subject_name: String,
    pub information_received: NaiveDate,
    pub date: NaiveDate,
}

/// The name a rules enum serialises to.
pub fn rule_name(v: impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Desk {
    /// A fact about `row`'s client, pseudonymised.
    pub fn fact(
        &self,
        row: &IncomingRow,
        kind: FactKind,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> ServiceFact {
        ServiceFact {
            kind: kind as i32,
            referral_id: row.referral_id.clone(),
            area_id: self.area.clone(),
            client_pseudonym: self.pseudonyms.pseudonym(&row.henkilotunnus),
            date: Some(date_from_naive(date)),
            recorded_at: Some(timestamp_from(now)),
            ..Default::default()
        }
    }

    /// Queues `fact` for AVI in `tx`.
    pub async fn report(
        &self,
        tx: &mut Tx,
        row: &IncomingRow,
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
    async fn client(&self, tx: &mut Tx, referral_id: &str) -> Result<IncomingRow, Error> {
        let row = self
            .repo
            .for_update(tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        if row.status != IncomingStatus::Acknowledged {
            return Err(Error::NotAClient);
        }
        if let Some((destination, _)) = self.transfer_of(tx, referral_id).await? {
            return Err(Error::Transferred { destination });
        }
        Ok(row)
    }

    async fn transfer_of(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Option<(String, NaiveDate)>, sqlx::Error> {
        let row =
            sqlx::query("SELECT destination, transfer_date FROM transfers WHERE referral_id = $1")
                .bind(referral_id)
                .fetch_optional(&mut **tx)
                .await?;
        row.map(|r| {
            let date: String = r.try_get("transfer_date")?;
            Ok((
                r.try_get("destination")?,
                date.parse().unwrap_or(NaiveDate::MIN),
            ))
        })
        .transpose()
    }

    /// Records that a client's services moved to `destination` (another area's slug or
    /// "te-office") on `date`, and tells AVI. Repeating the same transfer changes nothing.
    pub async fn transfer_client(
        &self,
        referral_id: &str,
        destination: &str,
        date: NaiveDate,
    ) -> Result<(), Error> {
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
        let mut tx = self.repo.db().begin().await?;
        let row = self
            .repo
            .for_update(&mut tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        if row.status != IncomingStatus::Acknowledged {
            return Err(Error::NotAClient);
        }
        if let Some((to, on)) = self.transfer_of(&mut tx, referral_id).await? {
            return if to == destination && on == date {
                Ok(())
            } else {
                Err(Error::Transferred { destination: to })
            };
        }
        if date < row.job_search_start {
            return Err(Error::field("date", "is before the job search started"));
        }
        sqlx::query(
            "INSERT INTO transfers (referral_id, destination, transfer_date, recorded_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(referral_id)
        .bind(destination)
        .bind(date.to_string())
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        let mut fact = self.fact(&row, FactKind::ClientTransferred, date, now);
        fact.transferred_to = destination.to_owned();
        self.report(&mut tx, &row, &fact, now).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(referral_id, destination, "client transferred");
        Ok(())
    }

    /// Records an interview, plan or discussion held on `date`.
    pub async fn record_service_event(
        &self,
        referral_id: &str,
        kind: ServiceEvent,
        date: NaiveDate,
    ) -> Result<String, Error> {
        let now = self.clock.now();
        if date > self.clock.today() {
            return Err(Error::field("date", "is in the future"));
        }
        let mut tx = self.repo.db().begin().await?;
        let row = self.client(&mut tx, referral_id).await?;
        if date < row.job_search_start {
            return Err(Error::field("date", "is before the job search started"));
        }
        let event_id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO service_events (event_id, referral_id, kind, event_date, recorded_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&event_id)
        .bind(referral_id)
        .bind(kind as i64)
        .bind(date.to_string())
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        let fact = self.fact(&row, kind.fact(), date, now);
        self.report(&mut tx, &row, &fact, now).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(referral_id, kind = ?kind, "service event recorded");
        Ok(event_id)
    }

    /// Records a labour-policy statement; returns its id and whether the area was competent.
    pub async fn issue_statement(
        &self,
        referral_id: &str,
        s: Statement,
    ) -> Result<(String, bool), Error> {
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
        let mut tx = self.repo.db().begin().await?;
        let row = self.client(&mut tx, referral_id).await?;
        let statement_id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO statements (statement_id, referral_id, subject, information_received, \
             statement_date, within_competence, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&statement_id)
        .bind(referral_id)
        .bind(&s.subject_name)
        .bind(s.information_received.to_string())
        .bind(s.date.to_string())
        .bind(i64::from(within))
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        let mut fact = self.fact(&row, FactKind::StatementIssued, s.date, now);
        fact.statement_subject = s.subject_name.clone();
        fact.information_received_date = Some(date_from_naive(s.information_received));
        self.report(&mut tx, &row, &fact, now).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok((statement_id, within))
    }

    /// AVI's actions addressed to this area, newest first.
    pub async fn actions(&self) -> Result<Vec<SupervisoryAction>, Error> {
        let rows = sqlx::query("SELECT payload FROM supervisory_actions ORDER BY received_at DESC")
            .fetch_all(self.repo.db().pool())
            .await?;
        rows.iter()
            .map(|r| {
                let bytes: Vec<u8> = r.try_get("payload")?;
                SupervisoryAction::decode(bytes.as_slice())
                    .map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))
            })
            .collect()
    }

    /// Sends AVI the identifying details it asked for in information request `action_id`.
    pub async fn answer_information_request(&self, action_id: &str) -> Result<usize, Error> {
        let now = self.clock.now();
        let mut tx = self.repo.db().begin().await?;
        let row = sqlx::query(
            "SELECT payload, answered_at FROM supervisory_actions WHERE action_id = $1",
        )
        .bind(action_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound)?;
        let payload: Vec<u8> = row.try_get("payload")?;
        let request = SupervisoryAction::decode(payload.as_slice())
            .map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))?;
        if request.kind != ActionKind::InformationRequest as i32 {
            return Err(Error::field("action_id", "not an information request"));
        }
        if row.try_get::<Option<i64>, _>("answered_at")?.is_some() {
            return Err(Error::AlreadyDecided { status: "answered" });
        }
        let mut records = Vec::new();
        for id in &request.referral_ids {
            let Some(r) = self.repo.for_update(&mut tx, id).await? else {
                continue;
            };
            records.push(ClientRecord {
                referral_id: r.referral_id.clone(),
                henkilotunnus: r.henkilotunnus.clone(),
                home_municipality_code: r.home_municipality_code.clone(),
                status: format!("{:?}", r.status).to_lowercase(),
                received_at: Some(timestamp_from(r.received_at)),
                decided_at: r.decided_at.map(timestamp_from),
                service_events: self.events_of(&mut tx, &r).await?,
            });
        }
        let answer = InformationAnswer {
            action_id: action_id.to_owned(),
            area_id: self.area.clone(),
            records,
            answered_at: Some(timestamp_from(now)),
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
        sqlx::query("UPDATE supervisory_actions SET answered_at = $1 WHERE action_id = $2")
            .bind(micros(now))
            .bind(action_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(
            action_id,
            records = answer.records.len(),
            "information request answered"
        );
        Ok(answer.records.len())
    }

    async fn events_of(
        &self,
        tx: &mut Tx,
        row: &IncomingRow,
    ) -> Result<Vec<ServiceFact>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT kind, event_date, recorded_at FROM service_events WHERE referral_id = $1 ORDER BY event_date",
        )
        .bind(&row.referral_id)
        .fetch_all(&mut **tx)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let kind =
                ServiceEvent::from_i32(i32::try_from(r.try_get::<i64, _>("kind")?).unwrap_or(0));
            let date: String = r.try_get("event_date")?;
            if let (Some(kind), Ok(date)) = (kind, date.parse()) {
                out.push(self.fact(
                    row,
                    kind.fact(),
                    date,
                    from_micros(r.try_get("recorded_at")?)?,
                ));
            }
        }
        Ok(out)
    }
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
        if action.area_id != self.desk.area {
            return Err(HandlerError::Permanent(format!(
                "action for area {}",
                action.area_id
            )));
        }
        sqlx::query(
            "INSERT INTO supervisory_actions (action_id, kind, payload, received_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (action_id) DO NOTHING",
        )
        .bind(&action.action_id)
        .bind(i64::from(action.kind))
        .bind(action.encode_to_vec())
        .bind(micros(self.desk.clock.now()))
        .execute(&mut **tx)
        .await?;
        tracing::warn!(action_id = %action.action_id, kind = action.kind, "supervisory action received from AVI");
        Ok(())
    }
}
