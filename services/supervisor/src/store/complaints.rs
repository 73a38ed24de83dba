//! Complaints (kantelu) to AVI, stored as the API shows them (history included).

use chrono::{DateTime, Utc};
use kokeilu_bus::Tx;
use kokeilu_bus::stored::micros;
use kokeilu_proto::supervisor::{Complaint, ComplaintStatus};
use prost::Message;

use super::Store;
use super::actions::decode;

#[derive(sqlx::FromRow)]
struct ComplaintRow {
    payload: Vec<u8>,
    created_at: i64,
}

const COLUMN: &str = "complaints.payload";

impl Store {
    /// Stores a new complaint.
    pub async fn insert_complaint(
        &self,
        tx: &mut Tx,
        c: &Complaint,
        created_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO complaints (complaint_id, area_id, status, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.complaint_id)
        .bind(&c.area_id)
        .bind(i64::from(c.status))
        .bind(c.encode_to_vec())
        .bind(micros(created_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Replaces a stored complaint with its new state.
    pub async fn update_complaint(&self, tx: &mut Tx, c: &Complaint) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE complaints SET status = $1, payload = $2 WHERE complaint_id = $3")
            .bind(i64::from(c.status))
            .bind(c.encode_to_vec())
            .bind(&c.complaint_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A complaint by id, read in `tx` (locked until it ends on PostgreSQL, so that two
    /// decisions on one complaint apply one after the other).
    pub async fn complaint_for_update(
        &self,
        tx: &mut Tx,
        complaint_id: &str,
    ) -> Result<Option<Complaint>, sqlx::Error> {
        let lock = match self.backend() {
            kokeilu_bus::Backend::Postgres => " FOR UPDATE",
            kokeilu_bus::Backend::Sqlite => "",
        };
        sqlx::query_as::<_, ComplaintRow>(sqlx::AssertSqlSafe(format!(
            "SELECT payload, created_at FROM complaints WHERE complaint_id = $1{lock}"
        )))
        .bind(complaint_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| decode(&r.payload, COLUMN))
        .transpose()
    }

    /// A complaint by id.
    pub async fn complaint(&self, complaint_id: &str) -> Result<Option<Complaint>, sqlx::Error> {
        sqlx::query_as::<_, ComplaintRow>(
            "SELECT payload, created_at FROM complaints WHERE complaint_id = $1",
        )
        .bind(complaint_id)
        .fetch_optional(self.db.pool())
        .await?
        .map(|r| decode(&r.payload, COLUMN))
        .transpose()
    }

    /// Complaints about `area` (all when empty) with `status` (all when unspecified), newest
    /// first, keyset-paged like the actions: at most `limit` after `after` (the creation time in
    /// microseconds and id of the last complaint of the previous page).
    pub async fn complaints(
        &self,
        area: &str,
        status: ComplaintStatus,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<(i64, Complaint)>, sqlx::Error> {
        let (after_at, after_id) = after.unwrap_or((i64::MAX, "~".to_owned()));
        sqlx::query_as::<_, ComplaintRow>(
            "SELECT payload, created_at FROM complaints WHERE ($1 = '' OR area_id = $1) \
             AND ($2 = 0 OR status = $2) \
             AND (created_at < $3 OR (created_at = $3 AND complaint_id < $4)) \
             ORDER BY created_at DESC, complaint_id DESC LIMIT $5",
        )
        .bind(area)
        .bind(i64::from(status as i32))
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| Ok((r.created_at, decode(&r.payload, COLUMN)?)))
        .collect()
    }

    /// Every complaint, oldest first (the ministry notice picks those under way on a day).
    pub async fn all_complaints(&self) -> Result<Vec<Complaint>, sqlx::Error> {
        sqlx::query_as::<_, ComplaintRow>(
            "SELECT payload, created_at FROM complaints ORDER BY created_at, complaint_id",
        )
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| decode(&r.payload, COLUMN))
        .collect()
    }
}
