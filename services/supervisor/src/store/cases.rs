//! Cases: one per referral, with the dates the statistics count.

use chrono::{DateTime, Utc};
use kokeilu_bus::{Backend, Tx};

use kokeilu_bus::stored::{date, micros, opt_date};

use super::Store;
use crate::domain::{Case, CaseSummary, CaseUpdate, DeadlineKind, DeadlineStatus, Referral};

#[derive(sqlx::FromRow)]
struct CaseRow {
    referral_id: String,
    area_id: String,
    client_pseudonym: String,
    job_search_start: String,
}

impl TryFrom<CaseRow> for Case {
    type Error = sqlx::Error;
    fn try_from(r: CaseRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            job_search_start: date("cases.job_search_start", &r.job_search_start)?,
            referral_id: r.referral_id,
            area: r.area_id,
            pseudonym: r.client_pseudonym,
        })
    }
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
             referral_date, job_search_start, grounds, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (referral_id) DO NOTHING",
        )
        .bind(&r.referral_id)
        .bind(&r.area)
        .bind(&r.pseudonym)
        .bind(&r.municipality_code)
        .bind(r.date.to_string())
        .bind(r.job_search_start.to_string())
        .bind(r.grounds.join(","))
        .bind(micros(created_at))
        .execute(&mut **tx)
        .await?;
        Ok(inserted.rows_affected() > 0)
    }

    /// The case of a referral, if the referral is known, locked for the rest of `tx` on
    /// PostgreSQL: facts about one referral apply one after the other. (`NO KEY`: the
    /// foreign-key checks of deadlines opened meanwhile, as by the sweep, do not wait for it.)
    pub async fn case(&self, tx: &mut Tx, referral_id: &str) -> Result<Option<Case>, sqlx::Error> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT referral_id, area_id, client_pseudonym, job_search_start FROM cases \
                 WHERE referral_id = $1"
            }
            Backend::Postgres => {
                "SELECT referral_id, area_id, client_pseudonym, job_search_start FROM cases \
                 WHERE referral_id = $1 FOR NO KEY UPDATE"
            }
        };
        sqlx::query_as::<_, CaseRow>(sql)
            .bind(referral_id)
            .fetch_optional(&mut **tx)
            .await?
            .map(Case::try_from)
            .transpose()
    }

    pub async fn update_case(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        update: CaseUpdate,
    ) -> Result<(), sqlx::Error> {
        let (sql, on) = match update {
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
