//! Supervisory actions, the areas' answers to information requests, and the access log.

use chrono::{DateTime, Utc};
use kokeilu_bus::Tx;
use kokeilu_proto::supervision::{ActionKind, InformationAnswer, SupervisoryAction};
use prost::Message;

use kokeilu_bus::stored::{corrupt, micros};

use super::Store;
use crate::domain::Access;

/// An answer to an information request, with the area it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub area: String,
    pub answer: InformationAnswer,
}

#[derive(sqlx::FromRow)]
struct PagedPayloadRow {
    payload: Vec<u8>,
    issued_at: i64,
}

#[derive(sqlx::FromRow)]
struct AnswerRow {
    area_id: String,
    payload: Vec<u8>,
}

fn decode<M: Message + Default>(bytes: &[u8], column: &str) -> Result<M, sqlx::Error> {
    M::decode(bytes).map_err(|e| corrupt(column, e))
}

impl Store {
    /// Stores an issued action (its kind, area and the message as sent).
    pub async fn insert_action(
        &self,
        tx: &mut Tx,
        action: &SupervisoryAction,
        issued_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO actions (action_id, kind, area_id, payload, issued_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&action.action_id)
        .bind(i64::from(action.kind))
        .bind(&action.area_id)
        .bind(action.encode_to_vec())
        .bind(micros(issued_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The actions issued to an area (all when empty), newest first, keyset-paged: at most
    /// `limit` after `after` (the issue time in microseconds and id of the last action of the
    /// previous page), each with its issue time.
    pub async fn actions(
        &self,
        area: &str,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<(i64, SupervisoryAction)>, sqlx::Error> {
        let (after_at, after_id) = after.unwrap_or((i64::MAX, "~".to_owned()));
        sqlx::query_as::<_, PagedPayloadRow>(
            "SELECT payload, issued_at FROM actions WHERE ($1 = '' OR area_id = $1) \
             AND (issued_at < $2 OR (issued_at = $2 AND action_id < $3)) \
             ORDER BY issued_at DESC, action_id DESC LIMIT $4",
        )
        .bind(area)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.issued_at, decode(&r.payload, "actions.payload")?)))
        .collect()
    }

    /// The area an information request AVI issued was addressed to; `None` when `action_id` is
    /// no information request.
    pub async fn information_request_area(
        &self,
        tx: &mut Tx,
        action_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT area_id FROM actions WHERE action_id = $1 AND kind = $2")
                .bind(action_id)
                .bind(i64::from(ActionKind::InformationRequest as i32))
                .fetch_optional(&mut **tx)
                .await?;
        Ok(found.map(|(area,)| area))
    }

    /// Stores an answer to an information request (the first one counts).
    pub async fn insert_answer(
        &self,
        tx: &mut Tx,
        answer: &InformationAnswer,
        received_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO information_answers (action_id, area_id, payload, received_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (action_id) DO NOTHING",
        )
        .bind(&answer.action_id)
        .bind(&answer.area_id)
        .bind(answer.encode_to_vec())
        .bind(micros(received_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The answer to an information request, if one has arrived.
    pub async fn answer(
        &self,
        tx: &mut Tx,
        action_id: &str,
    ) -> Result<Option<StoredAnswer>, sqlx::Error> {
        sqlx::query_as::<_, AnswerRow>(
            "SELECT area_id, payload FROM information_answers WHERE action_id = $1",
        )
        .bind(action_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| {
            Ok(StoredAnswer {
                answer: decode(&r.payload, "information_answers.payload")?,
                area: r.area_id,
            })
        })
        .transpose()
    }

    /// Logs a request for, or a read of, identifying data.
    pub async fn log_access(&self, tx: &mut Tx, a: &Access) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO access_log (action_id, area_id, actor, what, purpose, revealed, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.action_id)
        .bind(&a.area)
        .bind(&a.actor)
        .bind(&a.what)
        .bind(&a.purpose)
        .bind(a.revealed)
        .bind(micros(a.at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
