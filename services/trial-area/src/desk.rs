//! The area's use cases, one transaction each: receiving a referral, acknowledging the client,
//! rejecting the referral. Every answer to the TE office goes through the outbox and carries the
//! referral's trace context, so the referral stays one trace end to end.

use chrono::{DateTime, Utc};
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{Outbox, Tx};
use kokeilu_platform::SharedClock;
use kokeilu_proto::referral::{ReferralAcknowledged, ReferralReceived, ReferralRejected};
use kokeilu_proto::supervision::FactKind;
use kokeilu_proto::{Payload, subjects, timestamp_from};

use crate::domain::{
    self, AreaMismatch, IncomingReferral, IncomingStatus, Rejection, Step, check_area,
};
use crate::error::Error;
use crate::store::Store;
use kokeilu_platform::identity::Identity;

/// The area's referral use cases.
#[derive(Clone)]
pub struct Desk {
    pub area: String,
    pub store: Store,
    pub outbox: Outbox,
    pub clock: SharedClock,
}

impl Desk {
    pub fn new(area: String, store: Store, outbox: Outbox, clock: SharedClock) -> Self {
        Self {
            area,
            store,
            outbox,
            clock,
        }
    }

    /// Wakes the feed's readers after a commit that changed it.
    pub fn feed_changed(&self) {
        self.store.feed().notify();
    }

    /// Refuses a caller whose certificate does not act for this area, and a request naming
    /// another area; either is logged as a security event (who and which field, no content).
    pub fn check_area(&self, caller: &Identity, requested: &str) -> Result<(), Error> {
        check_area(caller.area(), requested, &self.area).map_err(|mismatch| {
            let reason = match mismatch {
                AreaMismatch::NotThisArea => "certificate does not act for this trial area",
                AreaMismatch::Other => "area_id names an area the certificate does not act for",
            };
            kokeilu_platform::authz::security_event(
                Some(caller),
                "/kokeilu.trialarea.v1.TrialAreaService",
                reason,
            );
            Error::WrongArea
        })
    }

    async fn send<P: Payload>(
        &self,
        tx: &mut Tx,
        row: &IncomingReferral,
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
    pub async fn receive(&self, tx: &mut Tx, row: &IncomingReferral) -> Result<bool, sqlx::Error> {
        if !self.store.insert_referral(tx, row).await? {
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
    pub async fn acknowledge(&self, referral_id: &str) -> Result<IncomingReferral, Error> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let current = self
            .store
            .referral_for_update(&mut tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        let decided = match domain::acknowledge(&current, now)? {
            Step::Repeat => {
                tx.rollback().await?;
                return Ok(current);
            }
            Step::Apply(decided) => decided,
        };
        self.store.save_decision(&mut tx, &decided).await?;
        let ack = ReferralAcknowledged {
            referral_id: referral_id.to_owned(),
            area_id: self.area.clone(),
            received_at: Some(timestamp_from(decided.received_at)),
            acknowledged_at: Some(timestamp_from(now)),
            acknowledges_message_id: decided.issued_message_id.clone(),
        };
        self.send(
            &mut tx,
            &decided,
            subjects::referral_acknowledged(&self.area),
            &ack,
            now,
        )
        .await?;
        let fact = self.fact(
            &decided,
            FactKind::ReferralAcknowledged,
            self.clock.today(),
            now,
        );
        self.report(&mut tx, &decided, &fact, now).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.feed_changed();
        tracing::info!(referral_id, "client acknowledged");
        Ok(decided)
    }

    /// Rejects the referral. Rejecting again with the same reason returns the first rejection.
    pub async fn reject(
        &self,
        referral_id: &str,
        rejection: Rejection,
    ) -> Result<IncomingReferral, Error> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let current = self
            .store
            .referral_for_update(&mut tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        let decided = match domain::reject(&current, &rejection, now)? {
            Step::Repeat => {
                tx.rollback().await?;
                return Ok(current);
            }
            Step::Apply(decided) => decided,
        };
        self.store.save_decision(&mut tx, &decided).await?;
        let msg = ReferralRejected {
            referral_id: referral_id.to_owned(),
            area_id: self.area.clone(),
            reason: rejection.reason as i32,
            detail: rejection.detail.clone(),
            rejected_at: Some(timestamp_from(now)),
            rejects_message_id: decided.issued_message_id.clone(),
        };
        self.send(
            &mut tx,
            &decided,
            subjects::referral_rejected(&self.area),
            &msg,
            now,
        )
        .await?;
        let mut fact = self.fact(
            &decided,
            FactKind::ReferralRejected,
            self.clock.today(),
            now,
        );
        fact.rejection_reason = format!("{:?}", rejection.reason);
        self.report(&mut tx, &decided, &fact, now).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.feed_changed();
        tracing::info!(referral_id, reason = ?rejection.reason, "referral rejected");
        Ok(decided)
    }

    /// One referral.
    pub async fn referral(&self, referral_id: &str) -> Result<IncomingReferral, Error> {
        self.store
            .referral(referral_id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// A page of referrals, oldest received first, after the keyset `after`.
    pub async fn list(
        &self,
        status: Option<IncomingStatus>,
        limit: i64,
        after: Option<(DateTime<Utc>, String)>,
    ) -> Result<Vec<IncomingReferral>, Error> {
        Ok(self.store.list_referrals(status, limit, after).await?)
    }

    /// Changes after `cursor`, oldest first, each carrying its own cursor.
    pub async fn changes_after(
        &self,
        cursor: i64,
        limit: i64,
    ) -> Result<Vec<IncomingReferral>, Error> {
        Ok(self.store.feed_after(cursor, limit).await?)
    }

    /// The cursor of the newest change ("now").
    pub async fn last_cursor(&self) -> Result<i64, Error> {
        Ok(self.store.last_feed_seq().await?)
    }
}
