//! AVI's supervisory actions addressed to the area, kept as received (the encoded message).

use chrono::{DateTime, Utc};
use kokeilu_bus::Tx;
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction};
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

/// A listed row: the action and when it was received (the page key).
#[derive(sqlx::FromRow)]
struct PagedActionRecord {
    #[sqlx(flatten)]
    action: ActionRecord,
    received_at: i64,
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

    /// The actions, newest first, keyset-paged: at most `limit` after `after` (the receipt time
    /// in microseconds and id of the last action of the previous page), each with its receipt
    /// time.
    pub async fn actions(
        &self,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<(i64, ReceivedAction)>, sqlx::Error> {
        let (after_at, after_id) = after.unwrap_or((i64::MAX, "~".to_owned()));
        sqlx::query_as::<_, PagedActionRecord>(
            "SELECT payload, answered_at, received_at FROM supervisory_actions \
             WHERE received_at < $1 OR (received_at = $1 AND action_id < $2) \
             ORDER BY received_at DESC, action_id DESC LIMIT $3",
        )
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| {
            let at = r.received_at;
            Ok((at, ReceivedAction::try_from(r.action)?))
        })
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

    /// AVI's suspensions and their lifts (22 §), oldest received first.
    pub async fn suspension_actions(
        &self,
        tx: &mut Tx,
    ) -> Result<Vec<SupervisoryAction>, sqlx::Error> {
        sqlx::query_as::<_, ActionRecord>(
            "SELECT payload, answered_at FROM supervisory_actions WHERE kind IN ($1, $2) \
             ORDER BY received_at, action_id",
        )
        .bind(i64::from(ActionKind::Suspension as i32))
        .bind(i64::from(ActionKind::LiftSuspension as i32))
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|r| ReceivedAction::try_from(r).map(|a| a.action))
        .collect()
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
