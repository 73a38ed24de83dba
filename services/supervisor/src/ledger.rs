//! AVI's ledger: applies service facts to cases and deadlines, detects compliance events, and
//! sweeps for deadlines that passed unmet. Each fact and each sweep step is one transaction in
//! which the state change, the stored event (the subscription feed) and the published event
//! (outbox) commit together, so an event is neither lost nor raised twice.
//!
//! Each step loads through the [`Store`], asks [`crate::domain`] for the whole decision, and
//! writes it through the store ([`Ledger::write`]).

use std::time::Instant;

use chrono::NaiveDate;
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{Db, Outbox, Tx};
use kokeilu_platform::SharedClock;
use kokeilu_proto::supervision::{FactKind, ServiceFact};
use kokeilu_proto::{date_to_naive, subjects};
use kokeilu_rules::registry::Registry;

use crate::domain::{
    Case, ComplianceEvent, DeadlineKind, Decision, Draft, Fact, Referral, decide_fact,
    decide_missed, decide_referral,
};
use crate::store::Store;

/// Open deadlines the sweep handles per page.
const SWEEP_PAGE: i64 = 1000;

/// Why a fact cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum FactError {
    #[error("fact about unknown referral {0}")]
    UnknownReferral(String),
    #[error("unusable fact: {0}")]
    Unusable(String),
    /// An area reported about a referral of another area: a security event.
    #[error("{0}")]
    NotYours(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The supervision ledger of one AVI deployment.
#[derive(Clone)]
pub struct Ledger {
    pub store: Store,
    pub outbox: Outbox,
    pub clock: SharedClock,
    pub ack_working_days: u32,
}

fn date_of(fact: &ServiceFact) -> Result<NaiveDate, FactError> {
    fact.date
        .as_ref()
        .and_then(date_to_naive)
        .ok_or_else(|| FactError::Unusable("fact without a date".into()))
}

/// The domain's view of a fact about an existing case.
fn fact_of(kind: FactKind, fact: &ServiceFact) -> Fact {
    match kind {
        FactKind::ReferralAcknowledged => Fact::Acknowledged,
        FactKind::ReferralRejected => Fact::Rejected,
        FactKind::InitialInterviewHeld => Fact::InitialInterviewHeld,
        FactKind::JobSearchDiscussionHeld => Fact::JobSearchDiscussionHeld,
        FactKind::StatementIssued => Fact::StatementIssued {
            subject: fact.statement_subject.clone(),
            information_received: fact
                .information_received_date
                .as_ref()
                .and_then(date_to_naive),
        },
        FactKind::ClientTransferred => Fact::Transferred,
        FactKind::EmploymentPlanMade
        | FactKind::Unspecified
        | FactKind::ReferralIssued
        | FactKind::ReferralReceived => Fact::Other,
    }
}

impl Ledger {
    pub fn new(db: Db, outbox: Outbox, clock: SharedClock, ack_working_days: u32) -> Self {
        Self {
            store: Store::new(db),
            outbox,
            clock,
            ack_working_days,
        }
    }

    /// Wakes the event feed's readers after a commit that added events.
    pub fn feed_changed(&self) {
        self.store.feed().notify();
    }

    /// Stores and publishes a compliance event in `tx`.
    async fn raise(&self, tx: &mut Tx, d: Draft) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let event_id = uuid::Uuid::now_v7().to_string();
        let seq = self.store.insert_event(tx, &event_id, &d, now).await?;
        let event = ComplianceEvent {
            seq,
            event_id,
            kind: d.kind,
            area: d.area,
            referral_id: d.referral_id,
            pseudonym: d.pseudonym,
            deadline: d.deadline,
            due: d.due,
            date: d.date,
            detail: d.detail,
            rule: d.rule,
            detected_at: now,
        };
        let env = seal(
            envelope::supervisor(),
            envelope::supervisor(),
            &event.referral_id,
            None,
            &crate::grpc::compliance_event(&event),
            now,
        );
        let subject = subjects::compliance(&event.area, event.kind.token());
        outbox::enqueue(tx, &OutgoingMessage::new(subject, env), now).await?;
        metrics::counter!(
            "kokeilu_compliance_events_total",
            "kind" => event.kind.token(),
            "area" => event.area.clone(),
        )
        .increment(1);
        tracing::info!(area = %event.area, kind = event.kind.token(), referral_id = %event.referral_id, "compliance event");
        Ok(())
    }

    /// Writes a decision about `case` in `tx`.
    async fn write(&self, tx: &mut Tx, case: &Case, d: Decision) -> Result<(), sqlx::Error> {
        let id = case.referral_id.as_str();
        if let Some(update) = d.case {
            self.store.update_case(tx, id, update).await?;
        }
        for change in d.changes {
            self.store.change_deadline(tx, change).await?;
        }
        for opening in &d.opens {
            self.store.open_deadline(tx, case, opening).await?;
        }
        if let Some(which) = d.cancel {
            self.store.cancel_open(tx, id, which).await?;
        }
        for event in d.events {
            self.raise(tx, event).await?;
        }
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
        let case = self
            .store
            .case(tx, id)
            .await?
            .ok_or_else(|| FactError::UnknownReferral(id.to_owned()))?;
        crate::domain::trust::check_case_area(id, &case.area, &fact.area_id)
            .map_err(FactError::NotYours)?;
        let fact = fact_of(kind, fact);
        let mut deadlines = Vec::new();
        for &k in fact.progresses() {
            deadlines.extend(self.store.deadlines_to_progress(tx, id, k, on).await?);
        }
        let half_yearly = if fact
            .progresses()
            .contains(&DeadlineKind::HalfYearlyDiscussions)
        {
            self.store
                .count_deadlines(tx, id, DeadlineKind::HalfYearlyDiscussions)
                .await?
        } else {
            0
        };
        let decision =
            decide_fact(&fact, on, &case, &deadlines, half_yearly).map_err(FactError::Unusable)?;
        self.write(tx, &case, decision).await?;
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
        let referral = Referral {
            referral_id: fact.referral_id.clone(),
            area: fact.area_id.clone(),
            pseudonym: fact.client_pseudonym.clone(),
            municipality_code: fact.municipality_code.clone(),
            date: on,
            job_search_start: start,
            grounds: fact.grounds.clone(),
        };
        if !self
            .store
            .insert_case(tx, &referral, self.clock.now())
            .await?
        {
            return Ok(());
        }
        let decision = decide_referral(&referral, self.ack_working_days, Registry::builtin());
        self.write(tx, &referral.case(), decision).await?;
        Ok(())
    }

    /// Marks every open deadline whose last day has passed on `today` as missed, raising one
    /// event each. Returns how many were missed. Safe to run concurrently: each deadline changes
    /// state once. A stored deadline that does not decode fails the sweep.
    pub async fn sweep(&self, today: NaiveDate) -> Result<usize, sqlx::Error> {
        let started = Instant::now();
        let result = self.sweep_pages(today).await;
        metrics::counter!("kokeilu_deadline_sweeps_total").increment(1);
        metrics::histogram!("kokeilu_deadline_sweep_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn sweep_pages(&self, today: NaiveDate) -> Result<usize, sqlx::Error> {
        let mut missed = 0;
        // In pages, until a page changes nothing more.
        let result = loop {
            match self.sweep_page(today).await {
                Ok(0) => break Ok(missed),
                Ok(page) => missed += page,
                Err(e) => break Err(e),
            }
        };
        if missed > 0 {
            self.outbox.wake();
            self.feed_changed();
        }
        result
    }

    async fn sweep_page(&self, today: NaiveDate) -> Result<usize, sqlx::Error> {
        let mut missed = 0;
        for overdue in self.store.overdue(today, SWEEP_PAGE).await? {
            let mut tx = self.store.begin().await?;
            if self.store.mark_missed(&mut tx, overdue.deadline.id).await? {
                let half_yearly = if overdue.deadline.kind == DeadlineKind::HalfYearlyDiscussions {
                    self.store
                        .count_deadlines(
                            &mut tx,
                            &overdue.case.referral_id,
                            DeadlineKind::HalfYearlyDiscussions,
                        )
                        .await?
                } else {
                    0
                };
                let decision = decide_missed(&overdue, today, half_yearly);
                self.write(&mut tx, &overdue.case, decision).await?;
                missed += 1;
            }
            tx.commit().await?;
        }
        Ok(missed)
    }
}
