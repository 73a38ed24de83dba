//! Messages te-office consumes: the areas' answers to its referrals.
//!
//! An answer counts only from the area NATS authenticated it as (its subject), naming that area,
//! about a referral issued to that area ([`crate::domain::trust`]); anything else is refused as a
//! security event and changes nothing.

use chrono::{DateTime, Utc};
use kokeilu_bus::envelope::open;
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::referral::{ReferralAcknowledged, ReferralReceived, ReferralRejected};
use kokeilu_proto::{Payload, subjects, timestamp_to};

use crate::domain::{AnswerOutcome, Status, trust};
use crate::referrals::{Answer, Desk};

/// The durable consumer for answers from every area.
pub fn consumer_config(workers: usize) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(
        subjects::REFERRAL_STREAM,
        "te-office-answers",
        vec![
            "kokeilu.v1.referral.*.received".into(),
            "kokeilu.v1.referral.*.acknowledged".into(),
            "kokeilu.v1.referral.*.rejected".into(),
        ],
    );
    c.workers = workers;
    c
}

/// Applies answers to referrals.
pub struct Answers {
    pub desk: Desk,
}

/// An answer as the message carries it (its time may be missing).
struct Decoded {
    referral_id: String,
    area_id: String,
    status: Status,
    at: Option<prost_types::Timestamp>,
    reason: i32,
    detail: String,
}

fn decode(msg: &Incoming) -> Result<Decoded, HandlerError> {
    let env = &msg.envelope;
    Ok(match env.payload_type.as_str() {
        ReferralReceived::TYPE => {
            let p: ReferralReceived = open(env)?;
            Decoded {
                referral_id: p.referral_id,
                area_id: p.area_id,
                status: Status::Delivered,
                at: p.received_at,
                reason: 0,
                detail: String::new(),
            }
        }
        ReferralAcknowledged::TYPE => {
            let p: ReferralAcknowledged = open(env)?;
            Decoded {
                referral_id: p.referral_id,
                area_id: p.area_id,
                status: Status::Acknowledged,
                at: p.acknowledged_at,
                reason: 0,
                detail: String::new(),
            }
        }
        ReferralRejected::TYPE => {
            let p: ReferralRejected = open(env)?;
            Decoded {
                referral_id: p.referral_id,
                area_id: p.area_id,
                status: Status::Rejected,
                at: p.rejected_at,
                reason: p.reason,
                detail: p.detail,
            }
        }
        other => {
            return Err(HandlerError::Permanent(format!(
                "te-office does not handle {other}"
            )));
        }
    })
}

/// A status change timestamped before the referral was issued, or a decision timestamped before
/// the referral's previous change, is a clock that ran backwards somewhere: it is refused (to the
/// dead-letter stream) rather than recorded out of time order. A receipt that arrives after the
/// decision is recorded if it lies after the issue (`answer_outcome` records it only).
fn before_previous(
    issued: DateTime<Utc>,
    latest: Option<DateTime<Utc>>,
    answer: &Answer,
) -> Option<String> {
    let previous = match answer.status {
        Status::Acknowledged | Status::Rejected => latest.unwrap_or(issued).max(issued),
        _ => issued,
    };
    (answer.at < previous).then(|| {
        format!(
            "{:?} of referral {} at {} is before its previous change at {previous}: refused, \
             a status history stays in time order",
            answer.status, answer.referral_id, answer.at
        )
    })
}

impl Handler for Answers {
    async fn handle(&self, tx: &mut Tx, msg: &Incoming) -> Result<(), HandlerError> {
        let answer = decode(msg)?;
        let area = trust::check_answer(
            &msg.subject,
            msg.envelope.sender.as_ref(),
            msg.envelope.recipient.as_ref(),
            &answer.area_id,
        )
        .map_err(HandlerError::Security)?;
        let Some(referral) = self.desk.store.for_update(tx, &answer.referral_id).await? else {
            return Err(HandlerError::Permanent(format!(
                "unknown referral {}",
                answer.referral_id
            )));
        };
        trust::answered_by_its_area(&referral.referral_id, &referral.area_id, &area)
            .map_err(HandlerError::Security)?;
        let answer = Answer {
            at: answer
                .at
                .as_ref()
                .and_then(timestamp_to)
                .unwrap_or_else(|| self.desk.clock.now()),
            referral_id: answer.referral_id,
            area_id: answer.area_id,
            status: answer.status,
            rejection_reason: answer.reason,
            detail: answer.detail,
        };
        let latest = self
            .desk
            .store
            .latest_change_at(tx, &referral.referral_id)
            .await?;
        if let Some(earlier) = before_previous(referral.created_at, latest, &answer) {
            return Err(HandlerError::Permanent(earlier));
        }
        let outcome = self.desk.record_answer(tx, &referral, &answer).await?;
        if outcome == AnswerOutcome::Conflict {
            return Err(HandlerError::Permanent(format!(
                "referral {} is already {:?}; {:?} conflicts",
                referral.referral_id, referral.status, answer.status
            )));
        }
        tracing::info!(referral_id = %referral.referral_id, status = ?answer.status, "answer recorded");
        Ok(())
    }

    fn committed(&self, _msg: &Incoming) {
        self.desk.feed_changed();
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn answer(status: Status, at: DateTime<Utc>) -> Answer {
        Answer {
            at,
            referral_id: "r".into(),
            area_id: "kainuu".into(),
            status,
            rejection_reason: 0,
            detail: String::new(),
        }
    }

    #[test]
    fn a_change_before_the_previous_one_is_refused() {
        let issued = Utc.with_ymd_and_hms(2024, 9, 2, 6, 0, 0).unwrap();
        let delivered = issued + Duration::seconds(1);
        let early = issued - Duration::seconds(1);
        assert!(before_previous(issued, None, &answer(Status::Delivered, early)).is_some());
        assert!(before_previous(issued, None, &answer(Status::Delivered, delivered)).is_none());
        let ack_before_receipt = answer(Status::Acknowledged, issued + Duration::milliseconds(500));
        assert!(before_previous(issued, Some(delivered), &ack_before_receipt).is_some());
        let ack = answer(Status::Acknowledged, delivered + Duration::seconds(1));
        assert!(before_previous(issued, Some(delivered), &ack).is_none());
        // A receipt arriving after the decision: only its order after the issue counts.
        let receipt = answer(Status::Delivered, delivered);
        assert!(
            before_previous(issued, Some(delivered + Duration::seconds(5)), &receipt).is_none()
        );
    }
}
