//! te-office and the supervising agency: the pseudonymised "referral issued" fact AVI receives,
//! and AVI's suspensions, which stop referrals to the suspended area from their effective date
//! (the TE office keeps those clients itself, 1269/2020 22 §).

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::db::micros;
use kokeilu_bus::envelope::{self, open, seal};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::supervision::{ActionKind, FactKind, ServiceFact, SupervisoryAction};
use kokeilu_proto::{Payload, date_from_naive, date_to_naive, subjects, timestamp_from};
use sqlx::Row;

use crate::db::ReferralRow;
use crate::domain::Ground;
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
    /// Queues the "referral issued" fact for AVI in `tx`.
    pub async fn report_issued(
        &self,
        tx: &mut Tx,
        row: &ReferralRow,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let fact = ServiceFact {
            kind: FactKind::ReferralIssued as i32,
            referral_id: row.referral_id.clone(),
            area_id: row.area_id.clone(),
            client_pseudonym: self.pseudonyms.pseudonym(&row.henkilotunnus),
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
            &OutgoingMessage::new(subjects::supervision_fact(&row.area_id), env),
            now,
        )
        .await
    }

    /// The whole-area suspension in force for `area` on `date`, if any.
    pub async fn suspension(
        &self,
        tx: &mut Tx,
        area: &str,
        date: NaiveDate,
    ) -> Result<Option<NaiveDate>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT MIN(effective_from) AS since FROM suspensions \
             WHERE area_id = $1 AND partial = 0 AND effective_from <= $2",
        )
        .bind(area)
        .bind(date.to_string())
        .fetch_one(&mut **tx)
        .await?;
        Ok(row
            .try_get::<Option<String>, _>("since")?
            .and_then(|s| s.parse().ok()))
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
        sqlx::query(
            "INSERT INTO suspensions (action_id, area_id, effective_from, partial, text, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (action_id) DO NOTHING",
        )
        .bind(&action.action_id)
        .bind(&action.area_id)
        .bind(from.to_string())
        .bind(i64::from(action.partial))
        .bind(&action.text)
        .bind(micros(self.desk.clock.now()))
        .execute(&mut **tx)
        .await?;
        tracing::warn!(area = %action.area_id, effective_from = %from, partial = action.partial, "AVI suspended a trial area");
        Ok(())
    }
}
