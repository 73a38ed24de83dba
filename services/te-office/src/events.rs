//! Messages te-office consumes: the areas' answers to its referrals.

use kokeilu_bus::envelope::open;
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::common::AgencyKind;
use kokeilu_proto::referral::{ReferralAcknowledged, ReferralReceived, ReferralRejected};
use kokeilu_proto::{Payload, subjects, timestamp_to};

use crate::domain::{AnswerOutcome, Status};
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

impl Handler for Answers {
    async fn handle(&self, tx: &mut Tx, msg: &Incoming) -> Result<(), HandlerError> {
        let answer = decode(msg)?;
        let sender = msg.envelope.sender.clone().unwrap_or_default();
        if sender.kind != AgencyKind::TrialArea as i32 || sender.id != answer.area_id {
            return Err(HandlerError::Permanent(format!(
                "answer for area {} sent by {:?} {}",
                answer.area_id, sender.kind, sender.id
            )));
        }
        let Some(referral) = self.desk.store.for_update(tx, &answer.referral_id).await? else {
            return Err(HandlerError::Permanent(format!(
                "unknown referral {}",
                answer.referral_id
            )));
        };
        if referral.area_id != answer.area_id {
            return Err(HandlerError::Permanent(format!(
                "area {} answered referral {} of area {}",
                answer.area_id, referral.referral_id, referral.area_id
            )));
        }
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
