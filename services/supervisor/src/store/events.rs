//! The compliance-event feed: events in commit order of their sequence numbers.

use chrono::{DateTime, Utc};
use kokeilu_bus::Tx;

use kokeilu_bus::stored::{code, date, instant, micros};

use super::Store;
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
        detected_at: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        self.feed.lock(&self.db, tx).await?;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO compliance_events (event_id, kind, area_id, referral_id, client_pseudonym, \
             deadline_kind, due, event_date, detail, rule, detected_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq",
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
        .fetch_one(&mut **tx)
        .await?;
        Ok(seq)
    }

    /// Compliance events after `cursor`, oldest first, of an area (all when empty) and of
    /// `kinds` (all when empty).
    pub async fn events_after(
        &self,
        cursor: i64,
        area: &str,
        kinds: &[ComplianceKind],
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
        let sql = format!(
            "SELECT seq, event_id, kind, area_id, referral_id, client_pseudonym, deadline_kind, \
             due, event_date, detail, rule, detected_at FROM compliance_events \
             WHERE seq > $1 AND ($2 = '' OR area_id = $2){kind_filter} ORDER BY seq LIMIT $3"
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
