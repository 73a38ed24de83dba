//! The referral desk: the TE office's use cases, each one transaction.
//!
//! Submitting stores the referral, its first history entry and the outgoing `ReferralIssued`
//! together; the relay publishes after commit. Answers from areas move the status forward and
//! never back (a late "received" after an acknowledgement only adds to the history).

use chrono::{DateTime, Utc};
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{Outbox, Tx};
use kokeilu_platform::SharedClock;
use kokeilu_platform::privacy::Pseudonymizer;
use kokeilu_proto::referral::ReferralIssued;
use kokeilu_proto::{date_from_naive, subjects, timestamp_from};
use kokeilu_rules::registry::Registry;

use crate::domain::{
    AnswerOutcome, EmploymentPlan, NewReferral, Referral, ReferralFilter, Status, StatusChange,
    answer_outcome, covering, decide,
};
use crate::error::Error;
use crate::store::Store;

/// What SubmitReferral answers.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub referral: Referral,
    pub replayed: bool,
}

/// The TE office's referral use cases.
#[derive(Clone)]
pub struct Desk {
    pub store: Store,
    pub outbox: Outbox,
    pub clock: SharedClock,
    pub registry: &'static Registry,
    pub pseudonyms: Pseudonymizer,
}

impl Desk {
    pub fn new(
        store: Store,
        outbox: Outbox,
        clock: SharedClock,
        pseudonyms: Pseudonymizer,
    ) -> Self {
        Self {
            store,
            outbox,
            clock,
            registry: Registry::builtin(),
            pseudonyms,
        }
    }

    /// Wakes the status feed's readers after a commit that appended to it.
    pub fn feed_changed(&self) {
        self.store.feed().notify();
    }

    /// Decides and stores a referral, or returns the earlier result for the same key.
    pub async fn submit(&self, req: NewReferral) -> Result<Submitted, Error> {
        let now = self.clock.now();
        let today = self.clock.today();
        let fingerprint = req.fingerprint();
        let mut tx = self.store.begin().await?;
        if let Some(existing) = self
            .store
            .by_idempotency_key(&mut tx, &req.idempotency_key)
            .await?
        {
            tx.rollback().await?;
            return replay(existing, &fingerprint);
        }
        let routed = decide(self.registry, &req, today).map_err(Error::NotReferable)?;
        let area = routed.area.clone();
        let suspensions = self.store.suspensions_of(&mut tx, &area, today).await?;
        if let Some(s) = covering(&suspensions, today, &routed) {
            tx.rollback().await?;
            return Err(Error::Suspended {
                area,
                action_id: s.action_id.clone(),
                since: s.effective_from,
                partial: s.partial,
            });
        }
        if let Some(live) = self
            .store
            .live_for_person(&mut tx, req.hetu.expose())
            .await?
        {
            tx.rollback().await?;
            return Err(Error::AlreadyReferred(live.referral_id));
        }
        let referral_id = uuid::Uuid::now_v7().to_string();
        // The pseudonym travels with the referral: the area names the client by it to AVI and
        // never holds the key.
        let pseudonym = self.pseudonyms.pseudonym(req.hetu.expose());
        let payload = ReferralIssued {
            referral_id: referral_id.clone(),
            area_id: area.clone(),
            henkilotunnus: req.hetu.expose().to_owned(),
            home_municipality_code: req.home_municipality_code.clone(),
            grounds: routed.grounds.iter().map(|g| *g as i32).collect(),
            job_search_start_date: Some(date_from_naive(req.job_search_start)),
            issued_at: Some(timestamp_from(now)),
            referral_date: Some(date_from_naive(today)),
            client_pseudonym: pseudonym.clone(),
            pseudonym_key_id: self.pseudonyms.key_id().to_owned(),
            residence_municipality_code: req.residence_municipality_code.clone(),
            decided_by_residence: routed.by_residence,
            te_office_initial_interview_date: req.initial_interview_date.map(date_from_naive),
            previous_job_search_end_date: req.previous_job_search_end.map(date_from_naive),
            employment_plan: req.employment_plan.as_ref().map(plan_to_wire),
        };
        let env = seal(
            envelope::te_office(),
            envelope::trial_area(&area),
            &referral_id,
            None,
            &payload,
            now,
        );
        let row = Referral {
            referral_id: referral_id.clone(),
            idempotency_key: req.idempotency_key.clone(),
            request_hash: fingerprint.clone(),
            henkilotunnus: req.hetu.expose().to_owned(),
            home_municipality_code: req.home_municipality_code.clone(),
            area_id: area.clone(),
            grounds: routed.grounds.clone(),
            job_search_start: req.job_search_start,
            referral_date: today,
            status: Status::Issued,
            rejection_reason: 0,
            issued_message_id: env.message_id.clone(),
            created_at: now,
            residence_municipality_code: req.residence_municipality_code.clone(),
            decided_by_residence: routed.by_residence,
            initial_interview_date: req.initial_interview_date,
            previous_job_search_end: req.previous_job_search_end,
            employment_plan: req.employment_plan.clone(),
        };
        let stored = async {
            self.store.insert_referral(&mut tx, &row).await?;
            outbox::enqueue(
                &mut tx,
                &OutgoingMessage::new(subjects::referral_issued(&area), env),
                now,
            )
            .await?;
            self.report_issued(&mut tx, &row, &pseudonym, now).await?;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        match stored {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => {
                // A concurrent call with the same key or for the same person won the race.
                drop(tx);
                return self.after_race(&req, &fingerprint).await;
            }
            Err(e) => return Err(e.into()),
        }
        commit(tx).await?;
        self.outbox.wake();
        self.feed_changed();
        tracing::info!(referral_id = %referral_id, area = %area, "referral issued");
        Ok(Submitted {
            referral: row,
            replayed: false,
        })
    }

    async fn after_race(&self, req: &NewReferral, fingerprint: &str) -> Result<Submitted, Error> {
        let mut tx = self.store.begin().await?;
        let by_key = self
            .store
            .by_idempotency_key(&mut tx, &req.idempotency_key)
            .await?;
        let live = self
            .store
            .live_for_person(&mut tx, req.hetu.expose())
            .await?;
        tx.rollback().await?;
        match (by_key, live) {
            (Some(existing), _) => replay(existing, fingerprint),
            (None, Some(live)) => Err(Error::AlreadyReferred(live.referral_id)),
            (None, None) => Err(Error::Database(sqlx::Error::RowNotFound)),
        }
    }

    /// Applies an area's answer to `referral` (loaded with [`Store::for_update`] in `tx`):
    /// decides what it changes, then writes that.
    pub async fn record_answer(
        &self,
        tx: &mut Tx,
        referral: &Referral,
        answer: &Answer,
    ) -> Result<AnswerOutcome, sqlx::Error> {
        let recorded = self
            .store
            .has_change(tx, &referral.referral_id, answer.status)
            .await?;
        let outcome = answer_outcome(referral.status, answer.status, recorded);
        match outcome {
            AnswerOutcome::Advance => {
                let reason = match answer.status {
                    Status::Delivered => 0,
                    _ => answer.rejection_reason,
                };
                self.store
                    .advance(
                        tx,
                        referral,
                        answer.status,
                        reason,
                        answer.at,
                        &answer.detail,
                        self.clock.now(),
                    )
                    .await?;
            }
            AnswerOutcome::RecordOnly => {
                self.store
                    .append_change(
                        tx,
                        &referral.referral_id,
                        &referral.area_id,
                        answer.status,
                        answer.at,
                        &answer.detail,
                    )
                    .await?;
            }
            AnswerOutcome::Unchanged | AnswerOutcome::Conflict => {}
        }
        Ok(outcome)
    }

    /// A referral and its status history.
    pub async fn referral(
        &self,
        referral_id: &str,
    ) -> Result<(Referral, Vec<StatusChange>), Error> {
        let referral = self.store.get(referral_id).await?.ok_or(Error::NotFound)?;
        let history = self.store.history(referral_id).await?;
        Ok((referral, history))
    }

    /// One page of referrals, each with its status history (one query for the page).
    pub async fn list(
        &self,
        filter: &ReferralFilter,
    ) -> Result<Vec<(Referral, Vec<StatusChange>)>, Error> {
        Ok(self.store.list(filter).await?)
    }

    /// Status changes after `cursor` (all areas, or one), oldest first.
    pub async fn changes_after(
        &self,
        cursor: i64,
        area_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StatusChange>, Error> {
        Ok(self.store.changes_after(cursor, area_id, limit).await?)
    }

    /// The newest position of the status feed.
    pub async fn last_change(&self) -> Result<i64, Error> {
        Ok(self.store.last_change_seq().await?)
    }
}

/// An area's answer to a referral, as the consumer decoded it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub referral_id: String,
    pub area_id: String,
    /// Delivered, acknowledged or rejected.
    pub status: Status,
    pub at: DateTime<Utc>,
    pub rejection_reason: i32,
    pub detail: String,
}

fn replay(existing: Referral, fingerprint: &str) -> Result<Submitted, Error> {
    if existing.request_hash != fingerprint {
        return Err(Error::KeyReused);
    }
    Ok(Submitted {
        referral: existing,
        replayed: true,
    })
}

/// The plan as `ReferralIssued` carries it.
pub fn plan_to_wire(p: &EmploymentPlan) -> kokeilu_proto::referral::EmploymentPlan {
    kokeilu_proto::referral::EmploymentPlan {
        plan_id: p.plan_id.clone(),
        kind: p.kind as i32,
        made_on: Some(date_from_naive(p.made_on)),
        next_review_on: p.next_review_on.map(date_from_naive),
    }
}

async fn commit(tx: Tx) -> Result<(), sqlx::Error> {
    tx.commit().await
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
