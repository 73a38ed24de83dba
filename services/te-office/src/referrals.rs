//! The referral desk: the TE office's use cases, each one transaction.
//!
//! Submitting stores the referral, its first history entry and the outgoing `ReferralIssued`
//! together; the relay publishes after commit. Answers from areas move the status forward and
//! never back (a late "received" after an acknowledgement only adds to the history).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{Outbox, Tx};
use kokeilu_platform::SharedClock;
use kokeilu_platform::privacy::Pseudonymizer;
use kokeilu_proto::referral::ReferralIssued;
use kokeilu_proto::{date_from_naive, subjects, timestamp_from};
use kokeilu_rules::registry::Registry;
use tokio::sync::watch;

use crate::db::{ReferralRow, Repository};
use crate::domain::{NewReferral, Status, decide};
use crate::error::Error;

/// What SubmitReferral answers.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub referral: ReferralRow,
    pub replayed: bool,
}

/// The TE office's referral use cases.
#[derive(Clone)]
pub struct Desk {
    pub repo: Repository,
    pub outbox: Outbox,
    pub clock: SharedClock,
    pub registry: &'static Registry,
    pub pseudonyms: Pseudonymizer,
    /// Bumped after every commit that appended to the status feed.
    pub feed: Arc<watch::Sender<u64>>,
}

impl Desk {
    pub fn new(
        repo: Repository,
        outbox: Outbox,
        clock: SharedClock,
        pseudonyms: Pseudonymizer,
    ) -> Self {
        Self {
            repo,
            outbox,
            clock,
            registry: Registry::builtin(),
            pseudonyms,
            feed: Arc::new(watch::channel(0).0),
        }
    }

    pub fn feed_changed(&self) {
        self.feed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Decides and stores a referral, or returns the earlier result for the same key.
    pub async fn submit(&self, req: NewReferral) -> Result<Submitted, Error> {
        let now = self.clock.now();
        let today = self.clock.today();
        let fingerprint = req.fingerprint();
        let mut tx = self.repo.db().begin().await?;
        if let Some(existing) = self
            .repo
            .by_idempotency_key(&mut tx, &req.idempotency_key)
            .await?
        {
            tx.rollback().await?;
            return replay(existing, &fingerprint);
        }
        let routed = decide(self.registry, &req, today).map_err(Error::NotReferable)?;
        let area = routed.area;
        if let Some(since) = self.suspension(&mut tx, &area, today).await? {
            tx.rollback().await?;
            return Err(Error::Suspended { area, since });
        }
        if let Some(live) = self
            .repo
            .live_for_person(&mut tx, req.hetu.expose())
            .await?
        {
            tx.rollback().await?;
            return Err(Error::AlreadyReferred(live.referral_id));
        }
        let referral_id = uuid::Uuid::now_v7().to_string();
        let payload = ReferralIssued {
            referral_id: referral_id.clone(),
            area_id: area.clone(),
            henkilotunnus: req.hetu.expose().to_owned(),
            home_municipality_code: req.home_municipality_code.clone(),
            grounds: routed.grounds.iter().map(|g| *g as i32).collect(),
            job_search_start_date: Some(date_from_naive(req.job_search_start)),
            issued_at: Some(timestamp_from(now)),
            referral_date: Some(date_from_naive(today)),
        };
        let env = seal(
            envelope::te_office(),
            envelope::trial_area(&area),
            &referral_id,
            None,
            &payload,
            now,
        );
        let row = ReferralRow {
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
        };
        let stored = async {
            self.repo.insert(&mut tx, &row).await?;
            self.repo
                .append_event(&mut tx, &referral_id, &area, Status::Issued, now, "")
                .await?;
            outbox::enqueue(
                &mut tx,
                &OutgoingMessage::new(subjects::referral_issued(&area), env),
                now,
            )
            .await?;
            self.report_issued(&mut tx, &row, now).await?;
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
        let mut tx = self.repo.db().begin().await?;
        let by_key = self
            .repo
            .by_idempotency_key(&mut tx, &req.idempotency_key)
            .await?;
        let live = self
            .repo
            .live_for_person(&mut tx, req.hetu.expose())
            .await?;
        tx.rollback().await?;
        match (by_key, live) {
            (Some(existing), _) => replay(existing, fingerprint),
            (None, Some(live)) => Err(Error::AlreadyReferred(live.referral_id)),
            (None, None) => Err(Error::Database(sqlx::Error::RowNotFound)),
        }
    }

    /// Applies an area's answer; `Ok(false)` when nothing changed.
    pub async fn record_answer(
        &self,
        tx: &mut Tx,
        row: &ReferralRow,
        status: Status,
        at: DateTime<Utc>,
        rejection_reason: i32,
        detail: &str,
    ) -> Result<bool, sqlx::Error> {
        let now = self.clock.now();
        match status {
            Status::Delivered if row.status == Status::Issued => {
                self.repo
                    .set_status(tx, &row.referral_id, status, 0, now)
                    .await?;
            }
            Status::Delivered => {
                if self.repo.has_event(tx, &row.referral_id, status).await? {
                    return Ok(false);
                }
            }
            Status::Acknowledged | Status::Rejected if row.status.is_open() => {
                self.repo
                    .set_status(tx, &row.referral_id, status, rejection_reason, now)
                    .await?;
            }
            _ => return Ok(false),
        }
        self.repo
            .append_event(tx, &row.referral_id, &row.area_id, status, at, detail)
            .await?;
        Ok(true)
    }
}

fn replay(existing: ReferralRow, fingerprint: &str) -> Result<Submitted, Error> {
    if existing.request_hash != fingerprint {
        return Err(Error::KeyReused);
    }
    Ok(Submitted {
        referral: existing,
        replayed: true,
    })
}

async fn commit(tx: Tx) -> Result<(), sqlx::Error> {
    tx.commit().await
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
