//! Supervisory actions, the areas' answers to information requests, and the access log.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::Tx;
use kokeilu_proto::supervision::{ActionKind, InformationAnswer, SupervisoryAction};
use prost::Message;

use kokeilu_bus::stored::{corrupt, micros, opt_date};

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

#[derive(sqlx::FromRow)]
struct ActionRow {
    payload: Vec<u8>,
    lifted_by: Option<String>,
    lifted_from: Option<String>,
}

/// An issued action with what later happened to it: a SUSPENSION may have been lifted.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAction {
    pub action: SupervisoryAction,
    /// The LIFT_SUSPENSION action that lifted it, and the day it was lifted from.
    pub lifted: Option<(String, NaiveDate)>,
}

impl TryFrom<ActionRow> for StoredAction {
    type Error = sqlx::Error;

    fn try_from(r: ActionRow) -> Result<Self, sqlx::Error> {
        let lifted_from = opt_date("actions.lifted_from", r.lifted_from.as_deref())?;
        let lifted = match (r.lifted_by, lifted_from) {
            (Some(by), Some(from)) => Some((by, from)),
            (None, None) => None,
            _ => {
                return Err(corrupt(
                    "actions.lifted_by",
                    "lifted_by and lifted_from are set together",
                ));
            }
        };
        Ok(Self {
            action: decode(&r.payload, "actions.payload")?,
            lifted,
        })
    }
}

pub(super) fn decode<M: Message + Default>(bytes: &[u8], column: &str) -> Result<M, sqlx::Error> {
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

    /// One action by id, with its lifting if it is a lifted suspension. On PostgreSQL the row is
    /// locked until `tx` ends, so that two lifts of one suspension cannot both pass the check.
    pub async fn action(
        &self,
        tx: &mut Tx,
        action_id: &str,
    ) -> Result<Option<StoredAction>, sqlx::Error> {
        let lock = match self.backend() {
            kokeilu_bus::Backend::Postgres => " FOR UPDATE",
            kokeilu_bus::Backend::Sqlite => "",
        };
        sqlx::query_as::<_, ActionRow>(sqlx::AssertSqlSafe(format!(
            "SELECT payload, lifted_by, lifted_from FROM actions WHERE action_id = $1{lock}"
        )))
        .bind(action_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(StoredAction::try_from)
        .transpose()
    }

    /// Every action of the given kinds (all areas), oldest first, with its lifting.
    pub async fn actions_of_kinds(
        &self,
        kinds: &[ActionKind],
    ) -> Result<Vec<StoredAction>, sqlx::Error> {
        let mut out = Vec::new();
        for kind in kinds {
            let rows = sqlx::query_as::<_, ActionRow>(
                "SELECT payload, lifted_by, lifted_from FROM actions WHERE kind = $1 \
                 ORDER BY issued_at, action_id",
            )
            .bind(i64::from(*kind as i32))
            .fetch_all(self.db.pool())
            .await?;
            for r in rows {
                out.push(StoredAction::try_from(r)?);
            }
        }
        Ok(out)
    }

    /// Records that `lift_id` lifts the suspension `suspension_id` from `from`; `false` when the
    /// suspension was lifted already (it is lifted once).
    pub async fn lift_suspension(
        &self,
        tx: &mut Tx,
        suspension_id: &str,
        lift_id: &str,
        from: NaiveDate,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE actions SET lifted_by = $1, lifted_from = $2 \
             WHERE action_id = $3 AND kind = $4 AND lifted_by IS NULL",
        )
        .bind(lift_id)
        .bind(from.to_string())
        .bind(suspension_id)
        .bind(i64::from(ActionKind::Suspension as i32))
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
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
