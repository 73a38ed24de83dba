//! Cases: one per referral, with the dates the statistics count.

use chrono::{DateTime, Utc};
use kokeilu_bus::{Backend, Tx};

use kokeilu_bus::stored::{date, micros, opt_date};

use super::Store;
use crate::domain::{
    Case, CaseSummary, CaseUpdate, DeadlineKind, DeadlineStatus, Intake, Referral,
};

/// The columns of a [`Case`] (`c`: the cases table).
pub(super) const CASE_COLUMNS: &str = "c.referral_id, c.area_id, c.client_pseudonym, \
     c.job_search_start, c.municipality_code, c.received_on, \
     CAST(CASE WHEN c.deadlines_from_receipt THEN 1 ELSE 0 END AS BIGINT) AS deadlines_from_receipt";

#[derive(sqlx::FromRow)]
pub(super) struct CaseRow {
    referral_id: String,
    area_id: String,
    client_pseudonym: String,
    job_search_start: String,
    municipality_code: String,
    received_on: Option<String>,
    /// A boolean as 0/1 (the Any driver reads no SQLite booleans).
    deadlines_from_receipt: i64,
}

impl TryFrom<CaseRow> for Case {
    type Error = sqlx::Error;
    fn try_from(r: CaseRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            job_search_start: date("cases.job_search_start", &r.job_search_start)?,
            referral_id: r.referral_id,
            area: r.area_id,
            pseudonym: r.client_pseudonym,
            municipality_code: r.municipality_code,
            awaiting_receipt: r.deadlines_from_receipt != 0 && r.received_on.is_none(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct IntakeRow {
    job_search_start: String,
    te_interview_on: Option<String>,
    previous_job_search_end: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    area_id: String,
    municipality_code: String,
    referral_date: String,
    job_search_start: String,
    acknowledged_on: Option<String>,
    rejected_on: Option<String>,
    initial_interview_on: Option<String>,
    late: i64,
}

impl TryFrom<SummaryRow> for CaseSummary {
    type Error = sqlx::Error;
    fn try_from(r: SummaryRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            referral_date: date("cases.referral_date", &r.referral_date)?,
            job_search_start: date("cases.job_search_start", &r.job_search_start)?,
            acknowledged_on: opt_date("cases.acknowledged_on", r.acknowledged_on.as_deref())?,
            rejected_on: opt_date("cases.rejected_on", r.rejected_on.as_deref())?,
            initial_interview_on: opt_date(
                "cases.initial_interview_on",
                r.initial_interview_on.as_deref(),
            )?,
            late_initial_interview: r.late > 0,
            area: r.area_id,
            municipality_code: r.municipality_code,
        })
    }
}

impl Store {
    /// Records a referral; `false` when it is already recorded (a redelivered fact).
    pub async fn insert_case(
        &self,
        tx: &mut Tx,
        r: &Referral,
        created_at: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO cases (referral_id, area_id, client_pseudonym, municipality_code, \
             referral_date, job_search_start, grounds, created_at, residence_municipality_code, \
             decided_by_residence, te_interview_on, previous_job_search_end, employment_plan_on, \
             deadlines_from_receipt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, TRUE) \
             ON CONFLICT (referral_id) DO NOTHING",
        )
        .bind(&r.referral_id)
        .bind(&r.area)
        .bind(&r.pseudonym)
        .bind(&r.municipality_code)
        .bind(r.date.to_string())
        .bind(r.job_search_start.to_string())
        .bind(r.grounds.join(","))
        .bind(micros(created_at))
        .bind(&r.residence_municipality_code)
        .bind(r.decided_by_residence)
        .bind(r.te_interview_on.map(|d| d.to_string()))
        .bind(r.previous_job_search_end.map(|d| d.to_string()))
        .bind(r.employment_plan_on.map(|d| d.to_string()))
        .execute(&mut **tx)
        .await?;
        Ok(inserted.rows_affected() > 0)
    }

    /// The case of a referral, if the referral is known, locked for the rest of `tx` on
    /// PostgreSQL: facts about one referral apply one after the other. (`NO KEY`: the
    /// foreign-key checks of deadlines opened meanwhile, as by the sweep, do not wait for it.)
    pub async fn case(&self, tx: &mut Tx, referral_id: &str) -> Result<Option<Case>, sqlx::Error> {
        let lock = match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR NO KEY UPDATE",
        };
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases c WHERE c.referral_id = $1{lock}");
        sqlx::query_as::<_, CaseRow>(sqlx::AssertSqlSafe(sql))
            .bind(referral_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(Case::try_from)
            .transpose()
    }

    /// What the referral said that the deadlines opened at receipt depend on.
    pub async fn intake(&self, tx: &mut Tx, referral_id: &str) -> Result<Intake, sqlx::Error> {
        let r = sqlx::query_as::<_, IntakeRow>(
            "SELECT job_search_start, te_interview_on, previous_job_search_end FROM cases \
             WHERE referral_id = $1",
        )
        .bind(referral_id)
        .fetch_one(&mut **tx)
        .await?;
        Ok(Intake {
            job_search_start: date("cases.job_search_start", &r.job_search_start)?,
            te_interview_on: opt_date("cases.te_interview_on", r.te_interview_on.as_deref())?,
            previous_job_search_end: opt_date(
                "cases.previous_job_search_end",
                r.previous_job_search_end.as_deref(),
            )?,
        })
    }

    /// Records the area's receipt of a referral (the first one counts); `false` when a receipt
    /// is already recorded.
    pub async fn record_receipt(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        on: chrono::NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE cases SET received_on = $1, received_at = $2 \
             WHERE referral_id = $3 AND received_on IS NULL",
        )
        .bind(on.to_string())
        .bind(micros(at))
        .bind(referral_id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn update_case(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        update: CaseUpdate,
    ) -> Result<(), sqlx::Error> {
        let (sql, on) = match update {
            CaseUpdate::Received { on, at } => {
                self.record_receipt(tx, referral_id, on, at).await?;
                return Ok(());
            }
            CaseUpdate::Acknowledged(on) => (
                "UPDATE cases SET acknowledged_on = $1 WHERE referral_id = $2",
                on,
            ),
            CaseUpdate::Rejected(on) => (
                "UPDATE cases SET rejected_on = $1 WHERE referral_id = $2",
                on,
            ),
            CaseUpdate::InitialInterview(on) => (
                "UPDATE cases SET initial_interview_on = COALESCE(initial_interview_on, $1) \
                 WHERE referral_id = $2",
                on,
            ),
        };
        sqlx::query(sql)
            .bind(on.to_string())
            .bind(referral_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The cases of an area (all areas when `area` is empty), for the statistics.
    pub async fn case_summaries(&self, area: &str) -> Result<Vec<CaseSummary>, sqlx::Error> {
        sqlx::query_as::<_, SummaryRow>(
            "SELECT c.area_id, c.municipality_code, c.referral_date, c.job_search_start, \
             c.acknowledged_on, c.rejected_on, c.initial_interview_on, \
             (SELECT COUNT(*) FROM deadlines d WHERE d.referral_id = c.referral_id \
              AND d.kind = $2 AND d.status IN ($3, $4)) AS late \
             FROM cases c WHERE ($1 = '' OR c.area_id = $1)",
        )
        .bind(area)
        .bind(i64::from(DeadlineKind::InitialInterview))
        .bind(i64::from(DeadlineStatus::Missed))
        .bind(i64::from(DeadlineStatus::MetLate))
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(CaseSummary::try_from)
        .collect()
    }
}

/// Key space of the per-referral advisory locks (PostgreSQL).
const REFERRAL_LOCKS: i32 = 0x5a7e;

/// Parked facts and counted fact ids.
impl Store {
    /// Serialises the facts about one referral until `tx` ends, including those about a
    /// referral not recorded yet: a fact parked for want of its referral is then never missed
    /// by the referral applied at the same time. SQLite already has a single writer.
    pub async fn lock_referral(&self, tx: &mut Tx, referral_id: &str) -> Result<(), sqlx::Error> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind(REFERRAL_LOCKS)
                .bind(referral_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Parks a fact (the encoded `ServiceFact`) until its referral, or its receipt, arrives.
    pub async fn park_fact(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        payload: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO parked_facts (referral_id, payload, parked_at) VALUES ($1, $2, $3)",
        )
        .bind(referral_id)
        .bind(payload)
        .bind(micros(at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The parked facts of a referral, in the order they arrived: (seq, encoded fact).
    pub async fn parked_facts(
        &self,
        tx: &mut Tx,
        referral_id: &str,
    ) -> Result<Vec<(i64, Vec<u8>)>, sqlx::Error> {
        sqlx::query_as("SELECT seq, payload FROM parked_facts WHERE referral_id = $1 ORDER BY seq")
            .bind(referral_id)
            .fetch_all(&mut **tx)
            .await
    }

    pub async fn unpark_fact(&self, tx: &mut Tx, seq: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM parked_facts WHERE seq = $1")
            .bind(seq)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// How many facts are parked (all referrals).
    pub async fn parked_count(&self) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) AS n FROM parked_facts")
            .fetch_one(self.db.pool())
            .await?;
        Ok(n)
    }

    /// Counts a reporting party's fact id once: `false` when it was counted before.
    pub async fn count_fact(
        &self,
        tx: &mut Tx,
        area: &str,
        kind: i64,
        fact_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO counted_facts (area_id, kind, fact_id, counted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (area_id, kind, fact_id) DO NOTHING",
        )
        .bind(area)
        .bind(kind)
        .bind(fact_id)
        .bind(micros(at))
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
