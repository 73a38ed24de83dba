//! trial-area's repository: incoming referrals and their change feed, on SQLite or PostgreSQL.
//!
//! Write functions take the caller's transaction so that a decision and its outgoing message
//! commit together. Every change appends to `incoming_feed`, whose `seq` is the watch cursor.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::db::{from_micros, micros};
use kokeilu_bus::{Backend, Db, Tx};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::domain::IncomingStatus;

const FEED_LOCK: i64 = 0x7a_11a0_fee0;

/// A stored incoming referral.
#[derive(Debug, Clone)]
pub struct IncomingRow {
    pub referral_id: String,
    pub area_id: String,
    pub henkilotunnus: String,
    pub home_municipality_code: String,
    pub grounds: Vec<i32>,
    pub job_search_start: NaiveDate,
    pub referral_date: NaiveDate,
    pub status: IncomingStatus,
    pub received_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub rejection_reason: i32,
    pub rejection_detail: String,
    pub issued_message_id: String,
    /// Trace context of the referral, so every later message about it joins the same trace.
    pub trace_context: Vec<(String, String)>,
    /// Feed position of the latest change.
    pub cursor: i64,
}

const COLUMNS: &str = "r.referral_id, r.area_id, r.henkilotunnus, r.home_municipality_code, \
    r.grounds, r.job_search_start, r.referral_date, r.status, r.received_at, r.decided_at, \
    r.rejection_reason, r.rejection_detail, r.issued_message_id, r.trace_context, r.feed_seq";

fn incoming(row: &AnyRow) -> Result<IncomingRow, sqlx::Error> {
    let date = |col: &str| -> Result<NaiveDate, sqlx::Error> {
        let s: String = row.try_get(col)?;
        s.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
    };
    let status: i64 = row.try_get("status")?;
    let grounds: String = row.try_get("grounds")?;
    let trace: String = row.try_get("trace_context")?;
    Ok(IncomingRow {
        referral_id: row.try_get("referral_id")?,
        area_id: row.try_get("area_id")?,
        henkilotunnus: row.try_get("henkilotunnus")?,
        home_municipality_code: row.try_get("home_municipality_code")?,
        grounds: grounds.split(',').filter_map(|g| g.parse().ok()).collect(),
        job_search_start: date("job_search_start")?,
        referral_date: date("referral_date")?,
        status: IncomingStatus::from_i64(status)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad status {status}").into()))?,
        received_at: from_micros(row.try_get("received_at")?)?,
        decided_at: row
            .try_get::<Option<i64>, _>("decided_at")?
            .map(from_micros)
            .transpose()?,
        rejection_reason: i32::try_from(row.try_get::<i64, _>("rejection_reason")?).unwrap_or(0),
        rejection_detail: row.try_get("rejection_detail")?,
        issued_message_id: row.try_get("issued_message_id")?,
        trace_context: serde_json::from_str(&trace).unwrap_or_default(),
        cursor: row.try_get("feed_seq")?,
    })
}

/// The repository over one area's database.
#[derive(Debug, Clone)]
pub struct Repository {
    db: Db,
}

impl Repository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Stores a newly received referral; `false` if one with this id is already stored.
    pub async fn insert(&self, tx: &mut Tx, r: &IncomingRow) -> Result<bool, sqlx::Error> {
        let grounds = r
            .grounds
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let done = sqlx::query(
            "INSERT INTO incoming_referrals (referral_id, area_id, henkilotunnus, \
             home_municipality_code, grounds, job_search_start, referral_date, status, \
             received_at, issued_message_id, trace_context) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (referral_id) DO NOTHING",
        )
        .bind(&r.referral_id)
        .bind(&r.area_id)
        .bind(&r.henkilotunnus)
        .bind(&r.home_municipality_code)
        .bind(grounds)
        .bind(r.job_search_start.to_string())
        .bind(r.referral_date.to_string())
        .bind(r.status as i64)
        .bind(micros(r.received_at))
        .bind(&r.issued_message_id)
        .bind(serde_json::to_string(&r.trace_context).unwrap_or_else(|_| "[]".into()))
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.touch(tx, &r.referral_id).await?;
        Ok(true)
    }

    /// Loads a referral to change it (row-locked on PostgreSQL).
    pub async fn for_update(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Option<IncomingRow>, sqlx::Error> {
        let sql = match self.db.backend() {
            Backend::Sqlite => {
                format!("SELECT {COLUMNS} FROM incoming_referrals r WHERE r.referral_id = $1")
            }
            Backend::Postgres => format!(
                "SELECT {COLUMNS} FROM incoming_referrals r WHERE r.referral_id = $1 FOR UPDATE"
            ),
        };
        sqlx::query(AssertSqlSafe(sql))
            .bind(referral_id)
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(incoming)
            .transpose()
    }

    /// Records the area's decision.
    pub async fn decide(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        status: IncomingStatus,
        at: DateTime<Utc>,
        reason: i32,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE incoming_referrals SET status = $1, decided_at = $2, rejection_reason = $3, \
             rejection_detail = $4 WHERE referral_id = $5",
        )
        .bind(status as i64)
        .bind(micros(at))
        .bind(i64::from(reason))
        .bind(detail)
        .bind(referral_id)
        .execute(&mut **tx)
        .await?;
        self.touch(tx, referral_id).await
    }

    /// Appends the referral to the change feed.
    async fn touch(&self, tx: &mut Tx, referral_id: &str) -> Result<(), sqlx::Error> {
        self.db.lock_feed(tx, FEED_LOCK).await?;
        let row = sqlx::query("INSERT INTO incoming_feed (referral_id) VALUES ($1) RETURNING seq")
            .bind(referral_id)
            .fetch_one(&mut **tx)
            .await?;
        let seq: i64 = row.try_get("seq")?;
        sqlx::query("UPDATE incoming_referrals SET feed_seq = $1 WHERE referral_id = $2")
            .bind(seq)
            .bind(referral_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn get(&self, referral_id: &str) -> Result<Option<IncomingRow>, sqlx::Error> {
        sqlx::query(
            "SELECT r.referral_id, r.area_id, r.henkilotunnus, r.home_municipality_code, \
             r.grounds, r.job_search_start, r.referral_date, r.status, r.received_at, \
             r.decided_at, r.rejection_reason, r.rejection_detail, r.issued_message_id, \
             r.trace_context, r.feed_seq FROM incoming_referrals r WHERE r.referral_id = $1",
        )
        .bind(referral_id)
        .fetch_optional(self.db.pool())
        .await?
        .as_ref()
        .map(incoming)
        .transpose()
    }

    /// Oldest received first (a work queue), keyset-paged on (received_at, referral_id).
    pub async fn list(
        &self,
        status: Option<IncomingStatus>,
        limit: i64,
        after: Option<(i64, String)>,
    ) -> Result<Vec<IncomingRow>, sqlx::Error> {
        let (after_at, after_id) = after.unwrap_or((i64::MIN, String::new()));
        sqlx::query(
            "SELECT r.referral_id, r.area_id, r.henkilotunnus, r.home_municipality_code, \
             r.grounds, r.job_search_start, r.referral_date, r.status, r.received_at, \
             r.decided_at, r.rejection_reason, r.rejection_detail, r.issued_message_id, \
             r.trace_context, r.feed_seq FROM incoming_referrals r \
             WHERE ($1 = 0 OR r.status = $1) \
             AND (r.received_at > $2 OR (r.received_at = $2 AND r.referral_id > $3)) \
             ORDER BY r.received_at, r.referral_id LIMIT $4",
        )
        .bind(status.map_or(0, |s| s as i64))
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(incoming)
        .collect()
    }

    /// Changes after `cursor`, each with the referral's state at read time, oldest first.
    pub async fn feed_after(
        &self,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<IncomingRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT f.seq AS change_seq, r.referral_id, r.area_id, r.henkilotunnus, \
             r.home_municipality_code, r.grounds, r.job_search_start, r.referral_date, r.status, \
             r.received_at, r.decided_at, r.rejection_reason, r.rejection_detail, \
             r.issued_message_id, r.trace_context, r.feed_seq \
             FROM incoming_feed f JOIN incoming_referrals r ON r.referral_id = f.referral_id \
             WHERE f.seq > $1 ORDER BY f.seq LIMIT $2",
        )
        .bind(cursor)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let mut r = incoming(row)?;
                r.cursor = row.try_get("change_seq")?;
                Ok(r)
            })
            .collect()
    }

    pub async fn last_feed_seq(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM incoming_feed")
            .fetch_one(self.db.pool())
            .await?
            .try_get("n")
    }

    pub async fn count_by_status(&self, status: IncomingStatus) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM incoming_referrals WHERE status = $1")
            .bind(status as i64)
            .fetch_one(self.db.pool())
            .await?
            .try_get("n")
    }
}
