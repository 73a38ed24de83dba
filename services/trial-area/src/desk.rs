//! The area's use cases, one transaction each: receiving a referral, acknowledging the client,
//! rejecting the referral. Every answer to the TE office goes through the outbox and carries the
//! referral's trace context, so the referral stays one trace end to end.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::idempotency::{self, Claim};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::stored::corrupt;
use kokeilu_bus::{Outbox, Tx};
use kokeilu_platform::SharedClock;
use kokeilu_proto::referral::{ReferralAcknowledged, ReferralReceived, ReferralRejected};
use kokeilu_proto::supervision::FactKind;
use kokeilu_proto::trialarea as pb;
use kokeilu_proto::{Payload, subjects, timestamp_from};
use prost::Message;

use crate::domain::{
    self, AreaMismatch, IncomingReferral, IncomingStatus, Rejection, Step, check_area,
};
use crate::error::Error;
use crate::store::Store;
use crate::units::Units;
use kokeilu_platform::identity::Identity;

/// The area's referral use cases.
#[derive(Clone)]
pub struct Desk {
    pub area: String,
    pub store: Store,
    pub outbox: Outbox,
    pub clock: SharedClock,
    /// The area's internal units (empty when the area maps none).
    pub units: Arc<Units>,
}

/// One mutating call's idempotency key: the RPC's full method name, the caller's key, and the
/// fingerprint of the request (its encoded bytes). Claimed in the same transaction as the
/// call's effect (`kokeilu_bus::idempotency`).
#[derive(Debug, Clone)]
pub struct Idem {
    method: &'static str,
    key: String,
    fingerprint: String,
}

impl Idem {
    /// The key of `request` to `method`; a missing or unusable key is INVALID_ARGUMENT on
    /// `idempotency_key`.
    pub fn new(method: &'static str, key: &str, request: &impl Message) -> Result<Self, Error> {
        let key =
            idempotency::check_key(key).map_err(|why| Error::field("idempotency_key", why))?;
        Ok(Self {
            method,
            key: key.to_owned(),
            fingerprint: idempotency::fingerprint(&request.encode_to_vec()),
        })
    }
}

/// The full method names keys are scoped by.
pub mod method {
    pub const ACKNOWLEDGE: &str = "/kokeilu.trialarea.v1.TrialAreaService/AcknowledgeClient";
    pub const REJECT: &str = "/kokeilu.trialarea.v1.TrialAreaService/RejectReferral";
    pub const RECORD_SERVICE_EVENT: &str =
        "/kokeilu.trialarea.v1.TrialAreaService/RecordServiceEvent";
    pub const ISSUE_STATEMENT: &str = "/kokeilu.trialarea.v1.TrialAreaService/IssueStatement";
    pub const TRANSFER: &str = "/kokeilu.trialarea.v1.TrialAreaService/TransferClient";
    pub const ANSWER: &str = "/kokeilu.trialarea.v1.TrialAreaService/AnswerInformationRequest";
}

impl Desk {
    pub fn new(area: String, store: Store, outbox: Outbox, clock: SharedClock) -> Self {
        Self {
            area,
            store,
            outbox,
            clock,
            units: Arc::new(Units::default()),
        }
    }

    /// The same desk with the area's internal units.
    pub fn with_units(self, units: Units) -> Self {
        Self {
            units: Arc::new(units),
            ..self
        }
    }

    /// Claims `idem` in `tx`: `None` for a first call (do the work, then [`Desk::complete`]),
    /// the first response for a retry of the same request, `KeyConflict` for another request.
    pub async fn claim<R: Message + Default>(
        &self,
        tx: &mut Tx,
        idem: &Idem,
    ) -> Result<Option<R>, Error> {
        let claim = idempotency::claim(
            tx,
            idem.method,
            &idem.key,
            &idem.fingerprint,
            self.clock.now(),
        )
        .await?;
        match claim {
            Claim::New => Ok(None),
            Claim::Replay(bytes) => R::decode(bytes.as_slice())
                .map(Some)
                .map_err(|e| Error::Database(corrupt("response", e))),
            Claim::Conflict => Err(Error::KeyConflict),
        }
    }

    /// Stores the response of a first call under its key, in the call's transaction.
    pub async fn complete<R: Message>(
        &self,
        tx: &mut Tx,
        idem: &Idem,
        response: &R,
    ) -> Result<(), Error> {
        idempotency::complete(tx, idem.method, &idem.key, &response.encode_to_vec()).await?;
        Ok(())
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
        // AVI counts the area's deadlines from this receipt (1269/2020 24 §): the area's
        // competence starts when it has the referral, never earlier.
        let mut fact = self.fact(
            row,
            FactKind::ReferralReceived,
            row.received_on(),
            row.received_at,
            format!("{}:received", row.referral_id),
        );
        fact.received_at = Some(timestamp_from(row.received_at));
        self.report(tx, row, &fact, row.received_at).await?;
        Ok(true)
    }

    /// Takes the client on. Acknowledging again returns the first acknowledgement; a retry under
    /// the same key replays the first response.
    pub async fn acknowledge(
        &self,
        idem: &Idem,
        referral_id: &str,
    ) -> Result<pb::AcknowledgeClientResponse, Error> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if let Some(first) = self
            .claim::<pb::AcknowledgeClientResponse>(&mut tx, idem)
            .await?
        {
            return Ok(pb::AcknowledgeClientResponse {
                replayed: true,
                ..first
            });
        }
        let current = self
            .store
            .referral_for_update(&mut tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        let decided = match domain::acknowledge(&current, now)? {
            Step::Repeat => {
                let response = ack_response(&current);
                self.complete(&mut tx, idem, &response).await?;
                tx.commit().await?;
                return Ok(response);
            }
            Step::Apply(decided) => decided,
        };
        // From a suspension's effective date the area takes on no client it covers (22 §).
        let suspensions = self.suspensions(&mut tx).await?;
        domain::check_client_not_suspended(&suspensions, &decided, self.clock.today())?;
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
            format!("{referral_id}:acknowledged"),
        );
        self.report(&mut tx, &decided, &fact, now).await?;
        let response = ack_response(&decided);
        self.complete(&mut tx, idem, &response).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.feed_changed();
        tracing::info!(referral_id, "client acknowledged");
        Ok(response)
    }

    /// Rejects the referral. Rejecting again with the same reason returns the first rejection.
    pub async fn reject(
        &self,
        idem: &Idem,
        referral_id: &str,
        rejection: Rejection,
    ) -> Result<pb::RejectReferralResponse, Error> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if let Some(first) = self
            .claim::<pb::RejectReferralResponse>(&mut tx, idem)
            .await?
        {
            return Ok(pb::RejectReferralResponse {
                replayed: true,
                ..first
            });
        }
        let current = self
            .store
            .referral_for_update(&mut tx, referral_id)
            .await?
            .ok_or(Error::NotFound)?;
        let decided = match domain::reject(&current, &rejection, now)? {
            Step::Repeat => {
                let response = reject_response(&current);
                self.complete(&mut tx, idem, &response).await?;
                tx.commit().await?;
                return Ok(response);
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
            format!("{referral_id}:rejected"),
        );
        fact.rejection_reason = format!("{:?}", rejection.reason);
        self.report(&mut tx, &decided, &fact, now).await?;
        let response = reject_response(&decided);
        self.complete(&mut tx, idem, &response).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.feed_changed();
        tracing::info!(referral_id, reason = ?rejection.reason, "referral rejected");
        Ok(response)
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

fn ack_response(r: &IncomingReferral) -> pb::AcknowledgeClientResponse {
    pb::AcknowledgeClientResponse {
        referral_id: r.referral_id.clone(),
        received_at: Some(timestamp_from(r.received_at)),
        acknowledged_at: r.decided_at.map(timestamp_from),
        replayed: false,
    }
}

fn reject_response(r: &IncomingReferral) -> pb::RejectReferralResponse {
    pb::RejectReferralResponse {
        referral_id: r.referral_id.clone(),
        rejected_at: r.decided_at.map(timestamp_from),
        replayed: false,
    }
}
