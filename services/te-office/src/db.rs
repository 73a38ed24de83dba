//! te-office's repository: referrals and their status history, on SQLite or PostgreSQL.
//!
//! Write functions take the caller's transaction, so a state change and its outbox message
//! commit together. The status history doubles as the `WatchReferrals` feed: its `seq` is the
//! cursor, and writers take the feed lock so sequence numbers become visible in order.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::db::{from_micros, micros};
use kokeilu_bus::{Backend, Db, Tx};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{Ground, Status};

/// Feed lock id for `referral_events`.
const FEED_LOCK: i64 = 0x7e_0ff1_ce01;

/// A stored referral.
#[derive(Debug, Clone)]
pub struct ReferralRow {
    pub referral_id: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub henkilotunnus: String,
    pub home_municipality_code: String,
    pub area_id: String,
    pub grounds: Vec<Ground>,
    pub job_search_start: NaiveDate,
    pub referral_date: NaiveDate,
    pub status: Status,
    pub rejection_reason: i32,
    pub issued_message_id: String,
    pub created_at: DateTime<Utc>,
}

/// One entry of a referral's status history.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i64,
    pub referral_id: String,
    pub area_id: String,
    pub status: Status,
    pub at: DateTime<Utc>,
    pub detail: String,
}

/// Filter and page for listing.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub area_id: Option<String>,
    pub status: Option<Status>,
    pub limit: i64,
    /// Keyset cursor: (created_at micros, referral_id) of the last row of the previous page.
    pub after: Option<(i64, String)>,
}

const COLUMNS: &str = "referral_id, idempotency_key, request_hash, henkilotunnus, \
    home_municipality_code, area_id, grounds, job_search_start, referral_date, status, \
    rejection_reason, issued_message_id, created_at";

fn referral(row: &AnyRow) -> Result<ReferralRow, sqlx::Error> {
    let date = |col: &str| -> Result<NaiveDate, sqlx::Error> {
        let s: String = row.try_get(col)?;
        s.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
    };
    let status: i64 = row.try_get("status")?;
    Ok(ReferralRow {
        referral_id: row.try_get("referral_id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        request_hash: row.try_get("request_hash")?,
        henkilotunnus: row.try_get("henkilotunnus")?,
        home_municipality_code: row.try_get("home_municipality_code")?,
        area_id: row.try_get("area_id")?,
        grounds: Ground::decode_list(&row.try_get::<String, _>("grounds")?),
        job_search_start: date("job_search_start")?,
        referral_date: date("referral_date")?,
        status: Status::from_i64(status)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad status {status}").into()))?,
        rejection_reason: i32::try_from(row.try_get::<i64, _>("rejection_reason")?).unwrap_or(0),
        issued_message_id: row.try_get("issued_message_id")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

fn event(row: &AnyRow) -> Result<EventRow, sqlx::Error> {
    let status: i64 = row.try_get("status")?;
    Ok(EventRow {
        seq: row.try_get("seq")?,
        referral_id: row.try_get("referral_id")?,
        area_id: row.try_get("area_id")?,
        status: Status::from_i64(status)
            .ok_or_else(|| sqlx::Error::Decode(format!("bad status {status}").into()))?,
        at: from_micros(row.try_get("at")?)?,
        detail: row.try_get("detail")?,
    })
}

/// The repository over one te-office database.
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

    pub async fn by_idempotency_key(
        &self,
        tx: &mut Tx,
        key: &str,
    ) -> Result<Option<ReferralRow>, sqlx::Error> {
        let sql = const_format(COLUMNS, "WHERE idempotency_key = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(referral)
            .transpose()
    }

    /// The person's live (not rejected) referral, if any.
    pub async fn live_for_person(
        &self,
        tx: &mut Tx,
        henkilotunnus: &str,
    ) -> Result<Option<ReferralRow>, sqlx::Error> {
        let sql = const_format(COLUMNS, "WHERE henkilotunnus = $1 AND status <> 4");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(henkilotunnus)
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(referral)
            .transpose()
    }

    pub async fn insert(&self, tx: &mut Tx, r: &ReferralRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO referrals (referral_id, idempotency_key, request_hash, henkilotunnus, \
             home_municipality_code, area_id, grounds, job_search_start, referral_date, status, \
             rejection_reason, issued_message_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(&r.referral_id)
        .bind(&r.idempotency_key)
        .bind(&r.request_hash)
        .bind(&r.henkilotunnus)
        .bind(&r.home_municipality_code)
        .bind(&r.area_id)
        .bind(Ground::encode_list(&r.grounds))
        .bind(r.job_search_start.to_string())
        .bind(r.referral_date.to_string())
        .bind(r.status as i64)
        .bind(i64::from(r.rejection_reason))
        .bind(&r.issued_message_id)
        .bind(micros(r.created_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Loads a referral to change it (row-locked on PostgreSQL; SQLite's write transaction
    /// already excludes other writers).
    pub async fn for_update(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Option<ReferralRow>, sqlx::Error> {
        let sql = match self.db.backend() {
            Backend::Sqlite => const_format(COLUMNS, "WHERE referral_id = $1"),
            Backend::Postgres => const_format(COLUMNS, "WHERE referral_id = $1 FOR UPDATE"),
        };
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(referral_id)
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(referral)
            .transpose()
    }

    pub async fn set_status(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        status: Status,
        rejection_reason: i32,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE referrals SET status = $1, rejection_reason = $2, updated_at = $3 \
             WHERE referral_id = $4",
        )
        .bind(status as i64)
        .bind(i64::from(rejection_reason))
        .bind(micros(now))
        .bind(referral_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Appends to the status history (and the watch feed).
    pub async fn append_event(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        area_id: &str,
        status: Status,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        self.db.lock_feed(tx, FEED_LOCK).await?;
        sqlx::query(
            "INSERT INTO referral_events (referral_id, area_id, status, at, detail) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(referral_id)
        .bind(area_id)
        .bind(status as i64)
        .bind(micros(at))
        .bind(detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn has_event(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        status: Status,
    ) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM referral_events WHERE referral_id = $1 AND status = $2",
        )
        .bind(referral_id)
        .bind(status as i64)
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn get(&self, referral_id: &str) -> Result<Option<ReferralRow>, sqlx::Error> {
        let sql = const_format(COLUMNS, "WHERE referral_id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(referral_id)
            .fetch_optional(self.db.pool())
            .await?
            .as_ref()
            .map(referral)
            .transpose()
    }

    pub async fn history(&self, referral_id: &str) -> Result<Vec<EventRow>, sqlx::Error> {
        sqlx::query(
            "SELECT seq, referral_id, area_id, status, at, detail FROM referral_events \
             WHERE referral_id = $1 ORDER BY seq",
        )
        .bind(referral_id)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(event)
        .collect()
    }

    /// Newest first, keyset-paged.
    pub async fn list(&self, q: &ListQuery) -> Result<Vec<ReferralRow>, sqlx::Error> {
        let (after_at, after_id) = q.after.clone().unwrap_or((i64::MAX, String::new()));
        let sql = const_format(
            COLUMNS,
            "WHERE ($1 = '' OR area_id = $1) AND ($2 = 0 OR status = $2) \
             AND (created_at < $3 OR (created_at = $3 AND referral_id < $4)) \
             ORDER BY created_at DESC, referral_id DESC LIMIT $5",
        );
        let after_id = if q.after.is_some() {
            after_id
        } else {
            // Sorts after every UUID.
            "~".to_owned()
        };
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(q.area_id.clone().unwrap_or_default())
            .bind(q.status.map_or(0, |s| s as i64))
            .bind(after_at)
            .bind(after_id)
            .bind(q.limit)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(referral)
            .collect()
    }

    /// Status changes after `cursor`, oldest first.
    pub async fn events_after(
        &self,
        cursor: i64,
        area_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventRow>, sqlx::Error> {
        sqlx::query(
            "SELECT seq, referral_id, area_id, status, at, detail FROM referral_events \
             WHERE seq > $1 AND ($2 = '' OR area_id = $2) ORDER BY seq LIMIT $3",
        )
        .bind(cursor)
        .bind(area_id.unwrap_or_default())
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(event)
        .collect()
    }

    /// The newest feed position.
    pub async fn last_event_seq(&self) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM referral_events")
            .fetch_one(self.db.pool())
            .await?;
        row.try_get("n")
    }

    /// Referrals per status (for status output and tests).
    pub async fn count_by_status(&self, status: Status) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM referrals WHERE status = $1")
            .bind(status as i64)
            .fetch_one(self.db.pool())
            .await?;
        row.try_get("n")
    }
}

fn const_format(columns: &str, tail: &str) -> String {
    format!("SELECT {columns} FROM referrals {tail}")
}
