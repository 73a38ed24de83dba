//! AVI's ledger: applies service facts to cases and deadlines, detects compliance events, and
//! sweeps for deadlines that passed unmet. Each fact and each sweep step is one transaction in
//! which the state change, the stored event (the subscription feed) and the published event
//! (outbox) commit together, so an event is neither lost nor raised twice.

use std::sync::Arc;

use chrono::NaiveDate;
use kokeilu_bus::db::micros;
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{Backend, Db, Outbox, Tx};
use kokeilu_platform::SharedClock;
use kokeilu_proto::supervision::{self as pb, FactKind, ServiceFact};
use kokeilu_proto::{date_from_naive, date_to_naive, subjects, timestamp_from};
use kokeilu_rules::competence::{Issuer, StatementSubject, competence};
use kokeilu_rules::deadlines;
use kokeilu_rules::registry::Registry;
use sqlx::Row;
use tokio::sync::watch;

use crate::domain::{
    ComplianceKind, DeadlineKind, DeadlineStatus, NewDeadline, half_yearly, is_overdue, meet,
    next_regular, on_initial_interview, on_referral,
};

const FEED_LOCK: i64 = 0x5a_7e_0a_1e;

/// A compliance event about to be stored and published.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: ComplianceKind,
    pub area: String,
    pub referral_id: String,
    pub pseudonym: String,
    pub deadline: Option<DeadlineKind>,
    pub due: Option<NaiveDate>,
    pub date: NaiveDate,
    pub detail: String,
    pub rule: String,
}

/// Why a fact cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum FactError {
    #[error("fact about unknown referral {0}")]
    UnknownReferral(String),
    #[error("unusable fact: {0}")]
    Unusable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The supervision ledger of one AVI deployment.
#[derive(Clone)]
pub struct Ledger {
    pub db: Db,
    pub outbox: Outbox,
    pub clock: SharedClock,
    pub ack_working_days: u32,
    /// Bumped after every commit that added compliance events.
    pub feed: Arc<watch::Sender<u64>>,
}

struct Case {
    area: String,
    pseudonym: String,
    job_search_start: NaiveDate,
}

fn date_of(fact: &ServiceFact) -> Result<NaiveDate, FactError> {
    fact.date
        .as_ref()
        .and_then(date_to_naive)
        .ok_or_else(|| FactError::Unusable("fact without a date".into()))
}

impl Ledger {
    pub fn new(db: Db, outbox: Outbox, clock: SharedClock, ack_working_days: u32) -> Self {
        Self {
            db,
            outbox,
            clock,
            ack_working_days,
            feed: Arc::new(watch::channel(0).0),
        }
    }

    pub fn feed_changed(&self) {
        self.feed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Stores and publishes a compliance event in `tx`.
    pub async fn raise(&self, tx: &mut Tx, d: Draft) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let event_id = uuid::Uuid::now_v7().to_string();
        self.db.lock_feed(tx, FEED_LOCK).await?;
        let row = sqlx::query(
            "INSERT INTO compliance_events (event_id, kind, area_id, referral_id, client_pseudonym, \
             deadline_kind, due, event_date, detail, rule, detected_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq",
        )
        .bind(&event_id)
        .bind(d.kind as i64)
        .bind(&d.area)
        .bind(&d.referral_id)
        .bind(&d.pseudonym)
        .bind(d.deadline.map_or(0, |k| k as i64))
        .bind(d.due.map(|x| x.to_string()).unwrap_or_default())
        .bind(d.date.to_string())
        .bind(&d.detail)
        .bind(&d.rule)
        .bind(micros(now))
        .fetch_one(&mut **tx)
        .await?;
        let seq: i64 = row.try_get("seq")?;
        let event = pb::ComplianceEvent {
            event_id,
            cursor: seq.to_string(),
            kind: d.kind as i32,
            area_id: d.area.clone(),
            referral_id: d.referral_id.clone(),
            client_pseudonym: d.pseudonym,
            deadline: d.deadline.map_or(0, |k| k as i32),
            due_date: d.due.map(date_from_naive),
            date: Some(date_from_naive(d.date)),
            detail: d.detail,
            rule: d.rule,
            detected_at: Some(timestamp_from(now)),
        };
        let env = seal(
            envelope::supervisor(),
            envelope::supervisor(),
            &d.referral_id,
            None,
            &event,
            now,
        );
        let subject = subjects::compliance(&d.area, d.kind.token());
        outbox::enqueue(tx, &OutgoingMessage::new(subject, env), now).await?;
        tracing::info!(area = %d.area, kind = d.kind.token(), referral_id = %d.referral_id, "compliance event");
        Ok(())
    }

    async fn case(&self, tx: &mut Tx, referral_id: &str) -> Result<Case, FactError> {
        let row = sqlx::query(
            "SELECT area_id, client_pseudonym, job_search_start FROM cases WHERE referral_id = $1",
        )
        .bind(referral_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| FactError::UnknownReferral(referral_id.to_owned()))?;
        let start: String = row.try_get("job_search_start")?;
        Ok(Case {
            area: row.try_get("area_id")?,
            pseudonym: row.try_get("client_pseudonym")?,
            job_search_start: start
                .parse()
                .map_err(|_| FactError::Unusable("stored date".into()))?,
        })
    }

    async fn open(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        case: &Case,
        d: &NewDeadline,
        status: DeadlineStatus,
        met_on: Option<NaiveDate>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO deadlines (referral_id, area_id, client_pseudonym, kind, due, required, \
             done, status, met_on, rule, opens) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(referral_id)
        .bind(&case.area)
        .bind(&case.pseudonym)
        .bind(d.kind as i64)
        .bind(d.due.to_string())
        .bind(d.required)
        .bind(if met_on.is_some() { d.required } else { 0 })
        .bind(status as i64)
        .bind(met_on.map(|x| x.to_string()))
        .bind(&d.rule)
        .bind(d.opens.map(|x| x.to_string()))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Counts one event towards the open (or missed) deadlines of `kind`; a deadline whose
    /// required count is reached is met, on time or late. A deadline met after its due date
    /// whose miss was not reported yet gets both events, in order.
    async fn progress(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        case: &Case,
        kind: DeadlineKind,
        on: NaiveDate,
    ) -> Result<(), sqlx::Error> {
        let lock = match self.db.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let sql = format!(
            "SELECT id, due, required, done, status, rule FROM deadlines WHERE referral_id = $1 \
             AND kind = $2 AND status IN (1, 3) AND (opens IS NULL OR opens <= $3) \
             ORDER BY due{lock}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(referral_id)
            .bind(kind as i64)
            .bind(on.to_string())
            .fetch_all(&mut **tx)
            .await?;
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let due: NaiveDate = row.try_get::<String, _>("due")?.parse().unwrap_or(on);
            let required: i64 = row.try_get("required")?;
            let done: i64 = row.try_get::<i64, _>("done")? + 1;
            let status = if row.try_get::<i64, _>("status")? == 3 {
                DeadlineStatus::Missed
            } else {
                DeadlineStatus::Open
            };
            let rule: String = row.try_get("rule")?;
            if done < required {
                sqlx::query("UPDATE deadlines SET done = $1 WHERE id = $2")
                    .bind(done)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                continue;
            }
            let new_status = meet(status, due, on);
            sqlx::query("UPDATE deadlines SET done = $1, status = $2, met_on = $3 WHERE id = $4")
                .bind(done)
                .bind(new_status as i64)
                .bind(on.to_string())
                .bind(id)
                .execute(&mut **tx)
                .await?;
            if kind == DeadlineKind::HalfYearlyDiscussions && status == DeadlineStatus::Open {
                // Met (on time or late) without a reported miss: the next 6 months begin.
                self.open_next_half_year(tx, referral_id, case).await?;
            }
            if new_status == DeadlineStatus::MetLate {
                if status == DeadlineStatus::Open {
                    let missed = self.deadline_draft(
                        ComplianceKind::DeadlineMissed,
                        referral_id,
                        case,
                        kind,
                        due,
                        due,
                        &rule,
                    );
                    self.raise(tx, missed).await?;
                }
                let late = self.deadline_draft(
                    ComplianceKind::DeadlineMetLate,
                    referral_id,
                    case,
                    kind,
                    due,
                    on,
                    &rule,
                );
                self.raise(tx, late).await?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn deadline_draft(
        &self,
        kind: ComplianceKind,
        referral_id: &str,
        case: &Case,
        deadline: DeadlineKind,
        due: NaiveDate,
        date: NaiveDate,
        rule: &str,
    ) -> Draft {
        let detail = match kind {
            ComplianceKind::DeadlineMissed => format!("{} due {due} not met", deadline.name()),
            _ => format!("{} due {due} met on {date}", deadline.name()),
        };
        Draft {
            kind,
            area: case.area.clone(),
            referral_id: referral_id.to_owned(),
            pseudonym: case.pseudonym.clone(),
            deadline: Some(deadline),
            due: Some(due),
            date,
            detail,
            rule: rule.to_owned(),
        }
    }

    /// Opens the half-yearly discussions of the next 6-month period, if the law requires them.
    async fn open_next_half_year(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        case: &Case,
    ) -> Result<(), sqlx::Error> {
        let opened: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM deadlines WHERE referral_id = $1 AND kind = $2")
                .bind(referral_id)
                .bind(DeadlineKind::HalfYearlyDiscussions as i64)
                .fetch_one(&mut **tx)
                .await?
                .try_get("n")?;
        let period = u32::try_from(opened + 1).unwrap_or(u32::MAX);
        if let Some(next) = half_yearly(case.job_search_start, period) {
            self.open(tx, referral_id, case, &next, DeadlineStatus::Open, None)
                .await?;
        }
        Ok(())
    }

    /// Closes the open deadlines of a referral that the area is no longer answerable for: all of
    /// them (a rejection), or those due on or after `from` (a transfer: what fell due while the
    /// client was the area's stays open, and the sweep reports it if unmet).
    async fn cancel_open(
        &self,
        tx: &mut Tx,
        referral_id: &str,
        from: Option<NaiveDate>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE deadlines SET status = $1 WHERE referral_id = $2 AND status = 1 AND due >= $3",
        )
        .bind(DeadlineStatus::Cancelled as i64)
        .bind(referral_id)
        .bind(from.map(|d| d.to_string()).unwrap_or_default())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Applies one service fact in `tx`.
    pub async fn apply(&self, tx: &mut Tx, fact: &ServiceFact) -> Result<(), FactError> {
        let on = date_of(fact)?;
        let id = fact.referral_id.as_str();
        let kind = FactKind::try_from(fact.kind)
            .map_err(|_| FactError::Unusable("unknown fact kind".into()))?;
        if kind == FactKind::ReferralIssued {
            return self.referral_issued(tx, fact, on).await;
        }
        let case = self.case(tx, id).await?;
        if case.area != fact.area_id {
            return Err(FactError::Unusable(format!(
                "fact from area {} about a referral of area {}",
                fact.area_id, case.area
            )));
        }
        match kind {
            FactKind::ReferralAcknowledged => {
                sqlx::query("UPDATE cases SET acknowledged_on = $1 WHERE referral_id = $2")
                    .bind(on.to_string())
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                self.progress(tx, id, &case, DeadlineKind::Acknowledgement, on)
                    .await?;
            }
            FactKind::ReferralRejected => {
                sqlx::query("UPDATE cases SET rejected_on = $1 WHERE referral_id = $2")
                    .bind(on.to_string())
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                self.progress(tx, id, &case, DeadlineKind::Acknowledgement, on)
                    .await?;
                self.cancel_open(tx, id, None).await?;
            }
            FactKind::InitialInterviewHeld => {
                sqlx::query(
                    "UPDATE cases SET initial_interview_on = COALESCE(initial_interview_on, $1) WHERE referral_id = $2",
                )
                .bind(on.to_string())
                .bind(id)
                .execute(&mut **tx)
                .await?;
                self.progress(tx, id, &case, DeadlineKind::InitialInterview, on)
                    .await?;
                for d in on_initial_interview(case.job_search_start, on) {
                    self.open(tx, id, &case, &d, DeadlineStatus::Open, None)
                        .await?;
                }
            }
            FactKind::JobSearchDiscussionHeld => {
                self.progress(tx, id, &case, DeadlineKind::IntensiveDiscussions, on)
                    .await?;
                self.progress(tx, id, &case, DeadlineKind::HalfYearlyDiscussions, on)
                    .await?;
                self.progress(tx, id, &case, DeadlineKind::RegularDiscussion, on)
                    .await?;
                let next = next_regular(case.job_search_start, on);
                self.open(tx, id, &case, &next, DeadlineStatus::Open, None)
                    .await?;
            }
            FactKind::StatementIssued => self.statement(tx, fact, &case, on).await?,
            FactKind::ClientTransferred => self.cancel_open(tx, id, Some(on)).await?,
            FactKind::EmploymentPlanMade | FactKind::Unspecified | FactKind::ReferralIssued => {}
        }
        Ok(())
    }

    async fn referral_issued(
        &self,
        tx: &mut Tx,
        fact: &ServiceFact,
        on: NaiveDate,
    ) -> Result<(), FactError> {
        let start = fact
            .job_search_start_date
            .as_ref()
            .and_then(date_to_naive)
            .ok_or_else(|| FactError::Unusable("referral without a job-search start".into()))?;
        let inserted = sqlx::query(
            "INSERT INTO cases (referral_id, area_id, client_pseudonym, municipality_code, \
             referral_date, job_search_start, grounds, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (referral_id) DO NOTHING",
        )
        .bind(&fact.referral_id)
        .bind(&fact.area_id)
        .bind(&fact.client_pseudonym)
        .bind(&fact.municipality_code)
        .bind(on.to_string())
        .bind(start.to_string())
        .bind(fact.grounds.join(","))
        .bind(micros(self.clock.now()))
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(());
        }
        let case = Case {
            area: fact.area_id.clone(),
            pseudonym: fact.client_pseudonym.clone(),
            job_search_start: start,
        };
        for d in on_referral(on, start, self.ack_working_days) {
            self.open(tx, &fact.referral_id, &case, &d, DeadlineStatus::Open, None)
                .await?;
        }
        let competent = Registry::builtin().area_for_municipality(&fact.municipality_code, on);
        if competent.is_none_or(|a| a.slug != fact.area_id) {
            let detail = match competent {
                Some(a) => format!(
                    "municipality {} belongs to area {} on {on}, not {}",
                    fact.municipality_code, a.slug, fact.area_id
                ),
                None => format!(
                    "municipality {} is in no trial area on {on}",
                    fact.municipality_code
                ),
            };
            let draft = Draft {
                kind: ComplianceKind::WrongArea,
                area: fact.area_id.clone(),
                referral_id: fact.referral_id.clone(),
                pseudonym: fact.client_pseudonym.clone(),
                deadline: None,
                due: None,
                date: on,
                detail,
                rule: "1269/2020 5 § 1 mom (home municipality decides)".into(),
            };
            self.raise(tx, draft).await?;
        }
        Ok(())
    }

    async fn statement(
        &self,
        tx: &mut Tx,
        fact: &ServiceFact,
        case: &Case,
        on: NaiveDate,
    ) -> Result<(), FactError> {
        let id = fact.referral_id.as_str();
        let subject: StatementSubject =
            serde_json::from_value(serde_json::Value::String(fact.statement_subject.clone()))
                .map_err(|_| {
                    FactError::Unusable(format!(
                        "unknown statement subject {:?}",
                        fact.statement_subject
                    ))
                })?;
        let c = competence(subject, on);
        if c.issuer != Issuer::Municipality {
            let draft = Draft {
                kind: ComplianceKind::StatementOutsideCompetence,
                area: case.area.clone(),
                referral_id: id.to_owned(),
                pseudonym: case.pseudonym.clone(),
                deadline: None,
                due: None,
                date: on,
                detail: format!(
                    "statement on {} issued by the area; competent: {:?}",
                    fact.statement_subject, c.issuer
                ),
                rule: c.rule.law.to_owned(),
            };
            self.raise(tx, draft).await?;
        }
        let received = fact
            .information_received_date
            .as_ref()
            .and_then(date_to_naive)
            .ok_or_else(|| FactError::Unusable("statement without the information date".into()))?;
        let due = deadlines::statement(received);
        let d = NewDeadline {
            kind: DeadlineKind::Statement,
            due: due.due,
            required: 1,
            rule: due.rule.law.to_owned(),
            opens: None,
        };
        let status = meet(DeadlineStatus::Open, d.due, on);
        self.open(tx, id, case, &d, status, Some(on)).await?;
        if status == DeadlineStatus::MetLate {
            let late = self.deadline_draft(
                ComplianceKind::DeadlineMetLate,
                id,
                case,
                DeadlineKind::Statement,
                d.due,
                on,
                &d.rule,
            );
            self.raise(tx, late).await?;
        }
        Ok(())
    }

    /// Marks every open deadline whose last day has passed on `today` as missed, raising one
    /// event each. Returns how many were missed. Safe to run concurrently: each deadline changes
    /// state once.
    pub async fn sweep(&self, today: NaiveDate) -> Result<usize, sqlx::Error> {
        let mut missed = 0;
        // In pages of 1000, until a page changes nothing more.
        loop {
            let page = self.sweep_page(today).await?;
            missed += page;
            if page == 0 {
                break;
            }
        }
        if missed > 0 {
            self.outbox.wake();
            self.feed_changed();
        }
        Ok(missed)
    }

    async fn sweep_page(&self, today: NaiveDate) -> Result<usize, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT d.id, d.referral_id, d.kind, d.due, d.rule, d.area_id, d.client_pseudonym, \
             c.job_search_start FROM deadlines d JOIN cases c ON c.referral_id = d.referral_id \
             WHERE d.status = 1 AND d.due < $1 ORDER BY d.due, d.id LIMIT 1000",
        )
        .bind(today.to_string())
        .fetch_all(self.db.pool())
        .await?;
        let mut missed = 0;
        for row in rows {
            let due: NaiveDate = row.try_get::<String, _>("due")?.parse().unwrap_or(today);
            if !is_overdue(due, today) {
                continue;
            }
            let Some(kind) = DeadlineKind::from_i64(row.try_get("kind")?) else {
                continue;
            };
            let id: i64 = row.try_get("id")?;
            let referral_id: String = row.try_get("referral_id")?;
            let case = Case {
                area: row.try_get("area_id")?,
                pseudonym: row.try_get("client_pseudonym")?,
                job_search_start: row
                    .try_get::<String, _>("job_search_start")?
                    .parse()
                    .unwrap_or(today),
            };
            let rule: String = row.try_get("rule")?;
            let mut tx = self.db.begin().await?;
            let changed =
                sqlx::query("UPDATE deadlines SET status = 3 WHERE id = $1 AND status = 1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            if changed.rows_affected() == 1 {
                let draft = self.deadline_draft(
                    ComplianceKind::DeadlineMissed,
                    &referral_id,
                    &case,
                    kind,
                    due,
                    today,
                    &rule,
                );
                self.raise(&mut tx, draft).await?;
                if kind == DeadlineKind::HalfYearlyDiscussions {
                    self.open_next_half_year(&mut tx, &referral_id, &case)
                        .await?;
                }
                missed += 1;
            }
            tx.commit().await?;
        }
        Ok(missed)
    }
}
