//! te-office and the supervising agency: the pseudonymised "referral issued" fact AVI receives,
//! and AVI's suspensions, which stop referrals to the suspended area from their effective date
//! (the TE office keeps those clients itself, 1269/2020 22 §).

use chrono::{DateTime, Utc};
use kokeilu_bus::envelope::{self, open, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::supervision::{ActionKind, FactKind, ServiceFact, SupervisoryAction};
use kokeilu_proto::{Payload, date_from_naive, date_to_naive, subjects, timestamp_from};

use crate::domain::{Ground, Referral, Suspension, trust};
use crate::referrals::Desk;

fn ground_name(g: Ground) -> &'static str {
    match g {
        Ground::NoEarningsRelatedAllowance => "no_earnings_related_allowance",
        Ground::Under30 => "under_30",
        Ground::Immigrant => "immigrant",
        Ground::ForeignLanguage => "foreign_language",
        Ground::AtRiskOfUnemployment => "at_risk_of_unemployment",
        Ground::TemporaryProtection => "temporary_protection",
    }
}

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
            municipality_code: row.home_municipality_code.clone(),
            grounds: row
                .grounds
                .iter()
                .map(|g| ground_name(*g).to_owned())
                .collect(),
            job_search_start_date: Some(date_from_naive(row.job_search_start)),
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

/// Records suspensions.
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
        if action.kind != ActionKind::Suspension as i32 {
            return Ok(());
        }
        let from = action
            .effective_from
            .as_ref()
            .and_then(date_to_naive)
            .ok_or_else(|| {
                HandlerError::Permanent("suspension without an effective date".into())
            })?;
        let suspension = Suspension {
            action_id: action.action_id,
            area_id: action.area_id,
            effective_from: from,
            partial: action.partial,
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
