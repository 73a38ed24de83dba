//! Incoming referrals, their decisions, and the change feed whose `seq` is the watch cursor.
//!
//! Every change to a referral appends to `incoming_feed` in the same transaction.

use chrono::{DateTime, Utc};
use kokeilu_bus::Tx;

use kokeilu_bus::stored::{corrupt, date, instant, micros};

use super::Store;
use crate::domain::{IncomingReferral, IncomingStatus, Plan, RejectionReason};

/// Serialises writers of the incoming feed on PostgreSQL.
pub const FEED_LOCK: i64 = 0x7a_11a0_fee0;

/// `SELECT` of every referral column from `incoming_referrals r`, followed by `$tail`.
macro_rules! select_incoming {
    ($($tail:literal),* $(,)?) => {
        concat!(
            "SELECT r.referral_id, r.area_id, r.henkilotunnus, r.home_municipality_code, \
             r.grounds, r.job_search_start, r.referral_date, r.status, r.received_at, \
             r.decided_at, r.rejection_reason, r.rejection_detail, r.issued_message_id, \
             r.trace_context, r.feed_seq, r.client_pseudonym, r.pseudonym_key_id, \
             r.residence_municipality_code, r.decided_by_residence, r.te_office_interview, \
             r.previous_job_search_end, r.employment_plan, r.plan_revised_on \
             FROM incoming_referrals r ",
            $($tail),*
        )
    };
}

/// A row of `incoming_referrals`, as stored.
#[derive(sqlx::FromRow)]
struct IncomingRecord {
    referral_id: String,
    area_id: String,
    henkilotunnus: String,
    home_municipality_code: String,
    grounds: String,
    job_search_start: String,
    referral_date: String,
    #[sqlx(try_from = "i64")]
    status: IncomingStatus,
    received_at: i64,
    decided_at: Option<i64>,
    rejection_reason: i64,
    rejection_detail: String,
    issued_message_id: String,
    trace_context: String,
    feed_seq: i64,
    client_pseudonym: String,
    pseudonym_key_id: String,
    residence_municipality_code: String,
    decided_by_residence: i64,
    te_office_interview: Option<String>,
    previous_job_search_end: Option<String>,
    employment_plan: Option<String>,
    plan_revised_on: Option<String>,
}

/// A referral as read from the feed, with the position of that change.
#[derive(sqlx::FromRow)]
struct FeedRecord {
    change_seq: i64,
    #[sqlx(flatten)]
    referral: IncomingRecord,
}

impl TryFrom<IncomingRecord> for IncomingReferral {
    type Error = sqlx::Error;

    fn try_from(r: IncomingRecord) -> Result<Self, sqlx::Error> {
        let rejection_reason = match r.rejection_reason {
            0 => None,
            n => Some(RejectionReason::try_from(n).map_err(|e| corrupt("rejection_reason", e))?),
        };
        let optional_date =
            |column: &str, v: &Option<String>| v.as_deref().map(|d| date(column, d)).transpose();
        Ok(Self {
            te_office_interview: optional_date("te_office_interview", &r.te_office_interview)?,
            previous_job_search_end: optional_date(
                "previous_job_search_end",
                &r.previous_job_search_end,
            )?,
            plan_revised_on: optional_date("plan_revised_on", &r.plan_revised_on)?,
            employment_plan: r
                .employment_plan
                .as_deref()
                .map(serde_json::from_str::<Plan>)
                .transpose()
                .map_err(|e| corrupt("employment_plan", e))?,
            decided_by_residence: match r.decided_by_residence {
                0 => false,
                1 => true,
                n => return Err(corrupt("decided_by_residence", format_args!("{n}"))),
            },
            residence_municipality_code: r.residence_municipality_code,
            grounds: grounds(&r.grounds)?,
            job_search_start: date("job_search_start", &r.job_search_start)?,
            referral_date: date("referral_date", &r.referral_date)?,
            status: r.status,
            received_at: instant("received_at", r.received_at)?,
            decided_at: r.decided_at.map(|t| instant("decided_at", t)).transpose()?,
            rejection_reason,
            trace_context: serde_json::from_str(&r.trace_context)
                .map_err(|e| corrupt("trace_context", e))?,
            referral_id: r.referral_id,
            area_id: r.area_id,
            henkilotunnus: r.henkilotunnus,
            home_municipality_code: r.home_municipality_code,
            rejection_detail: r.rejection_detail,
            issued_message_id: r.issued_message_id,
            client_pseudonym: r.client_pseudonym,
            pseudonym_key_id: r.pseudonym_key_id,
            cursor: r.feed_seq,
        })
    }
}

/// The grounds as stored: their numbers, comma-separated.
fn grounds(text: &str) -> Result<Vec<i32>, sqlx::Error> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|g| {
            g.parse()
                .map_err(|e| corrupt("grounds", format_args!("{text:?}: {e}")))
        })
        .collect()
}

fn to_grounds(grounds: &[i32]) -> String {
    grounds
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn decode(records: Vec<IncomingRecord>) -> Result<Vec<IncomingReferral>, sqlx::Error> {
    records
        .into_iter()
        .map(IncomingReferral::try_from)
        .collect()
}

impl Store {
    /// Stores a newly received referral; `false` if one with this id is already stored.
    pub async fn insert_referral(
        &self,
        tx: &mut Tx,
        r: &IncomingReferral,
    ) -> Result<bool, sqlx::Error> {
        let trace = serde_json::to_string(&r.trace_context)
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let plan = r
            .employment_plan
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let done = sqlx::query(
            "INSERT INTO incoming_referrals (referral_id, area_id, henkilotunnus, \
             home_municipality_code, grounds, job_search_start, referral_date, status, \
             received_at, issued_message_id, trace_context, client_pseudonym, pseudonym_key_id, \
             residence_municipality_code, decided_by_residence, te_office_interview, \
             previous_job_search_end, employment_plan) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18) \
             ON CONFLICT (referral_id) DO NOTHING",
        )
        .bind(&r.referral_id)
        .bind(&r.area_id)
        .bind(&r.henkilotunnus)
        .bind(&r.home_municipality_code)
        .bind(to_grounds(&r.grounds))
        .bind(r.job_search_start.to_string())
        .bind(r.referral_date.to_string())
        .bind(i64::from(r.status))
        .bind(micros(r.received_at))
        .bind(&r.issued_message_id)
        .bind(trace)
        .bind(&r.client_pseudonym)
        .bind(&r.pseudonym_key_id)
        .bind(&r.residence_municipality_code)
        .bind(i64::from(r.decided_by_residence))
        .bind(r.te_office_interview.map(|d| d.to_string()))
        .bind(r.previous_job_search_end.map(|d| d.to_string()))
        .bind(plan)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.touch(tx, &r.referral_id).await?;
        Ok(true)
    }

    /// Loads a referral to change it (row-locked on PostgreSQL).
    pub async fn referral_for_update(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Option<IncomingReferral>, sqlx::Error> {
        let sql = self.db.backend().pick(
            select_incoming!("WHERE r.referral_id = $1"),
            select_incoming!("WHERE r.referral_id = $1 FOR UPDATE"),
        );
        sqlx::query_as::<_, IncomingRecord>(sql)
            .bind(referral_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(IncomingReferral::try_from)
            .transpose()
    }

    /// Writes a decided referral's status, decision time and rejection, and appends it to the
    /// feed.
    pub async fn save_decision(
        &self,
        tx: &mut Tx,
        decided: &IncomingReferral,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE incoming_referrals SET status = $1, decided_at = $2, rejection_reason = $3, \
             rejection_detail = $4 WHERE referral_id = $5",
        )
        .bind(i64::from(decided.status))
        .bind(decided.decided_at.map(micros))
        .bind(decided.rejection_reason.map_or(0, i64::from))
        .bind(&decided.rejection_detail)
        .bind(&decided.referral_id)
        .execute(&mut **tx)
        .await?;
        self.touch(tx, &decided.referral_id).await
    }

    /// Records that the area revised the employment plan that came with the referral on `on`
    /// (the first plan it records; later ones keep the first revision day). Appends to the feed
    /// when it changed.
    pub async fn mark_plan_revised(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        on: chrono::NaiveDate,
    ) -> Result<(), sqlx::Error> {
        let done = sqlx::query(
            "UPDATE incoming_referrals SET plan_revised_on = $1 \
             WHERE referral_id = $2 AND plan_revised_on IS NULL",
        )
        .bind(on.to_string())
        .bind(referral_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() > 0 {
            self.touch(tx, referral_id).await?;
        }
        Ok(())
    }

    /// Appends the referral to the change feed.
    async fn touch(&self, tx: &mut Tx, referral_id: &str) -> Result<(), sqlx::Error> {
        self.feed.lock(&self.db, tx).await?;
        let seq: i64 =
            sqlx::query_scalar("INSERT INTO incoming_feed (referral_id) VALUES ($1) RETURNING seq")
                .bind(referral_id)
                .fetch_one(&mut **tx)
                .await?;
        sqlx::query("UPDATE incoming_referrals SET feed_seq = $1 WHERE referral_id = $2")
            .bind(seq)
            .bind(referral_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn referral(
        &self,
        referral_id: &str,
    ) -> Result<Option<IncomingReferral>, sqlx::Error> {
        sqlx::query_as::<_, IncomingRecord>(select_incoming!("WHERE r.referral_id = $1"))
            .bind(referral_id)
            .fetch_optional(self.db.pool())
            .await?
            .map(IncomingReferral::try_from)
            .transpose()
    }

    /// Oldest received first (a work queue), keyset-paged on (received_at, referral_id), of
    /// every status or of one.
    pub async fn list_referrals(
        &self,
        status: Option<IncomingStatus>,
        limit: i64,
        after: Option<(DateTime<Utc>, String)>,
    ) -> Result<Vec<IncomingReferral>, sqlx::Error> {
        let (after_at, after_id) =
            after.map_or((i64::MIN, String::new()), |(at, id)| (micros(at), id));
        let records =
            match status {
                None => sqlx::query_as::<_, IncomingRecord>(select_incoming!(
                    "WHERE (r.received_at > $1 OR (r.received_at = $1 AND r.referral_id > $2)) ",
                    "ORDER BY r.received_at, r.referral_id LIMIT $3"
                ))
                .bind(after_at)
                .bind(after_id)
                .bind(limit)
                .fetch_all(self.db.pool())
                .await?,
                Some(status) => {
                    sqlx::query_as::<_, IncomingRecord>(select_incoming!(
                        "WHERE r.status = $1 ",
                        "AND (r.received_at > $2 OR (r.received_at = $2 AND r.referral_id > $3)) ",
                        "ORDER BY r.received_at, r.referral_id LIMIT $4"
                    ))
                    .bind(i64::from(status))
                    .bind(after_at)
                    .bind(after_id)
                    .bind(limit)
                    .fetch_all(self.db.pool())
                    .await?
                }
            };
        decode(records)
    }

    /// Changes after `cursor`, each with the referral's state at read time and the change's own
    /// position as its cursor, oldest first.
    pub async fn feed_after(
        &self,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<IncomingReferral>, sqlx::Error> {
        let records = sqlx::query_as::<_, FeedRecord>(
            "SELECT f.seq AS change_seq, r.referral_id, r.area_id, r.henkilotunnus, \
             r.home_municipality_code, r.grounds, r.job_search_start, r.referral_date, r.status, \
             r.received_at, r.decided_at, r.rejection_reason, r.rejection_detail, \
             r.issued_message_id, r.trace_context, r.feed_seq, r.client_pseudonym, \
             r.pseudonym_key_id, r.residence_municipality_code, r.decided_by_residence, \
             r.te_office_interview, r.previous_job_search_end, r.employment_plan, \
             r.plan_revised_on \
             FROM incoming_feed f JOIN incoming_referrals r ON r.referral_id = f.referral_id \
             WHERE f.seq > $1 ORDER BY f.seq LIMIT $2",
        )
        .bind(cursor)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        records
            .into_iter()
            .map(|f| {
                let mut r = IncomingReferral::try_from(f.referral)?;
                r.cursor = f.change_seq;
                Ok(r)
            })
            .collect()
    }

    /// The newest feed position (0 when empty).
    pub async fn last_feed_seq(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) AS n FROM incoming_feed")
            .fetch_one(self.db.pool())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grounds_round_trip_and_a_bad_list_is_an_error() {
        assert_eq!(grounds(&to_grounds(&[1, 3, 12])).unwrap(), vec![1, 3, 12]);
        assert_eq!(grounds(&to_grounds(&[])).unwrap(), Vec::<i32>::new());
        assert!(grounds("1,x").is_err());
        assert!(grounds("1,,2").is_err());
    }
}
