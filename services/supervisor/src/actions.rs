//! AVI's supervisory actions (1269/2020 22 §): information requests, orders with a deadline (to
//! the area or, from 1.6.2021 (421/2021), to one of its municipalities; optionally under threat
//! of suspending the trial in whole or in part), remarks, suspensions and their lifting, sent to
//! the area (and, on the same subject, seen by the TE office) through the outbox. Information
//! requests and every read of an answer are logged.
//!
//! Every action is idempotent ([`Keyed`]): its key is claimed in the transaction that stores and
//! sends it. What the law allows is decided by [`decide`], a pure function of the request, the
//! day and what the request refers to (a complaint, a suspension to lift).

use chrono::NaiveDate;
use kokeilu_bus::Tx;
use kokeilu_bus::envelope::{self, seal};
use kokeilu_bus::idempotency::{self, Claim};
use kokeilu_bus::outbox::{self, OutgoingMessage};
use kokeilu_bus::stored::corrupt;
use kokeilu_proto::supervision::{
    ActionKind, InformationAnswer, SupervisoryAction, SuspensionScope,
};
use kokeilu_proto::supervisor::Complaint;
use kokeilu_proto::{date_from_naive, date_to_naive, subjects, timestamp_from};
use kokeilu_rules::registry::Registry;
use kokeilu_rules::suspension::Scope;
use prost::Message;

use kokeilu_platform::grpc::FieldViolation;
use kokeilu_platform::identity::Identity;

use crate::domain::Access;
use crate::error::Error;
use crate::ledger::Ledger;
use crate::store::StoredAction;

/// The day from which AVI's orders may be addressed to a municipality of the area (421/2021,
/// amending 1269/2020 22 §); before it they go to the area.
pub fn municipality_orders_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 6, 1).unwrap_or(NaiveDate::MIN)
}

/// The law each kind of action rests on (shown on the action as `rule`).
pub mod rule {
    pub const INFORMATION: &str = "1269/2020 22 § (information needed for supervision, free of charge notwithstanding secrecy)";
    pub const ORDER: &str =
        "1269/2020 22 § (order to remedy essential deficiencies within a set deadline)";
    pub const ORDER_TO_MUNICIPALITY: &str = "1269/2020 22 § as amended by 421/2021 (order to remedy within a set deadline, addressed to a trial municipality from 1.6.2021)";
    pub const THREAT: &str = "1269/2020 22 § (obligation to comply under threat of suspending the trial in whole or in part)";
    pub const REMARK: &str = "1269/2020 22 § (remark for the future; not appealable)";
    pub const SUSPENSION: &str = "1269/2020 22 § (suspension of the trial in whole or in part: the municipality's responsibility and competence end to that extent; complied with despite appeal, 808/2019)";
    pub const LIFT: &str =
        "1269/2020 22 § (lifting a suspension: the competence returns from its date)";
}

/// An idempotency key of a mutating call, checked, with the call's method and fingerprint.
#[derive(Debug, Clone)]
pub struct Keyed {
    method: &'static str,
    key: String,
    fingerprint: String,
}

impl Keyed {
    /// `INVALID_ARGUMENT` (field `idempotency_key`) when the key is missing or unusable. The
    /// fingerprint is the encoded request.
    pub fn new(method: &'static str, key: &str, request: &impl Message) -> Result<Self, Error> {
        let key = idempotency::check_key(key).map_err(|m| Error::field("idempotency_key", m))?;
        Ok(Self {
            method,
            key: key.to_owned(),
            fingerprint: idempotency::fingerprint(&request.encode_to_vec()),
        })
    }

    /// Claims the key in `tx`: `Some(first response)` when the same request was answered before.
    pub async fn claim<M: Message + Default>(
        &self,
        tx: &mut Tx,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<M>, Error> {
        match idempotency::claim(tx, self.method, &self.key, &self.fingerprint, now).await? {
            Claim::New => Ok(None),
            Claim::Replay(bytes) => M::decode(bytes.as_slice())
                .map(Some)
                .map_err(|e| Error::Database(corrupt("idempotency.response", e))),
            Claim::Conflict => Err(Error::KeyReused),
        }
    }

    /// Stores the response with the claimed key, in the same transaction as the effect.
    pub async fn complete(&self, tx: &mut Tx, response: &impl Message) -> Result<(), Error> {
        idempotency::complete(tx, self.method, &self.key, &response.encode_to_vec()).await?;
        Ok(())
    }
}

/// What AVI asks for, checked for form at the API; [`decide`] checks it against the law, the
/// day and the stored state.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    /// INFORMATION_REQUEST, ORDER (ORDER_UNDER_THREAT when `threat` is set), REMARK, SUSPENSION
    /// or LIFT_SUSPENSION.
    pub kind: ActionKind,
    pub area: String,
    pub text: String,
    pub referral_ids: Vec<String>,
    pub deadline: Option<NaiveDate>,
    pub effective_from: Option<NaiveDate>,
    /// ORDER: the suspension it threatens (`Some(None)`: of the whole trial).
    pub threat: Option<Option<Scope>>,
    /// SUSPENSION: `None` for the whole trial of the area.
    pub scope: Option<Scope>,
    /// ORDER, REMARK: addressed to this municipality of the area (empty: the area).
    pub municipality: String,
    pub complaint_id: String,
    /// LIFT_SUSPENSION: the suspension to lift.
    pub lifts: String,
    /// The authenticated identity issuing it (`kokeilu://avi…`), for the access log.
    pub actor: String,
}

impl ActionRequest {
    /// A request of `kind` to `area` by `actor`, with nothing else set.
    pub fn new(kind: ActionKind, area: String, actor: String) -> Self {
        Self {
            kind,
            area,
            text: String::new(),
            referral_ids: Vec::new(),
            deadline: None,
            effective_from: None,
            threat: None,
            scope: None,
            municipality: String::new(),
            complaint_id: String::new(),
            lifts: String::new(),
            actor,
        }
    }
}

/// What a request refers to, loaded in the action's transaction.
#[derive(Debug, Default)]
pub struct Refs {
    /// The complaint named by `complaint_id`, if it exists.
    pub complaint: Option<Complaint>,
    /// The action named by `lifts`, if it exists.
    pub suspension: Option<StoredAction>,
}

fn scope_wire(s: &Scope) -> SuspensionScope {
    SuspensionScope {
        client_groups: s.client_groups.clone(),
        municipality_codes: s.municipality_codes.clone(),
        statement_subjects: s.statement_subjects.clone(),
    }
}

/// A domain scope from the wire.
pub fn scope_of(s: &SuspensionScope) -> Scope {
    Scope {
        client_groups: s.client_groups.clone(),
        municipality_codes: s.municipality_codes.clone(),
        statement_subjects: s.statement_subjects.clone(),
    }
}

fn scope_problems(
    registry: &Registry,
    scope: &Scope,
    area: &str,
    on: NaiveDate,
    prefix: &str,
) -> Vec<FieldViolation> {
    scope
        .problems(registry, area, on)
        .into_iter()
        .map(|(field, message)| FieldViolation::new(format!("{prefix}{field}"), message))
        .collect()
}

/// Decides whether the law allows `req` on `today` and, if so, the action to send (without its
/// id and issue time). Refusals: `INVALID_ARGUMENT` for what the request itself gets wrong,
/// `FAILED_PRECONDITION` for what the day or the stored state does not allow.
pub fn decide(
    req: &ActionRequest,
    today: NaiveDate,
    registry: &Registry,
    refs: &Refs,
) -> Result<SupervisoryAction, Error> {
    let mut action = SupervisoryAction {
        kind: req.kind as i32,
        area_id: req.area.clone(),
        text: req.text.clone(),
        referral_ids: req.referral_ids.clone(),
        municipality_code: req.municipality.clone(),
        complaint_id: req.complaint_id.clone(),
        ..Default::default()
    };
    let mut bad = Vec::new();
    if !req.complaint_id.is_empty() {
        match &refs.complaint {
            Some(c) if c.area_id == req.area => {}
            Some(c) => bad.push(FieldViolation::new(
                "complaint_id",
                format!(
                    "the complaint is about area {}, not {}",
                    c.area_id, req.area
                ),
            )),
            None => bad.push(FieldViolation::new("complaint_id", "no such complaint")),
        }
    }
    if !req.municipality.is_empty() {
        // The municipality must belong to the area on the day the action is issued.
        if registry
            .area_for_municipality(&req.municipality, today)
            .is_none_or(|a| a.slug != req.area)
        {
            bad.push(FieldViolation::new(
                "municipality_code",
                format!(
                    "{:?} is not a municipality of area {} on {today}",
                    req.municipality, req.area
                ),
            ));
        }
    }
    match req.kind {
        ActionKind::InformationRequest => action.rule = rule::INFORMATION.into(),
        ActionKind::Order | ActionKind::OrderUnderThreat => {
            let deadline = req.deadline.unwrap_or(today);
            if deadline <= today {
                bad.push(FieldViolation::new(
                    "deadline",
                    format!("the deadline to remedy must be after today ({today})"),
                ));
            }
            action.deadline = Some(date_from_naive(deadline));
            action.rule = if req.municipality.is_empty() {
                rule::ORDER.into()
            } else {
                rule::ORDER_TO_MUNICIPALITY.into()
            };
            if let Some(threat) = &req.threat {
                action.kind = ActionKind::OrderUnderThreat as i32;
                action.rule = format!("{}; {}", action.rule, rule::THREAT);
                if let Some(scope) = threat {
                    action.partial = true;
                    bad.extend(scope_problems(registry, scope, &req.area, today, "threat."));
                    action.scope = Some(scope_wire(scope));
                }
            }
        }
        ActionKind::Remark => action.rule = rule::REMARK.into(),
        ActionKind::Suspension => {
            let from = req.effective_from.unwrap_or(today);
            if from < today {
                bad.push(FieldViolation::new(
                    "effective_from",
                    format!("a suspension takes effect today ({today}) or later"),
                ));
            }
            action.effective_from = Some(date_from_naive(from));
            if let Some(scope) = &req.scope {
                action.partial = true;
                bad.extend(scope_problems(registry, scope, &req.area, from, ""));
                action.scope = Some(scope_wire(scope));
            }
            action.rule = rule::SUSPENSION.into();
        }
        ActionKind::LiftSuspension => {
            let from = req.effective_from.unwrap_or(today);
            if from < today {
                bad.push(FieldViolation::new(
                    "effective_from",
                    format!("a lifting takes effect today ({today}) or later"),
                ));
            }
            let suspension = refs
                .suspension
                .as_ref()
                .filter(|s| {
                    s.action.kind == ActionKind::Suspension as i32 && s.action.area_id == req.area
                })
                .ok_or_else(|| {
                    Error::precondition(
                        "NOT_A_SUSPENSION",
                        format!("action/{}", req.lifts),
                        format!(
                            "{} is not a suspension AVI issued to area {}",
                            req.lifts, req.area
                        ),
                    )
                })?;
            if let Some((by, lifted_from)) = &suspension.lifted {
                return Err(Error::precondition(
                    "ALREADY_LIFTED",
                    format!("action/{}", req.lifts),
                    format!(
                        "suspension {} was already lifted from {lifted_from} by {by}",
                        req.lifts
                    ),
                ));
            }
            let since = suspension
                .action
                .effective_from
                .as_ref()
                .and_then(date_to_naive)
                .ok_or_else(|| {
                    Error::Database(corrupt("actions.payload", "a suspension without a date"))
                })?;
            if from < since {
                bad.push(FieldViolation::new(
                    "effective_from",
                    format!("the suspension is in force from {since}: it cannot be lifted before"),
                ));
            }
            action.effective_from = Some(date_from_naive(from));
            // What it lifts is the suspension's: the parties look it up by `lifts_action_id`.
            action.lifts_action_id = req.lifts.clone();
            action.rule = rule::LIFT.into();
        }
        ActionKind::Unspecified => bad.push(FieldViolation::new("kind", "unknown action kind")),
    }
    if !bad.is_empty() {
        return Err(Error::Invalid(bad));
    }
    // Orders (with or without a threat) go to a municipality only from 1.6.2021 (421/2021).
    if !req.municipality.is_empty()
        && matches!(req.kind, ActionKind::Order | ActionKind::OrderUnderThreat)
        && today < municipality_orders_from()
    {
        return Err(Error::precondition(
            "ORDER_TO_MUNICIPALITY_NOT_IN_FORCE",
            format!("municipality/{}", req.municipality),
            format!(
                "orders are addressed to a trial municipality only from {} (421/2021, 1269/2020 \
                 22 §); before that, address the order to the area",
                municipality_orders_from()
            ),
        ));
    }
    Ok(action)
}

impl Ledger {
    /// Decides, stores and sends an action under its idempotency key; a retry of the same
    /// request returns the first action and sends nothing.
    pub async fn issue(
        &self,
        keyed: &Keyed,
        req: ActionRequest,
    ) -> Result<SupervisoryAction, Error> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if let Some(first) = keyed.claim::<SupervisoryAction>(&mut tx, now).await? {
            return Ok(first);
        }
        let refs = Refs {
            complaint: if req.complaint_id.is_empty() {
                None
            } else {
                self.store
                    .complaint_for_update(&mut tx, &req.complaint_id)
                    .await?
            },
            suspension: if req.lifts.is_empty() {
                None
            } else {
                self.store.action(&mut tx, &req.lifts).await?
            },
        };
        let mut action = decide(&req, self.clock.today(), Registry::builtin(), &refs)?;
        action.action_id = uuid::Uuid::now_v7().to_string();
        action.issued_at = Some(timestamp_from(now));
        self.store.insert_action(&mut tx, &action, now).await?;
        if let Some(from) = action.effective_from.as_ref().and_then(date_to_naive)
            && req.kind == ActionKind::LiftSuspension
            && !self
                .store
                .lift_suspension(&mut tx, &req.lifts, &action.action_id, from)
                .await?
        {
            return Err(Error::precondition(
                "ALREADY_LIFTED",
                format!("action/{}", req.lifts),
                format!("suspension {} was already lifted", req.lifts),
            ));
        }
        if let Some(mut complaint) = refs.complaint {
            // The action follows from the complaint: the complaint lists it.
            complaint.action_ids.push(action.action_id.clone());
            self.store.update_complaint(&mut tx, &complaint).await?;
        }
        if req.kind == ActionKind::InformationRequest {
            let access = Access {
                action_id: action.action_id.clone(),
                area: action.area_id.clone(),
                actor: req.actor.clone(),
                what: format!(
                    "information requested on {} referrals",
                    action.referral_ids.len()
                ),
                purpose: req.text.clone(),
                revealed: false,
                at: now,
            };
            self.store.log_access(&mut tx, &access).await?;
        }
        // One subject per area: the area and the TE office (for suspensions and their lifting)
        // both read it.
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
        keyed.complete(&mut tx, &action).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(action_id = %action.action_id, area = %action.area_id, kind = ?action.kind(), "supervisory action issued");
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

#[cfg(test)]
mod tests;
