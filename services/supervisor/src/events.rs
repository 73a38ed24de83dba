//! What the supervisor consumes: service facts from the TE office and the areas, and the areas'
//! answers to information requests.
//!
//! Each counts only from the party NATS authenticated it as (its subject), and only for what that
//! party may report ([`crate::domain::trust`]); anything else is refused as a security event and
//! changes nothing.

use kokeilu_bus::envelope::open;
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::supervision::{InformationAnswer, ServiceFact};
use kokeilu_proto::{Payload, subjects};

use crate::domain::{Access, trust};
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
        trust::check_fact(
            &msg.subject,
            msg.envelope.sender.as_ref(),
            fact.kind,
            &fact.area_id,
        )
        .map_err(HandlerError::Security)?;
        match self.ledger.apply(tx, &fact).await {
            Ok(()) => Ok(()),
            Err(FactError::NotYours(why)) => Err(HandlerError::Security(why)),
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
        let Some(requested_of) = store
            .information_request_area(tx, &answer.action_id)
            .await?
        else {
            return Err(HandlerError::Permanent(format!(
                "answer to unknown information request {}",
                answer.action_id
            )));
        };
        trust::check_answer(
            &msg.subject,
            msg.envelope.sender.as_ref(),
            &answer.area_id,
            &answer.action_id,
            &requested_of,
        )
        .map_err(HandlerError::Security)?;
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
