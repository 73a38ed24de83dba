//! Deadlines: opened by facts, progressed and met by later facts, missed by the sweep.

use chrono::NaiveDate;
use kokeilu_bus::{Backend, Tx};

use kokeilu_bus::stored::{code, date};

use super::cases::{CASE_COLUMNS, CaseRow};
use super::{Store, count};
use crate::domain::{
    Cancel, Case, Deadline, DeadlineChange, DeadlineCount, DeadlineKind, DeadlineStatus, Opening,
    Overdue,
};

#[derive(sqlx::FromRow)]
struct DeadlineRow {
    id: i64,
    kind: i64,
    due: String,
    required: i64,
    done: i64,
    status: i64,
    rule: String,
}

impl TryFrom<DeadlineRow> for Deadline {
    type Error = sqlx::Error;
    fn try_from(r: DeadlineRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: r.id,
            kind: code("deadlines.kind", r.kind)?,
            due: date("deadlines.due", &r.due)?,
            required: r.required,
            done: r.done,
            status: code("deadlines.status", r.status)?,
            rule: r.rule,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OverdueRow {
    #[sqlx(flatten)]
    deadline: DeadlineRow,
    #[sqlx(flatten)]
    case: CaseRow,
}

impl TryFrom<OverdueRow> for Overdue {
    type Error = sqlx::Error;
    fn try_from(r: OverdueRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            deadline: Deadline::try_from(r.deadline)?,
            case: Case::try_from(r.case)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CountRow {
    kind: i64,
    status: i64,
    n: i64,
}

impl TryFrom<CountRow> for DeadlineCount {
    type Error = sqlx::Error;
    fn try_from(r: CountRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            kind: code("deadlines.kind", r.kind)?,
            status: code("deadlines.status", r.status)?,
            count: count("COUNT(*)", r.n)?,
        })
    }
}

impl Store {
    /// Stores a deadline of `case`.
    pub async fn open_deadline(
        &self,
        tx: &mut Tx,
        case: &Case,
        o: &Opening,
    ) -> Result<(), sqlx::Error> {
        let d = &o.deadline;
        sqlx::query(
            "INSERT INTO deadlines (referral_id, area_id, client_pseudonym, kind, due, required, \
             done, status, met_on, rule, opens) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&case.referral_id)
        .bind(&case.area)
        .bind(&case.pseudonym)
        .bind(i64::from(d.kind))
        .bind(d.due.to_string())
        .bind(d.required)
        .bind(if o.met_on.is_some() { d.required } else { 0 })
        .bind(i64::from(o.status))
        .bind(o.met_on.map(|x| x.to_string()))
        .bind(&d.rule)
        .bind(d.opens.map(|x| x.to_string()))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The open or missed deadlines of `kind` of a referral that count an event on `on`, by due
    /// date, locked for the rest of `tx` on PostgreSQL.
    pub async fn deadlines_to_progress(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        kind: DeadlineKind,
        on: NaiveDate,
    ) -> Result<Vec<Deadline>, sqlx::Error> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT id, kind, due, required, done, status, rule FROM deadlines \
                 WHERE referral_id = $1 AND kind = $2 AND status IN ($3, $4) \
                 AND (opens IS NULL OR opens <= $5) ORDER BY due"
            }
            Backend::Postgres => {
                "SELECT id, kind, due, required, done, status, rule FROM deadlines \
                 WHERE referral_id = $1 AND kind = $2 AND status IN ($3, $4) \
                 AND (opens IS NULL OR opens <= $5) ORDER BY due FOR UPDATE"
            }
        };
        sqlx::query_as::<_, DeadlineRow>(sql)
            .bind(referral_id)
            .bind(i64::from(kind))
            .bind(i64::from(DeadlineStatus::Open))
            .bind(i64::from(DeadlineStatus::Missed))
            .bind(on.to_string())
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(Deadline::try_from)
            .collect()
    }

    pub async fn change_deadline(
        &self,
        tx: &mut Tx,
        change: DeadlineChange,
    ) -> Result<(), sqlx::Error> {
        match change {
            DeadlineChange::Progressed { id, done } => {
                sqlx::query("UPDATE deadlines SET done = $1 WHERE id = $2")
                    .bind(done)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            DeadlineChange::Met {
                id,
                done,
                status,
                on,
            } => {
                sqlx::query(
                    "UPDATE deadlines SET done = $1, status = $2, met_on = $3 WHERE id = $4",
                )
                .bind(done)
                .bind(i64::from(status))
                .bind(on.to_string())
                .bind(id)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    /// How many deadlines of `kind` a referral has had, in any state.
    pub async fn count_deadlines(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        kind: DeadlineKind,
    ) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) AS n FROM deadlines WHERE referral_id = $1 AND kind = $2",
        )
        .bind(referral_id)
        .bind(i64::from(kind))
        .fetch_one(&mut **tx)
        .await?;
        Ok(n)
    }

    /// Cancels open deadlines of a referral that no longer apply.
    pub async fn cancel_open(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        which: Cancel,
    ) -> Result<(), sqlx::Error> {
        let from = match which {
            // Every stored ISO date sorts after the empty string.
            Cancel::All => String::new(),
            Cancel::DueFrom(d) => d.to_string(),
        };
        sqlx::query(
            "UPDATE deadlines SET status = $1 WHERE referral_id = $2 AND status = $3 AND due >= $4",
        )
        .bind(i64::from(DeadlineStatus::Cancelled))
        .bind(referral_id)
        .bind(i64::from(DeadlineStatus::Open))
        .bind(from)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Up to `limit` open deadlines due before `today`, oldest first.
    pub async fn overdue(&self, today: NaiveDate, limit: i64) -> Result<Vec<Overdue>, sqlx::Error> {
        let sql = format!(
            "SELECT d.id, d.kind, d.due, d.required, d.done, d.status, d.rule, {CASE_COLUMNS} \
             FROM deadlines d JOIN cases c ON c.referral_id = d.referral_id \
             WHERE d.status = $1 AND d.due < $2 ORDER BY d.due, d.id LIMIT $3"
        );
        sqlx::query_as::<_, OverdueRow>(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(DeadlineStatus::Open))
            .bind(today.to_string())
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?
            .into_iter()
            .map(Overdue::try_from)
            .collect()
    }

    /// Marks an open deadline missed; `false` when it is no longer open (another sweep or a
    /// fact got there first).
    pub async fn mark_missed(&self, tx: &mut Tx, id: i64) -> Result<bool, sqlx::Error> {
        let changed = sqlx::query("UPDATE deadlines SET status = $1 WHERE id = $2 AND status = $3")
            .bind(i64::from(DeadlineStatus::Missed))
            .bind(id)
            .bind(i64::from(DeadlineStatus::Open))
            .execute(&mut **tx)
            .await?;
        Ok(changed.rows_affected() == 1)
    }

    /// The deadlines of an area counted by kind and state, by kind.
    pub async fn deadline_counts(&self, area: &str) -> Result<Vec<DeadlineCount>, sqlx::Error> {
        sqlx::query_as::<_, CountRow>(
            "SELECT kind, status, COUNT(*) AS n FROM deadlines WHERE area_id = $1 \
             GROUP BY kind, status ORDER BY kind",
        )
        .bind(area)
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(DeadlineCount::try_from)
        .collect()
    }
}
