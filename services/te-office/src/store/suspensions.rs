//! AVI's suspensions of trial areas.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::Tx;

use kokeilu_bus::stored::micros;

use super::Store;
use crate::domain::Suspension;

impl Store {
    /// Records a suspension; one already recorded (same action id) is left as it is.
    pub async fn insert_suspension(
        &self,
        tx: &mut Tx,
        s: &Suspension,
        received_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO suspensions (action_id, area_id, effective_from, partial, text, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (action_id) DO NOTHING",
        )
        .bind(&s.action_id)
        .bind(&s.area_id)
        .bind(s.effective_from.to_string())
        .bind(i64::from(s.partial))
        .bind(&s.text)
        .bind(micros(received_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Since when a whole-area suspension in force on `date` stops referrals to `area`, if one is.
    pub async fn suspended_since(
        &self,
        tx: &mut Tx,
        area: &str,
        date: NaiveDate,
    ) -> Result<Option<NaiveDate>, sqlx::Error> {
        let (since,): (Option<String>,) = sqlx::query_as(
            "SELECT MIN(effective_from) AS since FROM suspensions \
             WHERE area_id = $1 AND partial = $2 AND effective_from <= $3",
        )
        .bind(area)
        .bind(i64::from(false))
        .bind(date.to_string())
        .fetch_one(&mut **tx)
        .await?;
        since
            .map(|s| kokeilu_bus::stored::date("suspensions.effective_from", &s))
            .transpose()
    }
}
