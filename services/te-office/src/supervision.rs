//! te-office and the supervising agency: the pseudonymised "referral issued" fact AVI receives,
//! and AVI's suspensions, which stop referrals to the suspended area from their effective date
//! for exactly the clients they cover (the TE office keeps those clients itself, 1269/2020
//! 22 §), until AVI lifts them.

use chrono::{DateTime, Utc};
use kokeilu_bus::envelope::{self, open, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::supervision::{ActionKind, FactKind, ServiceFact, SupervisoryAction};
use kokeilu_proto::{Payload, date_from_naive, date_to_naive, subjects, timestamp_from};
use kokeilu_rules::suspension::Scope;

use crate::domain::{Referral, Suspension, trust};
use crate::referrals::Desk;
use crate::store::Lifted;

impl Desk {
    /// Queues the "referral issued" fact for AVI in `tx`, on the TE office's own fact subject,
    /// with the pseudonym (and key id) the referral carries to the area.
    pub async fn report_issued(
        &self,
        tx: &mut Tx,
        row: &Referral,
        pseudonym: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let fact = ServiceFact {
            kind: FactKind::ReferralIssued as i32,
            referral_id: row.referral_id.clone(),
            area_id: row.area_id.clone(),
            client_pseudonym: pseudonym.to_owned(),
            pseudonym_key_id: self.pseudonyms.key_id().to_owned(),
            date: Some(date_from_naive(row.referral_date)),
            recorded_at: Some(timestamp_from(now)),
            // The deciding municipality: the residence when decided by residence (149/2023).
            municipality_code: row.deciding_municipality().to_owned(),
            grounds: row.grounds.iter().map(|g| g.name().to_owned()).collect(),
            job_search_start_date: Some(date_from_naive(row.job_search_start)),
            residence_municipality_code: row.residence_municipality_code.clone(),
            decided_by_residence: row.decided_by_residence,
            te_office_initial_interview_date: row.initial_interview_date.map(date_from_naive),
            previous_job_search_end_date: row.previous_job_search_end.map(date_from_naive),
            employment_plan_date: row
                .employment_plan
                .as_ref()
                .map(|p| date_from_naive(p.made_on)),
            // One issued fact per referral.
            fact_id: format!("{}:issued", row.referral_id),
            ..Default::default()
        };
        let env = seal(
            envelope::te_office(),
            envelope::supervisor(),
            &row.referral_id,
            None,
            &fact,
            now,
        );
        outbox::enqueue(
            tx,
            &OutgoingMessage::new(subjects::te_office_fact(), env),
            now,
        )
        .await
    }
}

/// te-office's consumer of AVI's actions (it acts on suspensions).
pub fn actions_consumer() -> ConsumerConfig {
    let mut c = ConsumerConfig::new(
        subjects::AVI_STREAM,
        "te-office-avi-actions",
        vec!["kokeilu.v1.avi.*.action".into()],
    );
    c.workers = 1;
    c
}

/// Records suspensions (full or partial, with their scope) and their lifting.
pub struct Suspensions {
    pub desk: Desk,
}

impl Handler for Suspensions {
    async fn handle(&self, tx: &mut Tx, msg: &Incoming) -> Result<(), HandlerError> {
        if msg.envelope.payload_type != SupervisoryAction::TYPE {
            return Err(HandlerError::Permanent(format!(
                "unexpected {}",
                msg.envelope.payload_type
            )));
        }
        let action: SupervisoryAction = open(&msg.envelope)?;
        trust::check_action(&msg.subject, msg.envelope.sender.as_ref(), &action.area_id)
            .map_err(HandlerError::Security)?;
        let kind = ActionKind::try_from(action.kind).unwrap_or(ActionKind::Unspecified);
        if !matches!(kind, ActionKind::Suspension | ActionKind::LiftSuspension) {
            return Ok(());
        }
        let from = action
            .effective_from
            .as_ref()
            .and_then(date_to_naive)
            .ok_or_else(|| {
                HandlerError::Permanent("a suspension or lift without an effective date".into())
            })?;
        if kind == ActionKind::LiftSuspension {
            // The area's competence returns from the lift date (22 §): referrals go to it again.
            let lifted = self
                .desk
                .store
                .lift_suspension(
                    tx,
                    &action.area_id,
                    &action.lifts_action_id,
                    from,
                    &action.action_id,
                )
                .await?;
            if lifted == Lifted::Unknown {
                return Err(HandlerError::Permanent(format!(
                    "lift {} names no suspension of area {}",
                    action.action_id, action.area_id
                )));
            }
            tracing::warn!(area = %action.area_id, lifted_from = %from, suspension = %action.lifts_action_id, "AVI lifted a suspension");
            return Ok(());
        }
        let scope = action.partial.then(|| {
            let s = action.scope.unwrap_or_default();
            Scope {
                client_groups: s.client_groups,
                municipality_codes: s.municipality_codes,
                statement_subjects: s.statement_subjects,
            }
        });
        let suspension = Suspension {
            action_id: action.action_id,
            area_id: action.area_id,
            effective_from: from,
            partial: action.partial,
            scope,
            lifted_from: None,
            text: action.text,
        };
        self.desk
            .store
            .insert_suspension(tx, &suspension, self.desk.clock.now())
            .await?;
        tracing::warn!(area = %suspension.area_id, effective_from = %from, partial = suspension.partial, "AVI suspended a trial area");
        Ok(())
    }
}
