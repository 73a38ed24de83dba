//! Reading the ledger: the compliance-event feed, area summaries, and monthly statistics.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use kokeilu_bus::db::from_micros;
use kokeilu_proto::supervision as pb;
use kokeilu_proto::{date_from_naive, timestamp_from};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::ledger::Ledger;

fn event(row: &AnyRow) -> Result<pb::ComplianceEvent, sqlx::Error> {
    let date = |col: &str| -> Result<Option<kokeilu_proto::common::Date>, sqlx::Error> {
        let s: String = row.try_get(col)?;
        Ok(s.parse::<NaiveDate>().ok().map(date_from_naive))
    };
    Ok(pb::ComplianceEvent {
        event_id: row.try_get("event_id")?,
        cursor: row.try_get::<i64, _>("seq")?.to_string(),
        kind: i32::try_from(row.try_get::<i64, _>("kind")?).unwrap_or(0),
        area_id: row.try_get("area_id")?,
        referral_id: row.try_get("referral_id")?,
        client_pseudonym: row.try_get("client_pseudonym")?,
        deadline: i32::try_from(row.try_get::<i64, _>("deadline_kind")?).unwrap_or(0),
        due_date: date("due")?,
        date: date("event_date")?,
        detail: row.try_get("detail")?,
        rule: row.try_get("rule")?,
        detected_at: Some(timestamp_from(from_micros(row.try_get("detected_at")?)?)),
    })
}

/// One month of one area.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MonthRow {
    pub area: String,
    pub month: String,
    pub referrals: u32,
    pub acknowledged: u32,
    pub rejected: u32,
    pub initial_interviews: u32,
    pub late_initial_interviews: u32,
    pub median_days_to_initial_interview: Option<f64>,
}

/// Deadline counts of one kind.
#[derive(Debug, Clone, Default)]
pub struct DeadlineRow {
    pub kind: i64,
    pub open: u32,
    pub met: u32,
    pub missed: u32,
    pub met_late: u32,
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    })
}

impl Ledger {
    /// Compliance events after `cursor`, oldest first, filtered by area and kinds.
    pub async fn events_after(
        &self,
        cursor: i64,
        area: &str,
        kinds: &[i32],
        limit: i64,
    ) -> Result<Vec<pb::ComplianceEvent>, sqlx::Error> {
        let kind_filter = if kinds.is_empty() {
            String::new()
        } else {
            // Only validated enum numbers are formatted into the statement.
            let list = kinds
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            format!(" AND kind IN ({list})")
        };
        let sql = format!(
            "SELECT seq, event_id, kind, area_id, referral_id, client_pseudonym, deadline_kind, due, \
             event_date, detail, rule, detected_at FROM compliance_events \
             WHERE seq > $1 AND ($2 = '' OR area_id = $2){kind_filter} ORDER BY seq LIMIT $3"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cursor)
            .bind(area)
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(event)
            .collect()
    }

    pub async fn last_event_seq(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM compliance_events")
            .fetch_one(self.db.pool())
            .await?
            .try_get("n")
    }

    /// Referrals, decisions and initial interviews per area and month of referral.
    pub async fn monthly(&self, area: &str) -> Result<Vec<MonthRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT c.area_id, c.referral_date, c.job_search_start, c.acknowledged_on, c.rejected_on, \
             c.initial_interview_on, \
             (SELECT COUNT(*) FROM deadlines d WHERE d.referral_id = c.referral_id AND d.kind = 2 \
              AND d.status IN (3, 4)) AS late \
             FROM cases c WHERE ($1 = '' OR c.area_id = $1)",
        )
        .bind(area)
        .fetch_all(self.db.pool())
        .await?;
        let mut months: BTreeMap<(String, String), (MonthRow, Vec<i64>)> = BTreeMap::new();
        for r in rows {
            let area: String = r.try_get("area_id")?;
            let referral_date: String = r.try_get("referral_date")?;
            let month = referral_date.get(..7).unwrap_or_default().to_owned();
            let entry = months
                .entry((area.clone(), month.clone()))
                .or_insert_with(|| {
                    (
                        MonthRow {
                            area,
                            month,
                            ..Default::default()
                        },
                        Vec::new(),
                    )
                });
            entry.0.referrals += 1;
            if r.try_get::<Option<String>, _>("acknowledged_on")?.is_some() {
                entry.0.acknowledged += 1;
            }
            if r.try_get::<Option<String>, _>("rejected_on")?.is_some() {
                entry.0.rejected += 1;
            }
            if let Some(held) = r.try_get::<Option<String>, _>("initial_interview_on")? {
                entry.0.initial_interviews += 1;
                let start: String = r.try_get("job_search_start")?;
                if let (Ok(h), Ok(s)) = (held.parse::<NaiveDate>(), start.parse::<NaiveDate>()) {
                    entry.1.push((h - s).num_days());
                }
            }
            if r.try_get::<i64, _>("late")? > 0 {
                entry.0.late_initial_interviews += 1;
            }
        }
        Ok(months
            .into_values()
            .map(|(mut row, days)| {
                row.median_days_to_initial_interview = median(days);
                row
            })
            .collect())
    }

    /// Deadlines of an area by kind and state.
    pub async fn deadline_counts(&self, area: &str) -> Result<Vec<DeadlineRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT kind, status, COUNT(*) AS n FROM deadlines WHERE area_id = $1 GROUP BY kind, status ORDER BY kind",
        )
        .bind(area)
        .fetch_all(self.db.pool())
        .await?;
        let mut by_kind: BTreeMap<i64, DeadlineRow> = BTreeMap::new();
        for r in rows {
            let kind: i64 = r.try_get("kind")?;
            let n = u32::try_from(r.try_get::<i64, _>("n")?).unwrap_or(u32::MAX);
            let e = by_kind.entry(kind).or_insert_with(|| DeadlineRow {
                kind,
                ..Default::default()
            });
            match r.try_get::<i64, _>("status")? {
                1 => e.open += n,
                2 => e.met += n,
                3 => e.missed += n,
                4 => e.met_late += n,
                _ => {}
            }
        }
        Ok(by_kind.into_values().collect())
    }

    /// Referrals per municipality and month within one area (the lead municipality's report).
    pub async fn by_municipality(
        &self,
        area: &str,
    ) -> Result<Vec<(String, String, u32, u32)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT municipality_code, referral_date, acknowledged_on FROM cases WHERE area_id = $1",
        )
        .bind(area)
        .fetch_all(self.db.pool())
        .await?;
        let mut out: BTreeMap<(String, String), (u32, u32)> = BTreeMap::new();
        for r in rows {
            let date: String = r.try_get("referral_date")?;
            let e = out
                .entry((
                    r.try_get("municipality_code")?,
                    date.get(..7).unwrap_or_default().to_owned(),
                ))
                .or_default();
            e.0 += 1;
            if r.try_get::<Option<String>, _>("acknowledged_on")?.is_some() {
                e.1 += 1;
            }
        }
        Ok(out
            .into_iter()
            .map(|((m, month), (n, a))| (m, month, n, a))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(super::median(vec![]), None);
        assert_eq!(super::median(vec![5, 1, 3]), Some(3.0));
        assert_eq!(super::median(vec![4, 1, 3, 2]), Some(2.5));
    }
}
