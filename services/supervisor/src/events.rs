//! What the supervisor consumes: service facts from the TE office and the areas, and the areas'
//! answers to information requests.

use kokeilu_bus::envelope::open;
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::supervision::{InformationAnswer, ServiceFact};
use kokeilu_proto::{Payload, subjects};

use crate::domain::Access;
use crate::ledger::{FactError, Ledger};

pub fn facts_consumer(workers: usize) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(
        subjects::SUPERVISION_STREAM,
        "avi-facts",
        vec![subjects::SUPERVISION_ALL.into()],
    );
    c.workers = workers;
    c
}

pub fn answers_consumer() -> ConsumerConfig {
    let mut c = ConsumerConfig::new(
        subjects::AVI_STREAM,
        "avi-answers",
        vec!["kokeilu.v1.avi.*.answer".into()],
    );
    c.workers = 1;
    c
}

/// Applies service facts to the ledger.
pub struct Facts {
    pub ledger: Ledger,
}

impl Handler for Facts {
    async fn handle(&self, tx: &mut Tx, msg: &Incoming) -> Result<(), HandlerError> {
        if msg.envelope.payload_type != ServiceFact::TYPE {
            return Err(HandlerError::Permanent(format!(
                "unexpected {}",
                msg.envelope.payload_type
            )));
        }
        let fact: ServiceFact = open(&msg.envelope)?;
        let sender = msg.envelope.sender.clone().unwrap_or_default();
        let from_area = sender.kind == kokeilu_proto::common::AgencyKind::TrialArea as i32;
        if from_area && sender.id != fact.area_id {
            return Err(HandlerError::Permanent(format!(
                "area {} reported a fact of area {}",
                sender.id, fact.area_id
            )));
        }
        match self.ledger.apply(tx, &fact).await {
            Ok(()) => Ok(()),
            // The referral's own fact may still be on its way: retry with backoff.
            Err(FactError::UnknownReferral(id)) => {
                Err(HandlerError::Transient(format!("unknown referral {id}")))
            }
            Err(FactError::Unusable(why)) => Err(HandlerError::Permanent(why)),
            Err(FactError::Database(e)) => Err(e.into()),
        }
    }

    fn committed(&self, _msg: &Incoming) {
        self.ledger.feed_changed();
    }
}

/// Stores the areas' answers to information requests (the only identifying data AVI holds).
pub struct Answers {
    pub ledger: Ledger,
}

impl Handler for Answers {
    async fn handle(&self, tx: &mut Tx, msg: &Incoming) -> Result<(), HandlerError> {
        if msg.envelope.payload_type != InformationAnswer::TYPE {
            return Err(HandlerError::Permanent(format!(
                "unexpected {}",
                msg.envelope.payload_type
            )));
        }
        let answer: InformationAnswer = open(&msg.envelope)?;
        let store = &self.ledger.store;
        if !store.is_information_request(tx, &answer.action_id).await? {
            return Err(HandlerError::Permanent(format!(
                "answer to unknown information request {}",
                answer.action_id
            )));
        }
        let now = self.ledger.clock.now();
        store.insert_answer(tx, &answer, now).await?;
        let access = Access {
            action_id: answer.action_id.clone(),
            area: answer.area_id.clone(),
            actor: format!("kokeilu://area/{}", answer.area_id),
            what: format!("answer received: {} client records", answer.records.len()),
            purpose: String::new(),
            revealed: false,
            at: now,
        };
        store.log_access(tx, &access).await?;
        Ok(())
    }
}
