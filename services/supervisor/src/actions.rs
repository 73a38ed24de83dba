//! AVI's supervisory actions (1269/2020 22 §): information requests, orders with a deadline,
//! remarks and suspensions, sent to the area (and, for suspensions, seen by the TE office) through
//! the outbox. Information requests and every read of an answer are logged.

use chrono::NaiveDate;
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_proto::supervision::{ActionKind, InformationAnswer, SupervisoryAction};
use kokeilu_proto::{date_from_naive, subjects, timestamp_from};

use kokeilu_platform::identity::Identity;

use crate::domain::Access;
use crate::error::Error;
use crate::ledger::Ledger;

/// A validated action to issue.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub kind: ActionKind,
    pub area: String,
    pub text: String,
    pub referral_ids: Vec<String>,
    pub deadline: Option<NaiveDate>,
    pub effective_from: Option<NaiveDate>,
    pub partial: bool,
    /// The authenticated identity issuing it (`kokeilu://avi…`), for the access log.
    pub actor: String,
}

impl Ledger {
    /// Stores and sends an action; returns it.
    pub async fn issue(&self, a: NewAction) -> Result<SupervisoryAction, Error> {
        let now = self.clock.now();
        let action = SupervisoryAction {
            action_id: uuid::Uuid::now_v7().to_string(),
            kind: a.kind as i32,
            area_id: a.area.clone(),
            text: a.text.clone(),
            referral_ids: a.referral_ids,
            deadline: a.deadline.map(date_from_naive),
            effective_from: a.effective_from.map(date_from_naive),
            partial: a.partial,
            issued_at: Some(timestamp_from(now)),
            ..Default::default()
        };
        let mut tx = self.store.begin().await?;
        self.store.insert_action(&mut tx, &action, now).await?;
        if a.kind == ActionKind::InformationRequest {
            let access = Access {
                action_id: action.action_id.clone(),
                area: action.area_id.clone(),
                actor: a.actor.clone(),
                what: format!(
                    "information requested on {} referrals",
                    action.referral_ids.len()
                ),
                purpose: a.text,
                revealed: false,
                at: now,
            };
            self.store.log_access(&mut tx, &access).await?;
        }
        let env = seal(
            envelope::supervisor(),
            envelope::trial_area(&action.area_id),
            &action.action_id,
            None,
            &action,
            now,
        );
        outbox::enqueue(
            &mut tx,
            &OutgoingMessage::new(subjects::avi_action(&action.area_id), env),
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(action_id = %action.action_id, area = %action.area_id, kind = ?a.kind, "supervisory action issued");
        Ok(action)
    }

    /// The actions issued to `area` (all when empty), newest first: at most `limit` after the
    /// page position `after` (issue time in microseconds, action id), each with its issue time.
    pub async fn actions(
        &self,
        area: &str,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<(i64, SupervisoryAction)>, Error> {
        Ok(self.store.actions(area, after, limit).await?)
    }

    /// The answer to an information request, read by `actor`. Every read is logged with the
    /// actor; henkilötunnus are shown only to a named AVI inspector
    /// ([`kokeilu_platform::authz::may_see_identities`]) and masked for everyone else.
    pub async fn answer(
        &self,
        action_id: &str,
        actor: &Identity,
    ) -> Result<InformationAnswer, Error> {
        let revealed = kokeilu_platform::authz::may_see_identities(actor);
        let mut tx = self.store.begin().await?;
        let stored = self
            .store
            .answer(&mut tx, action_id)
            .await?
            .ok_or(Error::NotFound(
                "no answer to that information request (yet)",
            ))?;
        let access = Access {
            action_id: action_id.to_owned(),
            area: stored.area,
            actor: actor.uri(),
            what: "answer read".into(),
            purpose: String::new(),
            revealed,
            at: self.clock.now(),
        };
        self.store.log_access(&mut tx, &access).await?;
        tx.commit().await?;
        tracing::info!(
            target: "kokeilu::access",
            actor = %actor,
            action_id = %action_id,
            revealed,
            "information answer read"
        );
        let mut answer = stored.answer;
        if !revealed {
            mask(&mut answer);
        }
        Ok(answer)
    }
}

/// Removes the direct identifiers from an answer: what is left is the referral ids, statuses and
/// service events, enough to check the area's handling without knowing who the clients are.
pub fn mask(answer: &mut InformationAnswer) {
    answer.masked = true;
    for record in &mut answer.records {
        record.henkilotunnus = MASKED.to_owned();
    }
}

/// What a masked henkilötunnus reads as.
pub const MASKED: &str = "******-****";
