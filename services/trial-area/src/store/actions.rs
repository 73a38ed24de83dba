//! AVI's supervisory actions addressed to the area, kept as received (the encoded message).

use chrono::{DateTime, Utc};
use kokeilu_bus::Tx;
use kokeilu_proto::supervision::SupervisoryAction;
use prost::Message;

use kokeilu_bus::stored::{corrupt, instant, micros};

use super::Store;

/// An action as the area holds it.
#[derive(Debug, Clone)]
pub struct ReceivedAction {
    pub action: SupervisoryAction,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A row of `supervisory_actions`, as stored.
#[derive(sqlx::FromRow)]
struct ActionRecord {
    payload: Vec<u8>,
    answered_at: Option<i64>,
}

impl TryFrom<ActionRecord> for ReceivedAction {
    type Error = sqlx::Error;

    fn try_from(r: ActionRecord) -> Result<Self, sqlx::Error> {
        Ok(Self {
            action: SupervisoryAction::decode(r.payload.as_slice())
                .map_err(|e| corrupt("payload", e))?,
            answered_at: r
                .answered_at
                .map(|t| instant("answered_at", t))
                .transpose()?,
        })
    }
}

impl Store {
    /// Keeps an action as received; `false` if one with its id is already kept.
    pub async fn insert_action(
        &self,
        tx: &mut Tx,
        action: &SupervisoryAction,
        received_at: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO supervisory_actions (action_id, kind, payload, received_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (action_id) DO NOTHING",
        )
        .bind(&action.action_id)
        .bind(i64::from(action.kind))
        .bind(action.encode_to_vec())
        .bind(micros(received_at))
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The actions, newest first.
    pub async fn actions(&self) -> Result<Vec<ReceivedAction>, sqlx::Error> {
        sqlx::query_as::<_, ActionRecord>(
            "SELECT payload, answered_at FROM supervisory_actions ORDER BY received_at DESC",
        )
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(ReceivedAction::try_from)
        .collect()
    }

    /// Loads an action to answer it (row-locked on PostgreSQL).
    pub async fn action_for_update(
        &self,
        tx: &mut Tx,
        action_id: &str,
    ) -> Result<Option<ReceivedAction>, sqlx::Error> {
        let sql = self.db.backend().pick(
            "SELECT payload, answered_at FROM supervisory_actions WHERE action_id = $1",
            "SELECT payload, answered_at FROM supervisory_actions WHERE action_id = $1 FOR UPDATE",
        );
        sqlx::query_as::<_, ActionRecord>(sql)
            .bind(action_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(ReceivedAction::try_from)
            .transpose()
    }

    pub async fn mark_answered(
        &self,
        tx: &mut Tx,
        action_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE supervisory_actions SET answered_at = $1 WHERE action_id = $2")
            .bind(micros(at))
            .bind(action_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
