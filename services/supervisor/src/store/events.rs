//! The compliance-event feed: events in commit order of their sequence numbers.

use chrono::{DateTime, Utc};
use kokeilu_bus::Tx;

use kokeilu_bus::stored::{code, date, instant, micros};

use super::{Store, count};
use crate::domain::{ComplianceEvent, ComplianceKind, Draft};

/// Serialises the writers of the compliance-event feed (see `Db::lock_feed`).
pub(super) const FEED_LOCK: i64 = 0x5a_7e_0a_1e;

/// `deadline_kind` of an event about no deadline, and `due` of an event without a due date.
const NO_DEADLINE: i64 = 0;
const NO_DATE: &str = "";

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    event_id: String,
    kind: i64,
    area_id: String,
    referral_id: String,
    client_pseudonym: String,
    deadline_kind: i64,
    due: String,
    event_date: String,
    detail: String,
    rule: String,
    detected_at: i64,
    municipality_code: String,
    retracts_event_id: String,
    /// A boolean as 0/1 (the Any driver reads no SQLite booleans).
    retracted: i64,
}

impl TryFrom<EventRow> for ComplianceEvent {
    type Error = sqlx::Error;
    fn try_from(r: EventRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            seq: r.seq,
            event_id: r.event_id,
            kind: code("compliance_events.kind", r.kind)?,
            area: r.area_id,
            referral_id: r.referral_id,
            pseudonym: r.client_pseudonym,
            deadline: match r.deadline_kind {
                NO_DEADLINE => None,
                k => Some(code("compliance_events.deadline_kind", k)?),
            },
            due: match r.due.as_str() {
                NO_DATE => None,
                d => Some(date("compliance_events.due", d)?),
            },
            date: date("compliance_events.event_date", &r.event_date)?,
            detail: r.detail,
            rule: r.rule,
            detected_at: instant("compliance_events.detected_at", r.detected_at)?,
            municipality: r.municipality_code,
            retracts_event_id: r.retracts_event_id,
            retracted: r.retracted != 0,
        })
    }
}

impl Store {
    /// Stores a compliance event in `tx`, holding the feed lock until `tx` ends; returns its
    /// sequence number (the feed cursor).
    pub async fn insert_event(
        &self,
        tx: &mut Tx,
        event_id: &str,
        d: &Draft,
        retracts_event_id: &str,
        detected_at: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        self.feed.lock(&self.db, tx).await?;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO compliance_events (event_id, kind, area_id, referral_id, client_pseudonym, \
             deadline_kind, due, event_date, detail, rule, detected_at, municipality_code, \
             deadline_id, retracts_event_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING seq",
        )
        .bind(event_id)
        .bind(i64::from(d.kind))
        .bind(&d.area)
        .bind(&d.referral_id)
        .bind(&d.pseudonym)
        .bind(d.deadline.map_or(NO_DEADLINE, i64::from))
        .bind(d.due.map_or_else(|| NO_DATE.to_owned(), |x| x.to_string()))
        .bind(d.date.to_string())
        .bind(&d.detail)
        .bind(&d.rule)
        .bind(micros(detected_at))
        .bind(&d.municipality)
        .bind(d.deadline_id)
        .bind(retracts_event_id)
        .fetch_one(&mut **tx)
        .await?;
        Ok(seq)
    }

    /// Marks the standing miss published for a deadline as retracted; returns its event id
    /// (`None` when no standing miss of it is stored).
    pub async fn retract_miss(
        &self,
        tx: &mut Tx,
        deadline_id: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT event_id FROM compliance_events WHERE deadline_id = $1 AND kind = $2 \
             AND NOT retracted ORDER BY seq LIMIT 1",
        )
        .bind(deadline_id)
        .bind(i64::from(ComplianceKind::DeadlineMissed))
        .fetch_optional(&mut **tx)
        .await?;
        let Some((event_id,)) = found else {
            return Ok(None);
        };
        sqlx::query("UPDATE compliance_events SET retracted = TRUE WHERE event_id = $1")
            .bind(&event_id)
            .execute(&mut **tx)
            .await?;
        Ok(Some(event_id))
    }

    /// Compliance events of an area per municipality: (municipality, standing, retracted).
    /// Retractions themselves are neither.
    pub async fn event_counts(&self, area: &str) -> Result<Vec<(String, u32, u32)>, sqlx::Error> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT municipality_code, \
             SUM(CASE WHEN retracted THEN 0 ELSE 1 END) AS standing, \
             SUM(CASE WHEN retracted THEN 1 ELSE 0 END) AS withdrawn \
             FROM compliance_events WHERE area_id = $1 AND kind <> $2 \
             GROUP BY municipality_code ORDER BY municipality_code",
        )
        .bind(area)
        .bind(i64::from(ComplianceKind::Retraction))
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter()
            .map(|(m, standing, withdrawn)| {
                Ok((
                    m,
                    count("standing", standing)?,
                    count("retracted", withdrawn)?,
                ))
            })
            .collect()
    }

    /// Compliance events after `cursor`, oldest first, of an area (all when empty) and of
    /// `kinds` (all when empty); `standing_only`: without retracted events and retractions.
    pub async fn events_after(
        &self,
        cursor: i64,
        area: &str,
        kinds: &[ComplianceKind],
        standing_only: bool,
        limit: i64,
    ) -> Result<Vec<ComplianceEvent>, sqlx::Error> {
        let kind_filter = if kinds.is_empty() {
            String::new()
        } else {
            // Placeholders only; the kinds are bound as values.
            let list = (0..kinds.len())
                .map(|i| format!("${}", i + 4))
                .collect::<Vec<_>>()
                .join(", ");
            format!(" AND kind IN ({list})")
        };
        let standing = if standing_only {
            // A constant, not input.
            format!(
                " AND NOT retracted AND kind <> {}",
                i64::from(ComplianceKind::Retraction)
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT seq, event_id, kind, area_id, referral_id, client_pseudonym, deadline_kind, \
             due, event_date, detail, rule, detected_at, municipality_code, retracts_event_id, \
             CAST(CASE WHEN retracted THEN 1 ELSE 0 END AS BIGINT) AS retracted \
             FROM compliance_events \
             WHERE seq > $1 AND ($2 = '' OR area_id = $2){kind_filter}{standing} \
             ORDER BY seq LIMIT $3"
        );
        let mut query = sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
            .bind(cursor)
            .bind(area)
            .bind(limit);
        for k in kinds {
            query = query.bind(i64::from(*k));
        }
        query
            .fetch_all(self.db.pool())
            .await?
            .into_iter()
            .map(ComplianceEvent::try_from)
            .collect()
    }

    /// The newest event's sequence number (0 when there is none).
    pub async fn last_event_seq(&self) -> Result<i64, sqlx::Error> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(seq), 0) AS n FROM compliance_events")
                .fetch_one(self.db.pool())
                .await?;
        Ok(n)
    }
}
