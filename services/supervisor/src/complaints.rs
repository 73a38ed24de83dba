//! Complaints (kantelu) to AVI about a trial area or one of its municipalities, tracked from
//! receipt through investigation to a decision (AVI practice under 1269/2020 22 §), and AVI's
//! notice to the ministry (TEM) of the supervision procedures under way on a day (22 §: AVI
//! informs the ministry of ongoing supervision procedures).
//!
//! The decisions are pure functions ([`receive`], [`step`], [`notice`]); the [`Ledger`] methods
//! load, ask them and write under the call's idempotency key.

use chrono::NaiveDate;
use kokeilu_platform::clock::finnish_date;
use kokeilu_platform::grpc::FieldViolation;
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction};
use kokeilu_proto::supervisor::{
    Complaint, ComplaintOutcome, ComplaintStatus, ComplaintStep, MinistryNotice, Procedure,
};
use kokeilu_proto::{date_from_naive, date_to_naive, timestamp_to};
use kokeilu_rules::registry::Registry;

use crate::actions::Keyed;
use crate::error::Error;
use crate::ledger::Ledger;
use crate::store::StoredAction;

/// The longest complaint summary accepted.
pub const MAX_SUMMARY_CHARS: usize = 2000;

/// A complaint as received, checked for form at the API.
#[derive(Debug, Clone)]
pub struct NewComplaint {
    pub area: String,
    pub municipality: String,
    pub received_on: NaiveDate,
    pub summary: String,
    pub referral_ids: Vec<String>,
}

/// A step in handling a complaint, checked for form at the API.
#[derive(Debug, Clone)]
pub struct Decision {
    pub status: ComplaintStatus,
    pub outcome: ComplaintOutcome,
    pub on: NaiveDate,
    pub note: String,
    pub action_id: String,
}

fn day(d: &Option<kokeilu_proto::common::Date>) -> Option<NaiveDate> {
    d.as_ref().and_then(date_to_naive)
}

/// The complaint a receipt records (without its id), or why not.
pub fn receive(
    c: &NewComplaint,
    today: NaiveDate,
    registry: &Registry,
) -> Result<Complaint, Error> {
    let mut bad = Vec::new();
    if c.received_on > today {
        bad.push(FieldViolation::new(
            "received_on",
            format!("must not be in the future (today is {today})"),
        ));
    }
    if !c.municipality.is_empty()
        && registry
            .area_for_municipality(&c.municipality, c.received_on)
            .is_none_or(|a| a.slug != c.area)
    {
        bad.push(FieldViolation::new(
            "municipality_code",
            format!(
                "{:?} is not a municipality of area {} on {}",
                c.municipality, c.area, c.received_on
            ),
        ));
    }
    if !bad.is_empty() {
        return Err(Error::Invalid(bad));
    }
    let on = Some(date_from_naive(c.received_on));
    Ok(Complaint {
        area_id: c.area.clone(),
        municipality_code: c.municipality.clone(),
        received_on: on,
        summary: c.summary.clone(),
        referral_ids: c.referral_ids.clone(),
        status: ComplaintStatus::Received as i32,
        history: vec![ComplaintStep {
            status: ComplaintStatus::Received as i32,
            on,
            note: "received".into(),
        }],
        ..Default::default()
    })
}

/// The action kinds that carry an outcome.
fn carried_by(outcome: ComplaintOutcome) -> &'static [ActionKind] {
    match outcome {
        ComplaintOutcome::Remark => &[ActionKind::Remark],
        ComplaintOutcome::Order => &[ActionKind::Order, ActionKind::OrderUnderThreat],
        ComplaintOutcome::Suspension => &[ActionKind::Suspension],
        ComplaintOutcome::NoAction
        | ComplaintOutcome::Dismissed
        | ComplaintOutcome::Unspecified => &[],
    }
}

/// The complaint after a step (`action`: the action `d.action_id` names, if it exists), or why
/// not. A decided complaint is closed.
pub fn step(
    complaint: &Complaint,
    d: &Decision,
    today: NaiveDate,
    action: Option<&SupervisoryAction>,
) -> Result<Complaint, Error> {
    if complaint.status == ComplaintStatus::Decided as i32 {
        let on = day(&complaint.decided_on)
            .map(|d| d.to_string())
            .unwrap_or_default();
        return Err(Error::precondition(
            "COMPLAINT_DECIDED",
            format!("complaint/{}", complaint.complaint_id),
            format!("complaint {} was decided on {on}", complaint.complaint_id),
        ));
    }
    let mut bad = Vec::new();
    let last = complaint.history.iter().filter_map(|s| day(&s.on)).max();
    if d.on > today {
        bad.push(FieldViolation::new(
            "on",
            format!("must not be in the future (today is {today})"),
        ));
    }
    if let Some(last) = last.filter(|last| d.on < *last) {
        bad.push(FieldViolation::new(
            "on",
            format!("the complaint's previous step is dated {last}"),
        ));
    }
    let mut next = complaint.clone();
    match d.status {
        ComplaintStatus::UnderInvestigation => {
            if d.note.is_empty() {
                bad.push(FieldViolation::new(
                    "note",
                    "required: what is investigated",
                ));
            }
            if d.outcome != ComplaintOutcome::Unspecified {
                bad.push(FieldViolation::new("outcome", "only with status DECIDED"));
            }
            if !d.action_id.is_empty() {
                bad.push(FieldViolation::new("action_id", "only with a decision"));
            }
        }
        ComplaintStatus::Decided => {
            let kinds = carried_by(d.outcome);
            if d.outcome == ComplaintOutcome::Unspecified {
                bad.push(FieldViolation::new(
                    "outcome",
                    "required with status DECIDED",
                ));
            } else if kinds.is_empty() {
                if !d.action_id.is_empty() {
                    bad.push(FieldViolation::new(
                        "action_id",
                        "only for a REMARK, ORDER or SUSPENSION outcome",
                    ));
                }
            } else {
                match action {
                    _ if d.action_id.is_empty() => bad.push(FieldViolation::new(
                        "action_id",
                        "required: the action that carries the outcome",
                    )),
                    None => bad.push(FieldViolation::new("action_id", "no such action")),
                    Some(a) if a.area_id != complaint.area_id => bad.push(FieldViolation::new(
                        "action_id",
                        format!(
                            "the action is addressed to area {}, the complaint is about {}",
                            a.area_id, complaint.area_id
                        ),
                    )),
                    Some(a) if !kinds.iter().any(|k| *k as i32 == a.kind) => {
                        bad.push(FieldViolation::new(
                            "action_id",
                            format!("the action is no {:?} (it is {:?})", d.outcome, a.kind()),
                        ))
                    }
                    Some(_) => {
                        if !next.action_ids.contains(&d.action_id) {
                            next.action_ids.push(d.action_id.clone());
                        }
                    }
                }
            }
            next.outcome = d.outcome as i32;
            next.decided_on = Some(date_from_naive(d.on));
            next.decision = d.note.clone();
        }
        ComplaintStatus::Received | ComplaintStatus::Unspecified => bad.push(FieldViolation::new(
            "status",
            "UNDER_INVESTIGATION (with a note) or DECIDED (with an outcome)",
        )),
    }
    if !bad.is_empty() {
        return Err(Error::Invalid(bad));
    }
    next.status = d.status as i32;
    next.history.push(ComplaintStep {
        status: d.status as i32,
        on: Some(date_from_naive(d.on)),
        note: d.note.clone(),
    });
    Ok(next)
}

fn issued_on(a: &SupervisoryAction) -> Option<NaiveDate> {
    a.issued_at
        .as_ref()
        .and_then(timestamp_to)
        .map(finnish_date)
}

/// The status of a complaint as it stood on `on` (its last step dated on or before it).
fn status_on(c: &Complaint, on: NaiveDate) -> Option<ComplaintStatus> {
    c.history
        .iter()
        .rfind(|s| day(&s.on).is_some_and(|d| d <= on))
        .and_then(|s| ComplaintStatus::try_from(s.status).ok())
}

/// The procedures under way on `on` (1269/2020 22 §: AVI informs the ministry): orders issued
/// by then whose deadline has not passed, suspensions in force, complaints received and not yet
/// decided. Sorted by area, then start.
pub fn notice(on: NaiveDate, actions: &[StoredAction], complaints: &[Complaint]) -> MinistryNotice {
    let mut procedures = Vec::new();
    for s in actions {
        let a = &s.action;
        let Some(issued) = issued_on(a) else { continue };
        match a.kind() {
            ActionKind::Order | ActionKind::OrderUnderThreat => {
                let Some(deadline) = day(&a.deadline) else {
                    continue;
                };
                if issued > on || deadline < on {
                    continue;
                }
                let threat = a.kind() == ActionKind::OrderUnderThreat;
                procedures.push(Procedure {
                    area_id: a.area_id.clone(),
                    municipality_code: a.municipality_code.clone(),
                    kind: if threat {
                        "order under threat of suspension"
                    } else {
                        "order"
                    }
                    .into(),
                    id: a.action_id.clone(),
                    since: Some(date_from_naive(issued)),
                    deadline: a.deadline,
                    status: match (threat, a.partial) {
                        (false, _) => format!("to be remedied by {deadline}"),
                        (true, false) => format!(
                            "to be remedied by {deadline}, under threat of suspending the whole trial"
                        ),
                        (true, true) => format!(
                            "to be remedied by {deadline}, under threat of a partial suspension"
                        ),
                    },
                    text: a.text.clone(),
                });
            }
            ActionKind::Suspension => {
                let Some(from) = day(&a.effective_from) else {
                    continue;
                };
                let lifted = s.lifted.as_ref().map(|(_, d)| *d);
                if from > on || lifted.is_some_and(|l| l <= on) {
                    continue;
                }
                let extent = if a.partial { "partial" } else { "whole trial" };
                procedures.push(Procedure {
                    area_id: a.area_id.clone(),
                    municipality_code: a.municipality_code.clone(),
                    kind: "suspension".into(),
                    id: a.action_id.clone(),
                    since: Some(date_from_naive(from)),
                    deadline: None,
                    status: match lifted {
                        Some(l) => format!("in force ({extent}); lifted from {l}"),
                        None => format!("in force ({extent})"),
                    },
                    text: a.text.clone(),
                });
            }
            _ => {}
        }
    }
    for c in complaints {
        let status = status_on(c, on);
        let label = match status {
            Some(ComplaintStatus::Received) => "received",
            Some(ComplaintStatus::UnderInvestigation) => "under investigation",
            // Not received yet on that day, or decided by then.
            _ => continue,
        };
        procedures.push(Procedure {
            area_id: c.area_id.clone(),
            municipality_code: c.municipality_code.clone(),
            kind: "complaint".into(),
            id: c.complaint_id.clone(),
            since: c.received_on,
            deadline: None,
            status: label.into(),
            text: c.summary.clone(),
        });
    }
    procedures.sort_by(|a, b| {
        (&a.area_id, a.since.and_then(|d| date_to_naive(&d)), &a.id).cmp(&(
            &b.area_id,
            b.since.and_then(|d| date_to_naive(&d)),
            &b.id,
        ))
    });
    MinistryNotice {
        date: Some(date_from_naive(on)),
        procedures,
    }
}

impl Ledger {
    /// Records a received complaint under its idempotency key.
    pub async fn receive_complaint(
        &self,
        keyed: &Keyed,
        c: NewComplaint,
    ) -> Result<Complaint, Error> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if let Some(first) = keyed.claim::<Complaint>(&mut tx, now).await? {
            return Ok(first);
        }
        let mut complaint = receive(&c, self.clock.today(), Registry::builtin())?;
        complaint.complaint_id = uuid::Uuid::now_v7().to_string();
        self.store
            .insert_complaint(&mut tx, &complaint, now)
            .await?;
        keyed.complete(&mut tx, &complaint).await?;
        tx.commit().await?;
        tracing::info!(complaint_id = %complaint.complaint_id, area = %complaint.area_id, "complaint received");
        Ok(complaint)
    }

    /// Records a step in handling a complaint under its idempotency key.
    pub async fn decide_complaint(
        &self,
        keyed: &Keyed,
        complaint_id: &str,
        d: Decision,
    ) -> Result<Complaint, Error> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if let Some(first) = keyed.claim::<Complaint>(&mut tx, now).await? {
            return Ok(first);
        }
        let complaint = self
            .store
            .complaint_for_update(&mut tx, complaint_id)
            .await?
            .ok_or(Error::NotFound("no such complaint"))?;
        let action = if d.action_id.is_empty() {
            None
        } else {
            self.store.action(&mut tx, &d.action_id).await?
        };
        let next = step(
            &complaint,
            &d,
            self.clock.today(),
            action.as_ref().map(|s| &s.action),
        )?;
        self.store.update_complaint(&mut tx, &next).await?;
        keyed.complete(&mut tx, &next).await?;
        tx.commit().await?;
        tracing::info!(complaint_id = %complaint_id, status = ?d.status, "complaint step recorded");
        Ok(next)
    }

    /// A complaint by id.
    pub async fn complaint(&self, complaint_id: &str) -> Result<Complaint, Error> {
        self.store
            .complaint(complaint_id)
            .await?
            .ok_or(Error::NotFound("no such complaint"))
    }

    /// Complaints about `area` (all when empty) with `status` (all when unspecified), newest
    /// first, paged like the actions.
    pub async fn complaints(
        &self,
        area: &str,
        status: ComplaintStatus,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<(i64, Complaint)>, Error> {
        Ok(self.store.complaints(area, status, after, limit).await?)
    }

    /// The notice to the ministry of the procedures under way on `on`.
    pub async fn ministry_notice(&self, on: NaiveDate) -> Result<MinistryNotice, Error> {
        let actions = self
            .store
            .actions_of_kinds(&[
                ActionKind::Order,
                ActionKind::OrderUnderThreat,
                ActionKind::Suspension,
            ])
            .await?;
        let complaints = self.store.all_complaints().await?;
        Ok(notice(on, &actions, &complaints))
    }
}

#[cfg(test)]
mod tests;
