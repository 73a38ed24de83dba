//! What is recorded about an acknowledged client: service events, statements and transfers.

use chrono::{DateTime, Utc};
use kokeilu_bus::Tx;

use kokeilu_bus::stored::{date, instant, micros};

use super::Store;
use crate::domain::{RecordedEvent, RecordedStatement, ServiceEvent, Transfer};

/// A row of `service_events`, as stored.
#[derive(sqlx::FromRow)]
struct EventRecord {
    event_id: String,
    referral_id: String,
    #[sqlx(try_from = "i64")]
    kind: ServiceEvent,
    event_date: String,
    recorded_at: i64,
}

impl TryFrom<EventRecord> for RecordedEvent {
    type Error = sqlx::Error;

    fn try_from(r: EventRecord) -> Result<Self, sqlx::Error> {
        Ok(Self {
            date: date("event_date", &r.event_date)?,
            recorded_at: instant("recorded_at", r.recorded_at)?,
            event_id: r.event_id,
            referral_id: r.referral_id,
            kind: r.kind,
        })
    }
}

/// A row of `transfers`, as stored.
#[derive(sqlx::FromRow)]
struct TransferRecord {
    destination: String,
    transfer_date: String,
}

impl TryFrom<TransferRecord> for Transfer {
    type Error = sqlx::Error;

    fn try_from(r: TransferRecord) -> Result<Self, sqlx::Error> {
        Ok(Self {
            date: date("transfer_date", &r.transfer_date)?,
            destination: r.destination,
        })
    }
}

impl Store {
    /// The client's transfer out of the area, if any.
    pub async fn transfer_of(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Option<Transfer>, sqlx::Error> {
        sqlx::query_as::<_, TransferRecord>(
            "SELECT destination, transfer_date FROM transfers WHERE referral_id = $1",
        )
        .bind(referral_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(Transfer::try_from)
        .transpose()
    }

    pub async fn insert_transfer(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        transfer: &Transfer,
        recorded_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO transfers (referral_id, destination, transfer_date, recorded_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(referral_id)
        .bind(&transfer.destination)
        .bind(transfer.date.to_string())
        .bind(micros(recorded_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn insert_service_event(
        &self,
        tx: &mut Tx,
        event: &RecordedEvent,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO service_events (event_id, referral_id, kind, event_date, recorded_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&event.event_id)
        .bind(&event.referral_id)
        .bind(i64::from(event.kind))
        .bind(event.date.to_string())
        .bind(micros(event.recorded_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The client's service events, oldest event date first.
    pub async fn service_events_of(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Vec<RecordedEvent>, sqlx::Error> {
        sqlx::query_as::<_, EventRecord>(
            "SELECT event_id, referral_id, kind, event_date, recorded_at FROM service_events \
             WHERE referral_id = $1 ORDER BY event_date",
        )
        .bind(referral_id)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(RecordedEvent::try_from)
        .collect()
    }

    pub async fn insert_statement(
        &self,
        tx: &mut Tx,
        s: &RecordedStatement,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO statements (statement_id, referral_id, subject, information_received, \
             statement_date, within_competence, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.statement_id)
        .bind(&s.referral_id)
        .bind(&s.statement.subject_name)
        .bind(s.statement.information_received.to_string())
        .bind(s.statement.date.to_string())
        .bind(i64::from(s.within_competence))
        .bind(micros(s.recorded_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
