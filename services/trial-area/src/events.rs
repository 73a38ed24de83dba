//! Messages a trial area consumes: referrals issued to it by the TE office.
//!
//! A referral counts only when NATS authenticated it as the TE office's (its subject), its sender
//! says so too and it is addressed to this area ([`crate::domain::trust`]); anything else is
//! refused as a security event and stores nothing.

use kokeilu_bus::envelope::open;
use kokeilu_bus::{ConsumerConfig, Handler, HandlerError, Incoming, Tx};
use kokeilu_proto::referral::ReferralIssued;
use kokeilu_proto::{Payload, date_to_naive, subjects};

use crate::desk::Desk;
use crate::domain::{IncomingReferral, IncomingStatus, Plan, trust};

/// The area's durable consumer of its own referral subject.
pub fn consumer_config(area: &str, workers: usize) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(
        subjects::REFERRAL_STREAM,
        &format!("area-{area}-referrals"),
        vec![subjects::referral_issued(area)],
    );
    c.workers = workers;
    c
}

/// Stores incoming referrals.
pub struct Referrals {
    pub desk: Desk,
}

impl Handler for Referrals {
    async fn handle(&self, tx: &mut Tx, msg: &Incoming) -> Result<(), HandlerError> {
        let env = &msg.envelope;
        if env.payload_type != ReferralIssued::TYPE {
            return Err(HandlerError::Permanent(format!(
                "trial area does not handle {}",
                env.payload_type
            )));
        }
        let p: ReferralIssued = open(env)?;
        trust::check_referral(
            &msg.subject,
            env.sender.as_ref(),
            env.recipient.as_ref(),
            &p.area_id,
            &self.desk.area,
        )
        .map_err(HandlerError::Security)?;
        trust::check_pseudonym(&p.client_pseudonym, &p.pseudonym_key_id)
            .map_err(HandlerError::Permanent)?;
        let date = |d: &Option<kokeilu_proto::common::Date>, what: &str| {
            d.as_ref()
                .and_then(date_to_naive)
                .ok_or_else(|| HandlerError::Permanent(format!("referral without a valid {what}")))
        };
        let optional = |d: &Option<kokeilu_proto::common::Date>, what: &str| match d {
            None => Ok(None),
            Some(d) => date_to_naive(d)
                .map(Some)
                .ok_or_else(|| HandlerError::Permanent(format!("referral with an invalid {what}"))),
        };
        let employment_plan = match &p.employment_plan {
            None => None,
            Some(plan) => Some(Plan {
                plan_id: plan.plan_id.clone(),
                kind: plan.kind,
                made_on: date(&plan.made_on, "employment plan date")?,
                next_review_on: optional(&plan.next_review_on, "employment plan review date")?,
            }),
        };
        let row = IncomingReferral {
            referral_id: p.referral_id.clone(),
            area_id: p.area_id,
            henkilotunnus: p.henkilotunnus,
            home_municipality_code: p.home_municipality_code,
            grounds: p.grounds,
            job_search_start: date(&p.job_search_start_date, "job search start date")?,
            referral_date: date(&p.referral_date, "referral date")?,
            status: IncomingStatus::Received,
            received_at: self.desk.clock.now(),
            decided_at: None,
            rejection_reason: None,
            rejection_detail: String::new(),
            issued_message_id: env.message_id.clone(),
            client_pseudonym: p.client_pseudonym,
            pseudonym_key_id: p.pseudonym_key_id,
            trace_context: kokeilu_platform::propagation::current_context_headers(),
            cursor: 0,
            residence_municipality_code: p.residence_municipality_code,
            decided_by_residence: p.decided_by_residence,
            te_office_interview: optional(
                &p.te_office_initial_interview_date,
                "TE office initial interview date",
            )?,
            previous_job_search_end: optional(
                &p.previous_job_search_end_date,
                "previous job search end date",
            )?,
            employment_plan,
            plan_revised_on: None,
        };
        if self.desk.receive(tx, &row).await? {
            tracing::info!(referral_id = %p.referral_id, "referral received");
        } else {
            tracing::warn!(referral_id = %p.referral_id, "referral id received before under another message id; kept the first");
        }
        Ok(())
    }

    fn committed(&self, _msg: &Incoming) {
        self.desk.feed_changed();
    }
}
