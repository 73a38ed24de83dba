//! AVI's suspensions of trial areas (1269/2020 22 §): full or partial, and their lifting.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::Tx;

use kokeilu_bus::stored::{corrupt, date, micros, opt_date};

use super::Store;
use crate::domain::Suspension;

/// A `suspensions` row as stored.
#[derive(sqlx::FromRow)]
struct SuspensionRecord {
    action_id: String,
    area_id: String,
    effective_from: String,
    partial: i64,
    scope: Option<String>,
    lifted_from: Option<String>,
    text: String,
}

impl TryFrom<SuspensionRecord> for Suspension {
    type Error = sqlx::Error;

    fn try_from(r: SuspensionRecord) -> Result<Self, Self::Error> {
        let partial = match r.partial {
            0 => false,
            1 => true,
            v => return Err(corrupt("suspensions.partial", v)),
        };
        let scope = r
            .scope
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("suspensions.scope", e))?;
        Ok(Suspension {
            effective_from: date("suspensions.effective_from", &r.effective_from)?,
            lifted_from: opt_date("suspensions.lifted_from", r.lifted_from.as_deref())?,
            action_id: r.action_id,
            area_id: r.area_id,
            partial,
            scope,
            text: r.text,
        })
    }
}

/// What recording a lift did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifted {
    Lifted,
    /// No suspension of that area has the id.
    Unknown,
}

impl Store {
    /// Records a suspension; one already recorded (same action id) is left as it is.
    pub async fn insert_suspension(
        &self,
        tx: &mut Tx,
        s: &Suspension,
        received_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let scope = s
            .scope
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt("suspensions.scope", e))?;
        sqlx::query(
            "INSERT INTO suspensions (action_id, area_id, effective_from, partial, text, \
             received_at, scope) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (action_id) DO NOTHING",
        )
        .bind(&s.action_id)
        .bind(&s.area_id)
        .bind(s.effective_from.to_string())
        .bind(i64::from(s.partial))
        .bind(&s.text)
        .bind(micros(received_at))
        .bind(scope)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Records that `lifted_by` lifts suspension `action_id` of `area` from `from`. A lift
    /// already recorded is left as it is (a redelivered lift changes nothing).
    pub async fn lift_suspension(
        &self,
        tx: &mut Tx,
        area: &str,
        action_id: &str,
        from: NaiveDate,
        lifted_by: &str,
    ) -> Result<Lifted, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) AS n FROM suspensions WHERE action_id = $1 AND area_id = $2",
        )
        .bind(action_id)
        .bind(area)
        .fetch_one(&mut **tx)
        .await?;
        if n == 0 {
            return Ok(Lifted::Unknown);
        }
        sqlx::query(
            "UPDATE suspensions SET lifted_from = $1, lifted_by = $2 \
             WHERE action_id = $3 AND area_id = $4 AND lifted_from IS NULL",
        )
        .bind(from.to_string())
        .bind(lifted_by)
        .bind(action_id)
        .bind(area)
        .execute(&mut **tx)
        .await?;
        Ok(Lifted::Lifted)
    }

    /// Every suspension of `area` that took effect on or before `date`, oldest first (whether
    /// one still covers a client on `date` is the rules' decision).
    pub async fn suspensions_of(
        &self,
        tx: &mut Tx,
        area: &str,
        date: NaiveDate,
    ) -> Result<Vec<Suspension>, sqlx::Error> {
        let rows: Vec<SuspensionRecord> = sqlx::query_as(
            "SELECT action_id, area_id, effective_from, partial, scope, lifted_from, text \
             FROM suspensions WHERE area_id = $1 AND effective_from <= $2 \
             ORDER BY effective_from, action_id",
        )
        .bind(area)
        .bind(date.to_string())
        .fetch_all(&mut **tx)
        .await?;
        rows.into_iter().map(Suspension::try_from).collect()
    }
}
