//! Reading the ledger: the compliance-event feed, area summaries, monthly statistics, and the
//! open statistics as published.
//!
//! The open statistics are published per closed month: a month appears only after it has ended
//! (by the service's clock), and its figures are computed once, when it is first published, and
//! stored (`published_statistics`). Later facts about that month do not change what was
//! published, so comparing the statistics at two times cannot single out the people whose facts
//! arrived in between. Each month is protected by [`crate::suppression`] before it is stored.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::domain::{CaseSummary, ComplianceEvent, ComplianceKind, DeadlineKind, DeadlineStatus};
use crate::ledger::Ledger;
use crate::suppression::{SUPPRESS_BELOW, Table};

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

/// One member municipality's figures in its area's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MunicipalityRow {
    pub code: String,
    pub name: String,
    pub referrals: u32,
    pub acknowledged: u32,
    pub rejected: u32,
    pub initial_interviews: u32,
    pub late_initial_interviews: u32,
    /// Compliance events about its clients that stand (not retracted).
    pub standing_events: u32,
}

impl MunicipalityRow {
    fn new(code: &str) -> Self {
        Self {
            code: code.to_owned(),
            name: kokeilu_rules::registry::Registry::builtin()
                .municipality(code)
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            ..Self::default()
        }
    }
}

/// An area's report by municipality: the lead municipality collects its members' figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AreaMunicipalities {
    /// The lead municipality's code (empty when the registry names none).
    pub lead: String,
    pub rows: Vec<MunicipalityRow>,
    /// Compliance events of the area that stand, and those a correction retracted (the
    /// corrections themselves are neither).
    pub standing_events: u32,
    pub retracted_events: u32,
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
    /// Compliance events after `cursor`, oldest first, filtered by area and kinds;
    /// `standing_only` leaves out retracted events and the retractions.
    pub async fn events_after(
        &self,
        cursor: i64,
        area: &str,
        kinds: &[ComplianceKind],
        standing_only: bool,
        limit: i64,
    ) -> Result<Vec<ComplianceEvent>, sqlx::Error> {
        self.store
            .events_after(cursor, area, kinds, standing_only, limit)
            .await
    }

    /// The figures of each member municipality of an area (its members in the registry, then
    /// any other municipality its cases name), with the area's standing and retracted event
    /// counts.
    pub async fn municipalities(&self, area: &str) -> Result<AreaMunicipalities, sqlx::Error> {
        let registry = kokeilu_rules::registry::Registry::builtin();
        let mut rows: BTreeMap<String, MunicipalityRow> = BTreeMap::new();
        let mut order = Vec::new();
        let member = registry.current_area(area);
        for code in member.map(|a| a.municipalities.clone()).unwrap_or_default() {
            order.push(code.clone());
            rows.insert(code.clone(), MunicipalityRow::new(&code));
        }
        fn row<'a>(
            rows: &'a mut BTreeMap<String, MunicipalityRow>,
            order: &mut Vec<String>,
            code: &str,
        ) -> &'a mut MunicipalityRow {
            if !rows.contains_key(code) {
                order.push(code.to_owned());
            }
            rows.entry(code.to_owned())
                .or_insert_with(|| MunicipalityRow::new(code))
        }
        for c in self.store.case_summaries(area).await? {
            let r = row(&mut rows, &mut order, &c.municipality_code);
            r.referrals += 1;
            r.acknowledged += u32::from(c.acknowledged_on.is_some());
            r.rejected += u32::from(c.rejected_on.is_some());
            r.initial_interviews += u32::from(c.initial_interview_on.is_some());
            r.late_initial_interviews += u32::from(c.late_initial_interview);
        }
        let (mut standing, mut retracted) = (0, 0);
        for (code, s, w) in self.store.event_counts(area).await? {
            standing += s;
            retracted += w;
            if !code.is_empty() {
                row(&mut rows, &mut order, &code).standing_events += s;
            }
        }
        Ok(AreaMunicipalities {
            lead: member.and_then(|a| a.lead.clone()).unwrap_or_default(),
            rows: order.iter().filter_map(|c| rows.remove(c)).collect(),
            standing_events: standing,
            retracted_events: retracted,
        })
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
}

/// One area's published figures for one closed month; `None` is a suppressed cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedArea {
    pub area: String,
    pub month: String,
    pub referrals: Option<u32>,
    pub acknowledged: Option<u32>,
    pub rejected: Option<u32>,
    pub initial_interviews: Option<u32>,
    pub late_initial_interviews: Option<u32>,
    pub median_days_to_initial_interview: Option<f64>,
    pub municipalities: Vec<PublishedMunicipality>,
}

/// One municipality's published figures within its area's month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedMunicipality {
    pub municipality_code: String,
    pub referrals: Option<u32>,
    pub acknowledged: Option<u32>,
}

/// The month (`YYYY-MM`) of a date.
fn month_of(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// The figures of one area in one month, protected: primary and secondary suppression over the
/// relations `referrals = acknowledged + rejected + undecided`, `referrals = Σ municipalities'
/// referrals`, `acknowledged = Σ municipalities' acknowledged`, `referrals = acknowledged + not
/// acknowledged`, `not acknowledged = Σ municipalities' not acknowledged` and, per municipality,
/// `referrals = acknowledged + not acknowledged` (the undecided and the not acknowledged are
/// never published, but an outsider can bound them, so they take part).
pub fn protect_area(month: &str, area: &str, cases: &[&CaseSummary]) -> PublishedArea {
    let mut row = MonthRow {
        area: area.to_owned(),
        month: month.to_owned(),
        ..Default::default()
    };
    let mut days = Vec::new();
    let mut by_municipality: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for c in cases {
        row.referrals += 1;
        let m = by_municipality.entry(&c.municipality_code).or_default();
        m.0 += 1;
        if c.acknowledged_on.is_some() {
            row.acknowledged += 1;
            m.1 += 1;
        }
        if c.rejected_on.is_some() {
            row.rejected += 1;
        }
        if let Some(held) = c.initial_interview_on {
            row.initial_interviews += 1;
            days.push((held - c.job_search_start).num_days());
        }
        if c.late_initial_interview {
            row.late_initial_interviews += 1;
        }
    }
    let mut t = Table::new();
    let referrals = t.cell(row.referrals);
    let acknowledged = t.cell(row.acknowledged);
    let rejected = t.cell(row.rejected);
    let undecided = t.unpublished(
        row.referrals
            .saturating_sub(row.acknowledged)
            .saturating_sub(row.rejected),
    );
    let interviews = t.cell(row.initial_interviews);
    let late = t.cell(row.late_initial_interviews);
    // A referral is either acknowledged or rejected, never both; the relation holds only then.
    let decisions_add_up = row.acknowledged + row.rejected <= row.referrals;
    if decisions_add_up {
        t.group(referrals, vec![acknowledged, rejected, undecided]);
    }
    // The municipalities × {acknowledged, not} table with both margins: the area's referrals
    // and acknowledged are published, its not-acknowledged follow from them.
    let not_acknowledged = t.unpublished(row.referrals - row.acknowledged);
    t.group(referrals, vec![acknowledged, not_acknowledged]);
    let mut cells = Vec::new();
    let mut nots = Vec::new();
    for (code, (n, acked)) in &by_municipality {
        let r = t.cell(*n);
        let a = t.cell(*acked);
        let not = t.unpublished(n - acked);
        t.group(r, vec![a, not]);
        cells.push((*code, r, a));
        nots.push(not);
    }
    t.group(referrals, cells.iter().map(|(_, r, _)| *r).collect());
    t.group(acknowledged, cells.iter().map(|(_, _, a)| *a).collect());
    t.group(not_acknowledged, nots);
    t.protect();
    let median_shown = t.shown(interviews).is_some_and(|n| n >= SUPPRESS_BELOW);
    PublishedArea {
        area: area.to_owned(),
        month: month.to_owned(),
        referrals: t.shown(referrals),
        acknowledged: t.shown(acknowledged),
        rejected: t.shown(rejected),
        initial_interviews: t.shown(interviews),
        late_initial_interviews: t.shown(late),
        median_days_to_initial_interview: if median_shown { median(days) } else { None },
        municipalities: cells
            .into_iter()
            .map(|(code, r, a)| PublishedMunicipality {
                municipality_code: code.to_owned(),
                referrals: t.shown(r),
                acknowledged: t.shown(a),
            })
            .collect(),
    }
}

/// Every area's protected figures for `month`.
pub fn protect_month(month: &str, cases: &[CaseSummary]) -> Vec<PublishedArea> {
    let mut areas: BTreeMap<&str, Vec<&CaseSummary>> = BTreeMap::new();
    for c in cases.iter().filter(|c| month_of(c.referral_date) == month) {
        areas.entry(&c.area).or_default().push(c);
    }
    areas
        .into_iter()
        .map(|(area, cases)| protect_area(month, area, &cases))
        .collect()
}

/// The newest closed month on `today`: the month before today's.
pub fn last_closed_month(today: NaiveDate) -> String {
    let first = today.with_day(1).unwrap_or(today);
    month_of(first.pred_opt().unwrap_or(first))
}

impl Ledger {
    /// The open statistics: every closed month's published figures, by area and month. A closed
    /// month with referrals that is not yet published is computed, protected and stored first;
    /// a published month is never recomputed.
    pub async fn open_statistics(&self) -> Result<Vec<PublishedArea>, sqlx::Error> {
        let closed = last_closed_month(self.clock.today());
        let published = self.store.published_statistics().await?;
        let due: Vec<String> = self
            .store
            .case_months()
            .await?
            .into_iter()
            .filter(|m| *m <= closed && !published.iter().any(|(p, _)| p == m))
            .collect();
        let published = if due.is_empty() {
            published
        } else {
            let cases = self.store.case_summaries("").await?;
            for month in &due {
                let figures = protect_month(month, &cases);
                let body = serde_json::to_string(&figures)
                    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                if self
                    .store
                    .publish_statistics(month, &body, self.clock.now())
                    .await?
                {
                    tracing::info!(month, "open statistics published");
                }
            }
            self.store.published_statistics().await?
        };
        let mut out = Vec::new();
        for (month, body) in published {
            let figures: Vec<PublishedArea> = serde_json::from_str(&body)
                .map_err(|e| kokeilu_bus::stored::corrupt("published_statistics.body", e))?;
            debug_assert!(figures.iter().all(|f| f.month == month));
            out.extend(figures);
        }
        out.sort_by(|a, b| (&a.area, &a.month).cmp(&(&b.area, &b.month)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn closed_months_end_before_todays() {
        let d = |s: &str| s.parse().unwrap();
        assert_eq!(super::last_closed_month(d("2024-10-01")), "2024-09");
        assert_eq!(super::last_closed_month(d("2024-09-30")), "2024-08");
        assert_eq!(super::last_closed_month(d("2025-01-15")), "2024-12");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(super::median(vec![]), None);
        assert_eq!(super::median(vec![5, 1, 3]), Some(3.0));
        assert_eq!(super::median(vec![4, 1, 3, 2]), Some(2.5));
    }
}
