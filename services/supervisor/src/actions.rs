//! AVI's supervisory actions (1269/2020 22 §): information requests, orders with a deadline,
//! remarks and suspensions, sent to the area (and, for suspensions, seen by the TE office) through
//! the outbox. Information requests and every read of an answer are logged.

use chrono::NaiveDate;
use kokeilu_bus::db::micros;
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_proto::supervision::{ActionKind, InformationAnswer, SupervisoryAction};
use kokeilu_proto::{date_from_naive, subjects, timestamp_from};
use prost::Message;
use sqlx::Row;

use crate::error::Error;
use crate::ledger::Ledger;

/// A validated action to issue.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub kind: ActionKind,
    pub area: String,
    pub text: String,
    pub referral_ids: Vec<String>,
    pub deadline: Option<NaiveDate>,
    pub effective_from: Option<NaiveDate>,
    pub partial: bool,
}

impl Ledger {
    /// Stores and sends an action; returns it.
    pub async fn issue(&self, a: NewAction) -> Result<SupervisoryAction, Error> {
        let now = self.clock.now();
        let action = SupervisoryAction {
            action_id: uuid::Uuid::now_v7().to_string(),
            kind: a.kind as i32,
            area_id: a.area.clone(),
            text: a.text.clone(),
            referral_ids: a.referral_ids,
            deadline: a.deadline.map(date_from_naive),
            effective_from: a.effective_from.map(date_from_naive),
            partial: a.partial,
            issued_at: Some(timestamp_from(now)),
        };
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "INSERT INTO actions (action_id, kind, area_id, payload, issued_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&action.action_id)
        .bind(i64::from(action.kind))
        .bind(&action.area_id)
        .bind(action.encode_to_vec())
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        if a.kind == ActionKind::InformationRequest {
            sqlx::query(
                "INSERT INTO access_log (action_id, area_id, what, purpose, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&action.action_id)
            .bind(&action.area_id)
            .bind(format!("information requested on {} referrals", action.referral_ids.len()))
            .bind(&a.text)
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
        }
        let env = seal(
            envelope::supervisor(),
            envelope::trial_area(&action.area_id),
            &action.action_id,
            None,
            &action,
            now,
        );
        outbox::enqueue(
            &mut tx,
            &OutgoingMessage::new(subjects::avi_action(&action.area_id), env),
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(action_id = %action.action_id, area = %action.area_id, kind = ?a.kind, "supervisory action issued");
        Ok(action)
    }

    pub async fn actions(&self, area: &str) -> Result<Vec<SupervisoryAction>, Error> {
        let rows = sqlx::query(
            "SELECT payload FROM actions WHERE ($1 = '' OR area_id = $1) ORDER BY issued_at DESC",
        )
        .bind(area)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let bytes: Vec<u8> = r.try_get("payload")?;
                SupervisoryAction::decode(bytes.as_slice())
                    .map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))
            })
            .collect()
    }

    /// The answer to an information request (the read is logged).
    pub async fn answer(&self, action_id: &str) -> Result<InformationAnswer, Error> {
        let mut tx = self.db.begin().await?;
        let row =
            sqlx::query("SELECT area_id, payload FROM information_answers WHERE action_id = $1")
                .bind(action_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(Error::NotFound(
                    "no answer to that information request (yet)",
                ))?;
        let bytes: Vec<u8> = row.try_get("payload")?;
        let answer = InformationAnswer::decode(bytes.as_slice())
            .map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))?;
        sqlx::query("INSERT INTO access_log (action_id, area_id, what, purpose, at) VALUES ($1, $2, 'answer read', '', $3)")
            .bind(action_id)
            .bind(row.try_get::<String, _>("area_id")?)
            .bind(micros(self.clock.now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(answer)
    }
}
