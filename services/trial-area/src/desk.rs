//! The area's use cases, one transaction each: receiving a referral, acknowledging the client,
//! rejecting the referral. Every answer to the TE office goes through the outbox and carries the
//! referral's trace context, so the referral stays one trace end to end.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{Outbox, Tx};
use kokeilu_platform::SharedClock;
use kokeilu_platform::privacy::Pseudonymizer;
use kokeilu_proto::referral::{ReferralAcknowledged, ReferralReceived, ReferralRejected};
use kokeilu_proto::supervision::FactKind;
use kokeilu_proto::{Payload, subjects, timestamp_from};
use tokio::sync::watch;

use crate::db::{IncomingRow, Repository};
use crate::domain::{IncomingStatus, Rejection, check_area};
use crate::error::Error;

/// The area's referral use cases.
#[derive(Clone)]
pub struct Desk {
    pub area: String,
    pub repo: Repository,
    pub outbox: Outbox,
    pub clock: SharedClock,
    pub pseudonyms: Pseudonymizer,
    /// Bumped after every commit that changed the feed.
    pub feed: Arc<watch::Sender<u64>>,
}

impl Desk {
    pub fn new(
        area: String,
        repo: Repository,
        outbox: Outbox,
        clock: SharedClock,
        pseudonyms: Pseudonymizer,
    ) -> Self {
        Self {
            area,
            repo,
            outbox,
            clock,
            pseudonyms,
            feed: Arc::new(watch::channel(0).0),
        }
    }

    pub fn feed_changed(&self) {
        self.feed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Rejects requests that name another area (or none).
    pub fn check_area(&self, requested: &str) -> Result<(), Error> {
        check_area(requested, &self.area).map_err(|requested| Error::WrongArea {
            requested,
            own: self.area.clone(),
        })
    }

    async fn send<P: Payload>(
        &self,
        tx: &mut Tx,
        row: &IncomingRow,
        subject: String,
        payload: &P,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let env = seal(
            envelope::trial_area(&self.area),
            envelope::te_office(),
            &row.referral_id,
            Some(&row.issued_message_id),
            payload,
            now,
        );
        let mut msg = OutgoingMessage::new(subject, env);
        if !row.trace_context.is_empty() {
            msg.trace_context = Some(row.trace_context.clone());
        }
        outbox::enqueue(tx, &msg, now).await
    }

    /// Stores a referral the TE office sent and confirms receipt; `false` if already stored.
    pub async fn receive(&self, tx: &mut Tx, row: &IncomingRow) -> Result<bool, sqlx::Error> {
        if !self.repo.insert(tx, row).await? {
            return Ok(false);
        }
        let receipt = ReferralReceived {
            referral_id: row.referral_id.clone(),
            area_id: self.area.clone(),
            received_at: Some(timestamp_from(row.received_at)),
        };
        self.send(
            tx,
            row,
            subjects::referral_received(&self.area),
            &receipt,
            row.received_at,
        )
        .await?;
        Ok(true)
    }

    /// Takes the client on. Acknowledging again returns the first acknowledgement.
    pub async fn acknowledge(&self, referral_id: &str) -> Result<IncomingRow, Error> {
        let now = self.clock.now();
        let mut tx = self.repo.db().begin().await?;
        let row = self
            .repo
            .for_update(&mut tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        match row.status {
            IncomingStatus::Acknowledged => {
                tx.rollback().await?;
                return Ok(row);
            }
            IncomingStatus::Rejected => {
                return Err(Error::AlreadyDecided { status: "rejected" });
            }
            IncomingStatus::Received => {}
        }
        self.repo
            .decide(
                &mut tx,
                referral_id,
                IncomingStatus::Acknowledged,
                now,
                0,
                "",
            )
            .await?;
        let ack = ReferralAcknowledged {
            referral_id: referral_id.to_owned(),
            area_id: self.area.clone(),
            received_at: Some(timestamp_from(row.received_at)),
            acknowledged_at: Some(timestamp_from(now)),
            acknowledges_message_id: row.issued_message_id.clone(),
        };
        self.send(
            &mut tx,
            &row,
            subjects::referral_acknowledged(&self.area),
            &ack,
            now,
        )
        .await?;
        let fact = self.fact(
            &row,
            FactKind::ReferralAcknowledged,
            self.clock.today(),
            now,
        );
        self.report(&mut tx, &row, &fact, now).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.feed_changed();
        tracing::info!(referral_id, "client acknowledged");
        Ok(IncomingRow {
            status: IncomingStatus::Acknowledged,
            decided_at: Some(now),
            ..row
        })
    }

    /// Rejects the referral. Rejecting again with the same reason returns the first rejection.
    pub async fn reject(
        &self,
        referral_id: &str,
        rejection: Rejection,
    ) -> Result<IncomingRow, Error> {
        let now = self.clock.now();
        let mut tx = self.repo.db().begin().await?;
        let row = self
            .repo
            .for_update(&mut tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        match row.status {
            IncomingStatus::Rejected if row.rejection_reason == rejection.reason as i32 => {
                tx.rollback().await?;
                return Ok(row);
            }
            IncomingStatus::Rejected => return Err(Error::AlreadyDecided { status: "rejected" }),
            IncomingStatus::Acknowledged => {
                return Err(Error::AlreadyDecided {
                    status: "acknowledged",
                });
            }
            IncomingStatus::Received => {}
        }
        self.repo
            .decide(
                &mut tx,
                referral_id,
                IncomingStatus::Rejected,
                now,
                rejection.reason as i32,
                &rejection.detail,
            )
            .await?;
        let msg = ReferralRejected {
            referral_id: referral_id.to_owned(),
            area_id: self.area.clone(),
            reason: rejection.reason as i32,
            detail: rejection.detail.clone(),
            rejected_at: Some(timestamp_from(now)),
            rejects_message_id: row.issued_message_id.clone(),
        };
        self.send(
            &mut tx,
            &row,
            subjects::referral_rejected(&self.area),
            &msg,
            now,
        )
        .await?;
        let mut fact = self.fact(&row, FactKind::ReferralRejected, self.clock.today(), now);
        fact.rejection_reason = format!("{:?}", rejection.reason);
        self.report(&mut tx, &row, &fact, now).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.feed_changed();
        tracing::info!(referral_id, reason = ?rejection.reason, "referral rejected");
        Ok(IncomingRow {
            status: IncomingStatus::Rejected,
            decided_at: Some(now),
            rejection_reason: rejection.reason as i32,
            rejection_detail: rejection.detail,
            ..row
        })
    }
}
