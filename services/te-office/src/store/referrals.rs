//! Referrals, their status history and the `WatchReferrals` feed.

use chrono::{DateTime, Utc};
use kokeilu_bus::{Backend, Tx};

use kokeilu_bus::stored::{code, corrupt, date, instant, micros, opt_date};

use super::Store;
use crate::domain::{EmploymentPlan, Ground, Referral, ReferralFilter, Status, StatusChange};

/// Feed lock id for `referral_events`.
pub(super) const FEED_LOCK: i64 = 0x7e_0ff1_ce01;

/// A `referrals` row as stored.
#[derive(sqlx::FromRow)]
struct ReferralRecord {
    referral_id: String,
    idempotency_key: String,
    request_hash: String,
    henkilotunnus: String,
    home_municipality_code: String,
    area_id: String,
    grounds: String,
    job_search_start: String,
    referral_date: String,
    status: i64,
    rejection_reason: i64,
    issued_message_id: String,
    created_at: i64,
    residence_municipality_code: String,
    decided_by_residence: i64,
    initial_interview_date: Option<String>,
    previous_job_search_end: Option<String>,
    plan_id: Option<String>,
    plan_kind: Option<i64>,
    plan_made_on: Option<String>,
    plan_next_review_on: Option<String>,
}

impl ReferralRecord {
    /// The stored plan: all of id, kind and date, or none of them.
    fn plan(&self) -> Result<Option<EmploymentPlan>, sqlx::Error> {
        match (&self.plan_id, self.plan_kind, &self.plan_made_on) {
            (None, None, None) => Ok(None),
            (Some(id), Some(kind), Some(made_on)) => Ok(Some(EmploymentPlan {
                plan_id: id.clone(),
                kind: code("plan_kind", kind)?,
                made_on: date("plan_made_on", made_on)?,
                next_review_on: opt_date(
                    "plan_next_review_on",
                    self.plan_next_review_on.as_deref(),
                )?,
            })),
            _ => Err(corrupt("plan_kind", "a plan without its id, kind or date")),
        }
    }
}

impl TryFrom<ReferralRecord> for Referral {
    type Error = sqlx::Error;

    fn try_from(r: ReferralRecord) -> Result<Self, Self::Error> {
        Ok(Referral {
            employment_plan: r.plan()?,
            decided_by_residence: match r.decided_by_residence {
                0 => false,
                1 => true,
                v => return Err(corrupt("decided_by_residence", v)),
            },
            initial_interview_date: opt_date(
                "initial_interview_date",
                r.initial_interview_date.as_deref(),
            )?,
            previous_job_search_end: opt_date(
                "previous_job_search_end",
                r.previous_job_search_end.as_deref(),
            )?,
            residence_municipality_code: r.residence_municipality_code,
            grounds: Ground::decode_list(&r.grounds).map_err(|e| corrupt("grounds", e))?,
            job_search_start: date("job_search_start", &r.job_search_start)?,
            referral_date: date("referral_date", &r.referral_date)?,
            status: code("status", r.status)?,
            rejection_reason: i32::try_from(r.rejection_reason)
                .map_err(|e| corrupt("rejection_reason", e))?,
            created_at: instant("created_at", r.created_at)?,
            referral_id: r.referral_id,
            idempotency_key: r.idempotency_key,
            request_hash: r.request_hash,
            henkilotunnus: r.henkilotunnus,
            home_municipality_code: r.home_municipality_code,
            area_id: r.area_id,
            issued_message_id: r.issued_message_id,
        })
    }
}

/// A `referral_events` row as stored.
#[derive(sqlx::FromRow)]
struct EventRecord {
    seq: i64,
    referral_id: String,
    area_id: String,
    status: i64,
    at: i64,
    detail: String,
}

impl TryFrom<EventRecord> for StatusChange {
    type Error = sqlx::Error;

    fn try_from(r: EventRecord) -> Result<Self, Self::Error> {
        Ok(StatusChange {
            status: code("referral_events.status", r.status)?,
            at: instant("referral_events.at", r.at)?,
            seq: r.seq,
            referral_id: r.referral_id,
            area_id: r.area_id,
            detail: r.detail,
        })
    }
}

/// A row of a listed page: the referral and one entry of its history (none if it has none).
#[derive(sqlx::FromRow)]
struct PageRecord {
    #[sqlx(flatten)]
    referral: ReferralRecord,
    e_seq: Option<i64>,
    e_area_id: Option<String>,
    e_status: Option<i64>,
    e_at: Option<i64>,
    e_detail: Option<String>,
}

impl PageRecord {
    fn change(&self) -> Result<Option<StatusChange>, sqlx::Error> {
        let (Some(seq), Some(status), Some(at)) = (self.e_seq, self.e_status, self.e_at) else {
            return Ok(None);
        };
        StatusChange::try_from(EventRecord {
            seq,
            referral_id: self.referral.referral_id.clone(),
            area_id: self.e_area_id.clone().unwrap_or_default(),
            status,
            at,
            detail: self.e_detail.clone().unwrap_or_default(),
        })
        .map(Some)
    }
}

fn changes(records: Vec<EventRecord>) -> Result<Vec<StatusChange>, sqlx::Error> {
    records.into_iter().map(StatusChange::try_from).collect()
}

/// The `referrals` columns with a condition, as one static statement per use.
macro_rules! select_referral {
    ($tail:literal) => {
        concat!(
            "SELECT referral_id, idempotency_key, request_hash, henkilotunnus, \
             home_municipality_code, area_id, grounds, job_search_start, referral_date, status, \
             rejection_reason, issued_message_id, created_at, residence_municipality_code, \
             decided_by_residence, initial_interview_date, previous_job_search_end, plan_id, \
             plan_kind, plan_made_on, plan_next_review_on FROM referrals ",
            $tail
        )
    };
}

impl Store {
    pub async fn by_idempotency_key(
        &self,
        tx: &mut Tx,
        key: &str,
    ) -> Result<Option<Referral>, sqlx::Error> {
        sqlx::query_as::<_, ReferralRecord>(select_referral!("WHERE idempotency_key = $1"))
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?
            .map(Referral::try_from)
            .transpose()
    }

    /// The person's live (not rejected) referral, if any.
    pub async fn live_for_person(
        &self,
        tx: &mut Tx,
        henkilotunnus: &str,
    ) -> Result<Option<Referral>, sqlx::Error> {
        sqlx::query_as::<_, ReferralRecord>(select_referral!(
            "WHERE henkilotunnus = $1 AND status <> $2"
        ))
        .bind(henkilotunnus)
        .bind(i64::from(Status::Rejected))
        .fetch_optional(&mut **tx)
        .await?
        .map(Referral::try_from)
        .transpose()
    }

    /// Stores a new referral and its first history entry.
    pub async fn insert_referral(&self, tx: &mut Tx, r: &Referral) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO referrals (referral_id, idempotency_key, request_hash, henkilotunnus, \
             home_municipality_code, area_id, grounds, job_search_start, referral_date, status, \
             rejection_reason, issued_message_id, created_at, updated_at, \
             residence_municipality_code, decided_by_residence, initial_interview_date, \
             previous_job_search_end, plan_id, plan_kind, plan_made_on, plan_next_review_on) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21)",
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
        .bind(i64::from(r.status))
        .bind(i64::from(r.rejection_reason))
        .bind(&r.issued_message_id)
        .bind(micros(r.created_at))
        .bind(&r.residence_municipality_code)
        .bind(i64::from(r.decided_by_residence))
        .bind(r.initial_interview_date.map(|d| d.to_string()))
        .bind(r.previous_job_search_end.map(|d| d.to_string()))
        .bind(r.employment_plan.as_ref().map(|p| p.plan_id.clone()))
        .bind(r.employment_plan.as_ref().map(|p| p.kind as i64))
        .bind(r.employment_plan.as_ref().map(|p| p.made_on.to_string()))
        .bind(
            r.employment_plan
                .as_ref()
                .and_then(|p| p.next_review_on)
                .map(|d| d.to_string()),
        )
        .execute(&mut **tx)
        .await?;
        self.append_change(tx, &r.referral_id, &r.area_id, r.status, r.created_at, "")
            .await
    }

    /// Loads a referral to change it (row-locked on PostgreSQL; SQLite's write transaction
    /// already excludes other writers).
    pub async fn for_update(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Option<Referral>, sqlx::Error> {
        let sql = match self.db.backend() {
            Backend::Sqlite => select_referral!("WHERE referral_id = $1"),
            Backend::Postgres => select_referral!("WHERE referral_id = $1 FOR UPDATE"),
        };
        sqlx::query_as::<_, ReferralRecord>(sql)
            .bind(referral_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(Referral::try_from)
            .transpose()
    }

    /// Moves a referral to `status` and appends the change to its history.
    #[allow(clippy::too_many_arguments)]
    pub async fn advance(
        &self,
        tx: &mut Tx,
        r: &Referral,
        status: Status,
        rejection_reason: i32,
        at: DateTime<Utc>,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE referrals SET status = $1, rejection_reason = $2, updated_at = $3 \
             WHERE referral_id = $4",
        )
        .bind(i64::from(status))
        .bind(i64::from(rejection_reason))
        .bind(micros(now))
        .bind(&r.referral_id)
        .execute(&mut **tx)
        .await?;
        self.append_change(tx, &r.referral_id, &r.area_id, status, at, detail)
            .await
    }

    /// Appends to the status history (and the watch feed).
    pub async fn append_change(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        area_id: &str,
        status: Status,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        self.feed.lock(&self.db, tx).await?;
        sqlx::query(
            "INSERT INTO referral_events (referral_id, area_id, status, at, detail) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(referral_id)
        .bind(area_id)
        .bind(i64::from(status))
        .bind(micros(at))
        .bind(detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Whether the referral's history has an entry with `status`.
    pub async fn has_change(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        status: Status,
    ) -> Result<bool, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) AS n FROM referral_events WHERE referral_id = $1 AND status = $2",
        )
        .bind(referral_id)
        .bind(i64::from(status))
        .fetch_one(&mut **tx)
        .await?;
        Ok(n > 0)
    }

    /// The time of the referral's latest history entry, if any.
    pub async fn latest_change_at(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let (at,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(at) FROM referral_events WHERE referral_id = $1")
                .bind(referral_id)
                .fetch_one(&mut **tx)
                .await?;
        Ok(at.and_then(DateTime::from_timestamp_micros))
    }

    pub async fn get(&self, referral_id: &str) -> Result<Option<Referral>, sqlx::Error> {
        sqlx::query_as::<_, ReferralRecord>(select_referral!("WHERE referral_id = $1"))
            .bind(referral_id)
            .fetch_optional(self.db.pool())
            .await?
            .map(Referral::try_from)
            .transpose()
    }

    /// A referral's status history, oldest first.
    pub async fn history(&self, referral_id: &str) -> Result<Vec<StatusChange>, sqlx::Error> {
        changes(
            sqlx::query_as(
                "SELECT seq, referral_id, area_id, status, at, detail FROM referral_events \
                 WHERE referral_id = $1 ORDER BY seq",
            )
            .bind(referral_id)
            .fetch_all(self.db.pool())
            .await?,
        )
    }

    /// Newest first, keyset-paged, each referral with its status history (oldest first), in one
    /// query: the page is cut in a subquery and joined with its history, so a page of any size
    /// costs one round trip and reads one consistent snapshot.
    pub async fn list(
        &self,
        q: &ReferralFilter,
    ) -> Result<Vec<(Referral, Vec<StatusChange>)>, sqlx::Error> {
        let (after_at, after_id) = match &q.after {
            Some((at, id)) => (*at, id.clone()),
            // Sorts after every UUID.
            None => (i64::MAX, "~".to_owned()),
        };
        let rows: Vec<PageRecord> = sqlx::query_as(
            "SELECT r.referral_id AS referral_id, r.idempotency_key AS idempotency_key, \
             r.request_hash AS request_hash, r.henkilotunnus AS henkilotunnus, \
             r.home_municipality_code AS home_municipality_code, r.area_id AS area_id, \
             r.grounds AS grounds, r.job_search_start AS job_search_start, \
             r.referral_date AS referral_date, r.status AS status, \
             r.rejection_reason AS rejection_reason, r.issued_message_id AS issued_message_id, \
             r.created_at AS created_at, \
             r.residence_municipality_code AS residence_municipality_code, \
             r.decided_by_residence AS decided_by_residence, \
             r.initial_interview_date AS initial_interview_date, \
             r.previous_job_search_end AS previous_job_search_end, r.plan_id AS plan_id, \
             r.plan_kind AS plan_kind, r.plan_made_on AS plan_made_on, \
             r.plan_next_review_on AS plan_next_review_on, \
             e.seq AS e_seq, e.area_id AS e_area_id, e.status AS e_status, e.at AS e_at, \
             e.detail AS e_detail \
             FROM (SELECT * FROM referrals \
                   WHERE ($1 = '' OR area_id = $1) AND ($2 OR status = $3) \
                   AND (created_at < $4 OR (created_at = $4 AND referral_id < $5)) \
                   ORDER BY created_at DESC, referral_id DESC LIMIT $6) r \
             LEFT JOIN referral_events e ON e.referral_id = r.referral_id \
             ORDER BY r.created_at DESC, r.referral_id DESC, e.seq",
        )
        .bind(q.area_id.clone().unwrap_or_default())
        .bind(q.status.is_none())
        .bind(q.status.map_or(0, i64::from))
        .bind(after_at)
        .bind(after_id)
        .bind(q.limit)
        .fetch_all(self.db.pool())
        .await?;
        let mut out: Vec<(Referral, Vec<StatusChange>)> = Vec::new();
        for row in rows {
            let change = row.change()?;
            let same = out
                .last()
                .is_some_and(|(r, _)| r.referral_id == row.referral.referral_id);
            if !same {
                out.push((Referral::try_from(row.referral)?, Vec::new()));
            }
            if let (Some(change), Some((_, history))) = (change, out.last_mut()) {
                history.push(change);
            }
        }
        Ok(out)
    }

    /// Referrals per status (for status output and tests).
    pub async fn count_by_status(&self, status: Status) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) AS n FROM referrals WHERE status = $1")
            .bind(i64::from(status))
            .fetch_one(self.db.pool())
            .await?;
        Ok(n)
    }

    // The WatchReferrals feed.

    /// Status changes after `cursor`, oldest first.
    pub async fn changes_after(
        &self,
        cursor: i64,
        area_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StatusChange>, sqlx::Error> {
        changes(
            sqlx::query_as(
                "SELECT seq, referral_id, area_id, status, at, detail FROM referral_events \
                 WHERE seq > $1 AND ($2 = '' OR area_id = $2) ORDER BY seq LIMIT $3",
            )
            .bind(cursor)
            .bind(area_id.unwrap_or_default())
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?,
        )
    }

    /// The newest feed position.
    pub async fn last_change_seq(&self) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) AS n FROM referral_events")
            .fetch_one(self.db.pool())
            .await?;
        Ok(n)
    }
}
