//! AVI's ledger: applies service facts to cases and deadlines, detects compliance events, and
//! sweeps for deadlines that passed unmet. Each fact and each sweep step is one transaction in
//! which the state change, the stored event (the subscription feed) and the published event
//! (outbox) commit together, so an event is neither lost nor raised twice.
//!
//! Each step loads through the [`Store`], asks [`crate::domain`] for the whole decision, and
//! writes it through the store ([`Ledger::write`]).
//!
//! Facts may arrive in any order. A fact about a referral AVI has not recorded yet, or an area's
//! fact about a referral whose receipt AVI has not seen yet (its deadlines start at receipt,
//! 1269/2020 24 §), is parked and applied, in arrival order, when that arrives. A fact id the
//! reporting party repeats counts once.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{Db, Outbox, Tx};
use kokeilu_platform::SharedClock;
use kokeilu_proto::supervision::{FactKind, ServiceFact};
use kokeilu_proto::{date_to_naive, subjects, timestamp_to};
use kokeilu_rules::registry::Registry;
use prost::Message;

use crate::domain::{
    Case, ComplianceEvent, DeadlineKind, Decision, Draft, Fact, Referral, decide_fact,
    decide_missed, decide_receipt, decide_referral,
};
use crate::store::Store;

/// Open deadlines the sweep handles per page.
const SWEEP_PAGE: i64 = 1000;

/// Why a fact cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum FactError {
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
    /// How long after a due day's end the sweep waits before it reports the deadline missed
    /// (ordinary transport delay of the facts raises nothing).
    pub watermark: chrono::Duration,
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
            watermark: chrono::Duration::zero(),
        }
    }

    /// The same ledger with a sweep watermark.
    pub fn with_watermark(mut self, watermark: chrono::Duration) -> Self {
        self.watermark = watermark;
        self
    }

    /// The day the sweep judges by at `now`: a deadline due before it is missed, that is, when
    /// its due day (in Finland) ended more than the watermark before `now`.
    pub fn sweep_day(&self, now: DateTime<Utc>) -> NaiveDate {
        kokeilu_platform::clock::finnish_date(now - self.watermark)
    }

    /// Wakes the event feed's readers after a commit that added events.
    pub fn feed_changed(&self) {
        self.store.feed().notify();
    }

    /// Stores and publishes a compliance event in `tx`.
    async fn raise(&self, tx: &mut Tx, d: Draft) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let retracts_event_id = match d.retracts_deadline {
            Some(deadline) => match self.store.retract_miss(tx, deadline).await? {
                Some(id) => id,
                // Nothing published to correct (the miss was never raised): no correction.
                None => return Ok(()),
            },
            None => String::new(),
        };
        let event_id = uuid::Uuid::now_v7().to_string();
        let seq = self
            .store
            .insert_event(tx, &event_id, &d, &retracts_event_id, now)
            .await?;
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
            municipality: d.municipality,
            retracts_event_id,
            retracted: false,
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

    /// Applies one service fact in `tx`, or parks it until what it depends on arrives.
    pub async fn apply(&self, tx: &mut Tx, fact: &ServiceFact) -> Result<(), FactError> {
        let on = date_of(fact)?;
        let id = fact.referral_id.as_str();
        let kind = FactKind::try_from(fact.kind)
            .map_err(|_| FactError::Unusable("unknown fact kind".into()))?;
        self.store.lock_referral(tx, id).await?;
        if kind == FactKind::ReferralIssued {
            self.referral_issued(tx, fact, on).await?;
            return self.apply_parked(tx, id).await;
        }
        let Some(case) = self.store.case(tx, id).await? else {
            // The referral's own fact is still on its way: apply this one when it arrives (the
            // area is checked then, against the referral).
            return self.park(tx, fact).await;
        };
        crate::domain::trust::check_case_area(id, &case.area, &fact.area_id)
            .map_err(FactError::NotYours)?;
        if case.awaiting_receipt && kind != FactKind::ReferralReceived {
            return self.park(tx, fact).await;
        }
        self.apply_to(tx, &case, kind, fact, on).await?;
        if kind == FactKind::ReferralReceived {
            self.apply_parked(tx, id).await?;
        }
        Ok(())
    }

    async fn park(&self, tx: &mut Tx, fact: &ServiceFact) -> Result<(), FactError> {
        self.store
            .park_fact(
                tx,
                &fact.referral_id,
                &fact.encode_to_vec(),
                self.clock.now(),
            )
            .await?;
        metrics::counter!("kokeilu_supervisor_parked_facts_total").increment(1);
        tracing::info!(referral_id = %fact.referral_id, "fact parked until its referral or receipt arrives");
        Ok(())
    }

    /// Applies the parked facts of a referral that can be applied now, in arrival order (a
    /// receipt first releases the area's facts that waited for it).
    async fn apply_parked(&self, tx: &mut Tx, referral_id: &str) -> Result<(), FactError> {
        loop {
            let mut applied = false;
            for (seq, payload) in self.store.parked_facts(tx, referral_id).await? {
                let Some(case) = self.store.case(tx, referral_id).await? else {
                    return Ok(());
                };
                let fact = match ServiceFact::decode(payload.as_slice()) {
                    Ok(f) => f,
                    Err(e) => {
                        return Err(FactError::Database(kokeilu_bus::stored::corrupt(
                            "parked_facts.payload",
                            e,
                        )));
                    }
                };
                let kind = FactKind::try_from(fact.kind).unwrap_or(FactKind::Unspecified);
                if case.awaiting_receipt && kind != FactKind::ReferralReceived {
                    continue;
                }
                self.store.unpark_fact(tx, seq).await?;
                applied = true;
                let result = match crate::domain::trust::check_case_area(
                    referral_id,
                    &case.area,
                    &fact.area_id,
                ) {
                    Ok(()) => match date_of(&fact) {
                        Ok(on) => self.apply_to(tx, &case, kind, &fact, on).await,
                        Err(e) => Err(e),
                    },
                    Err(why) => Err(FactError::NotYours(why)),
                };
                match result {
                    Ok(()) => {}
                    // Refused as it would have been had it arrived after the referral; it is
                    // already acknowledged on the bus, so the refusal is logged here.
                    Err(FactError::NotYours(why)) => {
                        metrics::counter!("kokeilu_supervisor_parked_facts_refused_total", "reason" => "security").increment(1);
                        tracing::warn!(security_event = true, reason = %why, "parked fact refused");
                    }
                    Err(FactError::Unusable(why)) => {
                        metrics::counter!("kokeilu_supervisor_parked_facts_refused_total", "reason" => "unusable").increment(1);
                        tracing::warn!(referral_id, reason = %why, "parked fact unusable");
                    }
                    Err(e) => return Err(e),
                }
            }
            if !applied {
                return Ok(());
            }
        }
    }

    /// Applies a fact (not the referral itself) about a known case, once per fact id.
    async fn apply_to(
        &self,
        tx: &mut Tx,
        case: &Case,
        kind: FactKind,
        fact: &ServiceFact,
        on: NaiveDate,
    ) -> Result<(), FactError> {
        let id = case.referral_id.as_str();
        if !fact.fact_id.is_empty()
            && !self
                .store
                .count_fact(
                    tx,
                    &fact.area_id,
                    i64::from(fact.kind),
                    &fact.fact_id,
                    self.clock.now(),
                )
                .await?
        {
            tracing::debug!(referral_id = id, fact_id = %fact.fact_id, "fact already counted");
            return Ok(());
        }
        if kind == FactKind::ReferralReceived {
            return self.receipt(tx, case, fact, on).await;
        }
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
            decide_fact(&fact, on, case, &deadlines, half_yearly).map_err(FactError::Unusable)?;
        self.write(tx, case, decision).await?;
        Ok(())
    }

    /// The area received the referral on `on` (the Finnish date of `received_at`): its
    /// deadlines open (24 §). A case recorded before receipts were reported opened its deadlines
    /// at the referral and only records the receipt; a second receipt changes nothing.
    async fn receipt(
        &self,
        tx: &mut Tx,
        case: &Case,
        fact: &ServiceFact,
        on: NaiveDate,
    ) -> Result<(), FactError> {
        let at = fact
            .received_at
            .as_ref()
            .and_then(timestamp_to)
            .unwrap_or_else(|| self.clock.now());
        if !case.awaiting_receipt {
            self.store
                .record_receipt(tx, &case.referral_id, on, at)
                .await?;
            return Ok(());
        }
        let intake = self.store.intake(tx, &case.referral_id).await?;
        let decision = decide_receipt(&intake, on, at, self.ack_working_days);
        self.write(tx, case, decision).await?;
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
        let optional = |d: &Option<kokeilu_proto::common::Date>| d.as_ref().and_then(date_to_naive);
        let referral = Referral {
            referral_id: fact.referral_id.clone(),
            area: fact.area_id.clone(),
            pseudonym: fact.client_pseudonym.clone(),
            municipality_code: fact.municipality_code.clone(),
            date: on,
            job_search_start: start,
            grounds: fact.grounds.clone(),
            residence_municipality_code: fact.residence_municipality_code.clone(),
            decided_by_residence: fact.decided_by_residence,
            te_interview_on: optional(&fact.te_office_initial_interview_date),
            previous_job_search_end: optional(&fact.previous_job_search_end_date),
            employment_plan_on: optional(&fact.employment_plan_date),
        };
        if !self
            .store
            .insert_case(tx, &referral, self.clock.now())
            .await?
        {
            return Ok(());
        }
        let decision = decide_referral(&referral, Registry::builtin());
        self.write(tx, &referral.case(), decision).await?;
        Ok(())
    }

    /// The sweep as of now by the service clock, behind the watermark ([`Ledger::sweep_day`]).
    pub async fn sweep_now(&self) -> Result<usize, sqlx::Error> {
        self.sweep(self.sweep_day(self.clock.now())).await
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
