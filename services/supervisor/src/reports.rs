//! Reading the ledger: the compliance-event feed, area summaries, and monthly statistics.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{ComplianceEvent, ComplianceKind, DeadlineKind, DeadlineStatus};
use crate::ledger::Ledger;

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
#[derive(Debug, Clone)]
pub struct DeadlineRow {
    pub kind: DeadlineKind,
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
        kinds: &[ComplianceKind],
        limit: i64,
    ) -> Result<Vec<ComplianceEvent>, sqlx::Error> {
        self.store.events_after(cursor, area, kinds, limit).await
    }

    pub async fn last_event_seq(&self) -> Result<i64, sqlx::Error> {
        self.store.last_event_seq().await
    }

    /// Referrals, decisions and initial interviews per area and month of referral.
    pub async fn monthly(&self, area: &str) -> Result<Vec<MonthRow>, sqlx::Error> {
        let mut months: BTreeMap<(String, String), (MonthRow, Vec<i64>)> = BTreeMap::new();
        for c in self.store.case_summaries(area).await? {
            let month = c.referral_date.format("%Y-%m").to_string();
            let entry = months
                .entry((c.area.clone(), month.clone()))
                .or_insert_with(|| {
                    (
                        MonthRow {
                            area: c.area.clone(),
                            month,
                            ..Default::default()
                        },
                        Vec::new(),
                    )
                });
            entry.0.referrals += 1;
            if c.acknowledged_on.is_some() {
                entry.0.acknowledged += 1;
            }
            if c.rejected_on.is_some() {
                entry.0.rejected += 1;
            }
            if let Some(held) = c.initial_interview_on {
                entry.0.initial_interviews += 1;
                entry.1.push((held - c.job_search_start).num_days());
            }
            if c.late_initial_interview {
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

    /// Deadlines of an area by kind and state (cancelled ones are not counted).
    pub async fn deadline_counts(&self, area: &str) -> Result<Vec<DeadlineRow>, sqlx::Error> {
        let mut by_kind: BTreeMap<DeadlineKind, DeadlineRow> = BTreeMap::new();
        for c in self.store.deadline_counts(area).await? {
            let e = by_kind.entry(c.kind).or_insert_with(|| DeadlineRow {
                kind: c.kind,
                open: 0,
                met: 0,
                missed: 0,
                met_late: 0,
            });
            match c.status {
                DeadlineStatus::Open => e.open += c.count,
                DeadlineStatus::Met => e.met += c.count,
                DeadlineStatus::Missed => e.missed += c.count,
                DeadlineStatus::MetLate => e.met_late += c.count,
                DeadlineStatus::Cancelled => {}
            }
        }
        Ok(by_kind.into_values().collect())
    }

    /// Referrals and acknowledgements per municipality and month within one area (the lead
    /// municipality's report): `(municipality code, month, referrals, acknowledged)`.
    pub async fn by_municipality(
        &self,
        area: &str,
    ) -> Result<Vec<(String, String, u32, u32)>, sqlx::Error> {
        let mut out: BTreeMap<(String, String), (u32, u32)> = BTreeMap::new();
        for c in self.store.case_summaries(area).await? {
            let e = out
                .entry((
                    c.municipality_code,
                    c.referral_date.format("%Y-%m").to_string(),
                ))
                .or_default();
            e.0 += 1;
            if c.acknowledged_on.is_some() {
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
