//! `kokeilu avi …`: AVI's supervisory actions (1269/2020 22 §): information requests, orders
//! (to the area or one of its municipalities, optionally under threat of suspension), remarks,
//! suspensions and their lifting, complaints (kantelu) and the notice to the ministry of the
//! procedures under way; and an area's answer to an information request
//! (`kokeilu avi answer-request`, run on the area's side).
//!
//! Every call that changes something carries an idempotency key: `--idempotency-key`, by default
//! a new one per command. Run a command again with the same key and it returns the first result
//! instead of acting twice.

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction, SuspensionScope};
use kokeilu_proto::supervisor as avi;
use kokeilu_proto::trialarea as ta;
use kokeilu_proto::{date_from_naive, date_to_naive};

use crate::client;
use crate::commands::{Target, grpc_err};
use crate::compliance::AviTarget;
use crate::output;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum AviCommand {
    /// Ask an area for the identifying details of some referrals (logged at both ends).
    RequestInfo {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        /// Referral ids the request is about (comma separated).
        #[arg(long, value_delimiter = ',', required = true)]
        referrals: Vec<String>,
        /// Why the details are needed (goes into the log).
        #[arg(long)]
        purpose: String,
        #[command(flatten)]
        key: Key,
    },
    /// Show an area's answer to an information request.
    ShowAnswer {
        #[command(flatten)]
        target: AviTarget,
        action_id: String,
        /// Print henkilötunnukset in full (otherwise only the birth date part). The service shows
        /// them only to a named inspector (`--as avi-staff-<id>`); every read is logged.
        #[arg(long)]
        reveal: bool,
    },
    /// Order an area, or one of its municipalities (from 1.6.2021), to remedy a shortcoming by a
    /// date; with --threat, under threat of suspending the trial in whole or in part.
    Order {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        deadline: NaiveDate,
        /// Address the order to this municipality of the area (kuntanumero).
        #[arg(long)]
        municipality: Option<String>,
        /// Under threat of suspending the whole trial (full) or the part named by the scope
        /// flags (partial).
        #[arg(long)]
        threat: Option<Threat>,
        #[command(flatten)]
        scope: ScopeArgs,
        /// The complaint the order follows from.
        #[arg(long)]
        complaint: Option<String>,
        #[command(flatten)]
        key: Key,
    },
    /// Give an area, or one of its municipalities, a remark.
    Remark {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        municipality: Option<String>,
        #[arg(long)]
        complaint: Option<String>,
        #[command(flatten)]
        key: Key,
    },
    /// Suspend an area's trial from a date, whole or in part: te-office then keeps the covered
    /// clients (and the statements of covered subjects).
    Suspend {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        from: NaiveDate,
        /// Only what the scope flags name (implied by any of them).
        #[arg(long)]
        partial: bool,
        #[command(flatten)]
        scope: ScopeArgs,
        #[arg(long)]
        complaint: Option<String>,
        #[command(flatten)]
        key: Key,
    },
    /// Lift a suspension: the area's competence returns from the date.
    Lift {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        /// The suspension's action id.
        #[arg(long)]
        suspension: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        text: String,
        #[command(flatten)]
        key: Key,
    },
    /// Complaints (kantelu): receive, decide, list, show.
    #[command(subcommand)]
    Complaint(ComplaintCommand),
    /// The notice to the ministry (TEM) of the supervision procedures under way on a date.
    Notice {
        #[command(flatten)]
        target: AviTarget,
        /// The day (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// AVI's actions so far.
    Actions {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long, default_value = "")]
        area: String,
    },
    /// (At the area) answer an information request: sends the requested clients' details to AVI.
    AnswerRequest(AnswerArgs),
}

#[derive(Debug, Subcommand)]
pub enum ComplaintCommand {
    /// Record a complaint about an area or one of its municipalities.
    Receive {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        #[arg(long)]
        municipality: Option<String>,
        /// The day AVI received it.
        #[arg(long)]
        received_on: NaiveDate,
        /// What it is about (no identity codes; name clients by referral id).
        #[arg(long)]
        summary: String,
        #[arg(long, value_delimiter = ',')]
        referrals: Vec<String>,
        #[command(flatten)]
        key: Key,
    },
    /// Record a step: under investigation (with --note), or decided (with --outcome; a remark,
    /// order or suspension outcome names its --action).
    Decide {
        #[command(flatten)]
        target: AviTarget,
        complaint_id: String,
        #[arg(long)]
        status: StepStatus,
        #[arg(long)]
        outcome: Option<Outcome>,
        /// The day of the step (default: today).
        #[arg(long)]
        on: Option<NaiveDate>,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        action: Option<String>,
        #[command(flatten)]
        key: Key,
    },
    /// Complaints, newest first.
    List {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long, default_value = "")]
        area: String,
        #[arg(long)]
        status: Option<ListStatus>,
    },
    /// One complaint with its history.
    Show {
        #[command(flatten)]
        target: AviTarget,
        complaint_id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Threat {
    Full,
    Partial,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StepStatus {
    UnderInvestigation,
    Decided,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListStatus {
    Received,
    UnderInvestigation,
    Decided,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Outcome {
    NoAction,
    Dismissed,
    Remark,
    Order,
    Suspension,
}

/// What a partial suspension covers (or a threatened one would).
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Client groups (target-group ground names: under_30, immigrant, …; comma separated).
    #[arg(long = "group", value_delimiter = ',')]
    groups: Vec<String>,
    /// Municipalities of the area (kuntanumero; comma separated).
    #[arg(long = "municipality-scope", value_delimiter = ',')]
    municipalities: Vec<String>,
    /// Statement subjects whose competence returns to the TE office (e.g. general_conditions).
    #[arg(long = "subject", value_delimiter = ',')]
    subjects: Vec<String>,
}

impl ScopeArgs {
    fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.municipalities.is_empty() && self.subjects.is_empty()
    }

    fn wire(self) -> SuspensionScope {
        SuspensionScope {
            client_groups: self.groups,
            municipality_codes: self.municipalities,
            statement_subjects: self.subjects,
        }
    }
}

/// The idempotency key of a call that changes something.
#[derive(Debug, Args)]
pub struct Key {
    /// Unique per intended change; repeat it to retry safely (default: a new key).
    #[arg(long)]
    idempotency_key: Option<String>,
}

impl Key {
    fn get(self) -> String {
        self.idempotency_key
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
    }
}

#[derive(Debug, Args)]
pub struct AnswerArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long)]
    area: String,
    action_id: String,
}

pub async fn run(cmd: AviCommand) -> anyhow::Result<()> {
    match cmd {
        AviCommand::RequestInfo {
            target,
            area,
            referrals,
            purpose,
            key,
        } => {
            let a = target
                .connect()
                .await?
                .request_information(avi::RequestInformationRequest {
                    area_id: area,
                    referral_ids: referrals,
                    purpose,
                    idempotency_key: key.get(),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_action(&a);
        }
        AviCommand::ShowAnswer {
            target,
            action_id,
            reveal,
        } => show_answer(target, action_id, reveal).await?,
        AviCommand::Order {
            target,
            area,
            text,
            deadline,
            municipality,
            threat,
            scope,
            complaint,
            key,
        } => {
            let threat = match threat {
                None if !scope.is_empty() => {
                    anyhow::bail!("the scope flags name a partial suspension: add --threat partial")
                }
                None => None,
                Some(Threat::Full) if !scope.is_empty() => {
                    anyhow::bail!("--threat full suspends the whole trial: drop the scope flags")
                }
                Some(Threat::Full) => Some(avi::SuspensionThreat::default()),
                Some(Threat::Partial) => Some(avi::SuspensionThreat {
                    partial: true,
                    scope: Some(scope.wire()),
                }),
            };
            let a = target
                .connect()
                .await?
                .issue_order(avi::IssueOrderRequest {
                    area_id: area,
                    text,
                    deadline: Some(date_from_naive(deadline)),
                    municipality_code: municipality.unwrap_or_default(),
                    complaint_id: complaint.unwrap_or_default(),
                    idempotency_key: key.get(),
                    threat,
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_action(&a);
        }
        AviCommand::Remark {
            target,
            area,
            text,
            municipality,
            complaint,
            key,
        } => {
            let a = target
                .connect()
                .await?
                .issue_remark(avi::IssueRemarkRequest {
                    area_id: area,
                    text,
                    municipality_code: municipality.unwrap_or_default(),
                    complaint_id: complaint.unwrap_or_default(),
                    idempotency_key: key.get(),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_action(&a);
        }
        AviCommand::Suspend {
            target,
            area,
            text,
            from,
            partial,
            scope,
            complaint,
            key,
        } => {
            let partial = partial || !scope.is_empty();
            let a = target
                .connect()
                .await?
                .suspend_trial(avi::SuspendTrialRequest {
                    area_id: area,
                    text,
                    effective_from: Some(date_from_naive(from)),
                    partial,
                    scope: partial.then(|| scope.wire()),
                    complaint_id: complaint.unwrap_or_default(),
                    idempotency_key: key.get(),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_action(&a);
        }
        AviCommand::Lift {
            target,
            area,
            suspension,
            from,
            text,
            key,
        } => {
            let a = target
                .connect()
                .await?
                .lift_suspension(avi::LiftSuspensionRequest {
                    area_id: area,
                    suspension_action_id: suspension,
                    effective_from: Some(date_from_naive(from)),
                    text,
                    idempotency_key: key.get(),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_action(&a);
        }
        AviCommand::Complaint(cmd) => complaint(cmd).await?,
        AviCommand::Notice { target, date } => {
            let notice = target
                .connect()
                .await?
                .get_ministry_notice(avi::GetMinistryNoticeRequest {
                    date: date.map(date_from_naive),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_notice(&notice);
        }
        AviCommand::Actions { target, area } => {
            let mut client = target.connect().await?;
            // Every page, newest first.
            let mut actions = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_actions(avi::ListActionsRequest {
                        area_id: area.clone(),
                        page_size: 0,
                        page_token,
                    })
                    .await
                    .map_err(grpc_err)?
                    .into_inner();
                actions.extend(page.actions);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if output::json() {
                output::document(&json!({
                    "actions": actions.iter().map(action_json).collect::<Vec<_>>(),
                }));
                return Ok(());
            }
            for a in &actions {
                print_action(a);
            }
        }
        AviCommand::AnswerRequest(args) => {
            let url = args.target.area_url(&args.area)?;
            let r = client::trial_area(&url, &args.area)
                .await?
                .answer_information_request(ta::AnswerInformationRequestRequest {
                    area_id: args.area,
                    action_id: args.action_id,
                    idempotency_key: uuid::Uuid::now_v7().to_string(),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            if output::json() {
                output::document(&json!({ "records": r.records }));
            } else {
                println!("sent the details of {} clients to AVI", r.records);
            }
        }
    }
    Ok(())
}

async fn show_answer(target: AviTarget, action_id: String, reveal: bool) -> anyhow::Result<()> {
    let answer = target
        .connect()
        .await?
        .get_information_answer(avi::GetInformationAnswerRequest { action_id })
        .await
        .map_err(grpc_err)?
        .into_inner();
    if reveal && answer.masked {
        eprintln!(
            "note: the supervisor masked the henkilötunnus: only a named inspector \
             (--as avi-staff-<id>) reads them in clear"
        );
    }
    if output::json() {
        output::document(&json!({
            "action_id": answer.action_id,
            "masked": answer.masked,
            "area_id": answer.area_id,
            "answered_at": output::time(answer.answered_at.as_ref().and_then(kokeilu_proto::timestamp_to)),
            "records": answer.records.iter().map(|r| json!({
                "referral_id": r.referral_id,
                "henkilotunnus": if reveal { r.henkilotunnus.clone() } else { masked(&r.henkilotunnus) },
                "home_municipality_code": r.home_municipality_code,
                "status": r.status,
                "received_at": output::time(r.received_at.as_ref().and_then(kokeilu_proto::timestamp_to)),
                "decided_at": output::time(r.decided_at.as_ref().and_then(kokeilu_proto::timestamp_to)),
                "service_events": r.service_events.len(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    for r in &answer.records {
        let code = if reveal {
            r.henkilotunnus.clone()
        } else {
            masked(&r.henkilotunnus)
        };
        println!(
            "{}  {code}  municipality {}  {}  {} service events",
            r.referral_id,
            r.home_municipality_code,
            r.status,
            r.service_events.len()
        );
    }
    println!("{} clients from {}", answer.records.len(), answer.area_id);
    Ok(())
}

async fn complaint(cmd: ComplaintCommand) -> anyhow::Result<()> {
    match cmd {
        ComplaintCommand::Receive {
            target,
            area,
            municipality,
            received_on,
            summary,
            referrals,
            key,
        } => {
            let c = target
                .connect()
                .await?
                .receive_complaint(avi::ReceiveComplaintRequest {
                    area_id: area,
                    municipality_code: municipality.unwrap_or_default(),
                    received_on: Some(date_from_naive(received_on)),
                    summary,
                    referral_ids: referrals,
                    idempotency_key: key.get(),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_complaint(&c, true);
        }
        ComplaintCommand::Decide {
            target,
            complaint_id,
            status,
            outcome,
            on,
            note,
            action,
            key,
        } => {
            let status = match status {
                StepStatus::UnderInvestigation => avi::ComplaintStatus::UnderInvestigation,
                StepStatus::Decided => avi::ComplaintStatus::Decided,
            };
            let outcome = match outcome {
                None => avi::ComplaintOutcome::Unspecified,
                Some(Outcome::NoAction) => avi::ComplaintOutcome::NoAction,
                Some(Outcome::Dismissed) => avi::ComplaintOutcome::Dismissed,
                Some(Outcome::Remark) => avi::ComplaintOutcome::Remark,
                Some(Outcome::Order) => avi::ComplaintOutcome::Order,
                Some(Outcome::Suspension) => avi::ComplaintOutcome::Suspension,
            };
            let c = target
                .connect()
                .await?
                .decide_complaint(avi::DecideComplaintRequest {
                    complaint_id,
                    status: status as i32,
                    outcome: outcome as i32,
                    // Unset: the service's today.
                    on: on.map(date_from_naive),
                    note,
                    action_id: action.unwrap_or_default(),
                    idempotency_key: key.get(),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_complaint(&c, true);
        }
        ComplaintCommand::List {
            target,
            area,
            status,
        } => {
            let status = match status {
                None => avi::ComplaintStatus::Unspecified,
                Some(ListStatus::Received) => avi::ComplaintStatus::Received,
                Some(ListStatus::UnderInvestigation) => avi::ComplaintStatus::UnderInvestigation,
                Some(ListStatus::Decided) => avi::ComplaintStatus::Decided,
            };
            let mut client = target.connect().await?;
            let mut complaints = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_complaints(avi::ListComplaintsRequest {
                        area_id: area.clone(),
                        status: status as i32,
                        page_size: 0,
                        page_token,
                    })
                    .await
                    .map_err(grpc_err)?
                    .into_inner();
                complaints.extend(page.complaints);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if output::json() {
                output::document(&json!({
                    "complaints": complaints.iter().map(complaint_json).collect::<Vec<_>>(),
                }));
                return Ok(());
            }
            for c in &complaints {
                print_complaint(c, false);
            }
        }
        ComplaintCommand::Show {
            target,
            complaint_id,
        } => {
            let c = target
                .connect()
                .await?
                .get_complaint(avi::GetComplaintRequest { complaint_id })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_complaint(&c, true);
        }
    }
    Ok(())
}

/// The birth-date part of a henkilötunnus only (`131052-****`).
fn masked(code: &str) -> String {
    let head: String = code.chars().take(7).collect();
    format!("{head}****")
}

/// One supervisory action for JSON output.
fn action_json(a: &SupervisoryAction) -> serde_json::Value {
    json!({
        "action_id": a.action_id,
        "kind": output::variant(
            ActionKind::try_from(a.kind).ok().map(|k| k.as_str_name()),
            "ACTION_KIND_",
        ),
        "area_id": a.area_id,
        "text": a.text,
        "referral_ids": a.referral_ids,
        "deadline": output::date(a.deadline.as_ref()),
        "effective_from": output::date(a.effective_from.as_ref()),
        "partial": a.partial,
        "scope": a.scope.as_ref().map(|s| json!({
            "client_groups": s.client_groups,
            "municipality_codes": s.municipality_codes,
            "statement_subjects": s.statement_subjects,
        })),
        "municipality_code": a.municipality_code,
        "lifts_action_id": a.lifts_action_id,
        "complaint_id": a.complaint_id,
        "rule": a.rule,
        "issued_at": output::time(a.issued_at.as_ref().and_then(kokeilu_proto::timestamp_to)),
    })
}

/// A created or listed action: a line, or with `--json` one JSON document.
fn print_action(a: &SupervisoryAction) {
    if output::json() {
        output::document(&action_json(a));
        return;
    }
    let day = |d: &Option<kokeilu_proto::common::Date>| {
        d.as_ref()
            .and_then(date_to_naive)
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    let kind = match ActionKind::try_from(a.kind) {
        Ok(ActionKind::InformationRequest) => "information request".to_owned(),
        Ok(ActionKind::Order) => format!("order (remedy by {})", day(&a.deadline)),
        Ok(ActionKind::Remark) => "remark".to_owned(),
        Ok(ActionKind::OrderUnderThreat) => format!(
            "order (remedy by {}) under threat of {} suspension",
            day(&a.deadline),
            if a.partial { "a partial" } else { "a whole" }
        ),
        Ok(ActionKind::Suspension) => format!(
            "{} suspension from {}",
            if a.partial { "partial" } else { "whole" },
            day(&a.effective_from)
        ),
        Ok(ActionKind::LiftSuspension) => format!(
            "lifts suspension {} from {}",
            a.lifts_action_id,
            day(&a.effective_from)
        ),
        _ => "?".to_owned(),
    };
    let to = if a.municipality_code.is_empty() {
        a.area_id.clone()
    } else {
        format!("{}/{}", a.area_id, a.municipality_code)
    };
    println!("{}  {to:<12} {kind}: {}", a.action_id, a.text);
    if let Some(s) = a.scope.as_ref().filter(|_| a.partial) {
        println!("    covers: {}", scope_text(s));
    }
    if !a.rule.is_empty() {
        println!("    rule: {}", a.rule);
    }
}

fn scope_text(s: &SuspensionScope) -> String {
    let mut parts = Vec::new();
    if !s.client_groups.is_empty() {
        parts.push(format!("groups {}", s.client_groups.join(", ")));
    }
    if !s.municipality_codes.is_empty() {
        parts.push(format!(
            "municipalities {}",
            s.municipality_codes.join(", ")
        ));
    }
    if !s.statement_subjects.is_empty() {
        parts.push(format!("statements on {}", s.statement_subjects.join(", ")));
    }
    parts.join("; ")
}

fn complaint_json(c: &avi::Complaint) -> serde_json::Value {
    json!({
        "complaint_id": c.complaint_id,
        "area_id": c.area_id,
        "municipality_code": c.municipality_code,
        "received_on": output::date(c.received_on.as_ref()),
        "summary": c.summary,
        "referral_ids": c.referral_ids,
        "status": output::variant(
            avi::ComplaintStatus::try_from(c.status).ok().map(|s| s.as_str_name()),
            "COMPLAINT_STATUS_",
        ),
        "outcome": output::variant(
            avi::ComplaintOutcome::try_from(c.outcome).ok().map(|s| s.as_str_name()),
            "COMPLAINT_OUTCOME_",
        ),
        "decided_on": output::date(c.decided_on.as_ref()),
        "decision": c.decision,
        "action_ids": c.action_ids,
        "history": c.history.iter().map(|s| json!({
            "status": output::variant(
                avi::ComplaintStatus::try_from(s.status).ok().map(|s| s.as_str_name()),
                "COMPLAINT_STATUS_",
            ),
            "on": output::date(s.on.as_ref()),
            "note": s.note,
        })).collect::<Vec<_>>(),
    })
}

/// A complaint: one line, or with `history` its steps and actions too.
fn print_complaint(c: &avi::Complaint, history: bool) {
    if output::json() {
        output::document(&complaint_json(c));
        return;
    }
    let day = |d: Option<&kokeilu_proto::common::Date>| {
        d.and_then(date_to_naive)
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    let status = output::variant(
        avi::ComplaintStatus::try_from(c.status)
            .ok()
            .map(|s| s.as_str_name()),
        "COMPLAINT_STATUS_",
    );
    let to = if c.municipality_code.is_empty() {
        c.area_id.clone()
    } else {
        format!("{}/{}", c.area_id, c.municipality_code)
    };
    println!(
        "{}  {to:<12} received {}  {status}: {}",
        c.complaint_id,
        day(c.received_on.as_ref()),
        c.summary
    );
    if !history {
        return;
    }
    for s in &c.history {
        let status = output::variant(
            avi::ComplaintStatus::try_from(s.status)
                .ok()
                .map(|s| s.as_str_name()),
            "COMPLAINT_STATUS_",
        );
        println!("    {}  {status}  {}", day(s.on.as_ref()), s.note);
    }
    if !c.action_ids.is_empty() {
        println!("    actions: {}", c.action_ids.join(", "));
    }
}

/// The notice to the ministry: one line per procedure under way.
fn print_notice(n: &avi::MinistryNotice) {
    let day = |d: Option<&kokeilu_proto::common::Date>| {
        d.and_then(date_to_naive)
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    if output::json() {
        output::document(&json!({
            "date": output::date(n.date.as_ref()),
            "procedures": n.procedures.iter().map(|p| json!({
                "area_id": p.area_id,
                "municipality_code": p.municipality_code,
                "kind": p.kind,
                "id": p.id,
                "since": output::date(p.since.as_ref()),
                "deadline": output::date(p.deadline.as_ref()),
                "status": p.status,
                "text": p.text,
            })).collect::<Vec<_>>(),
        }));
        return;
    }
    println!(
        "Supervision procedures under way on {} (1269/2020 22 §): {}",
        day(n.date.as_ref()),
        n.procedures.len()
    );
    for p in &n.procedures {
        let at = if p.municipality_code.is_empty() {
            p.area_id.clone()
        } else {
            format!("{}/{}", p.area_id, p.municipality_code)
        };
        println!(
            "  {at:<12} {} since {}  {}  {}: {}",
            p.kind,
            day(p.since.as_ref()),
            p.status,
            p.id,
            p.text
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        avi: AviCommand,
    }

    fn parse(args: &[&str]) -> AviCommand {
        Cli::try_parse_from(std::iter::once("avi").chain(args.iter().copied()))
            .unwrap()
            .avi
    }

    #[test]
    fn an_order_under_threat_of_a_partial_suspension_parses_its_scope() {
        let AviCommand::Order {
            municipality,
            threat,
            scope,
            key,
            ..
        } = parse(&[
            "order",
            "--area",
            "kainuu",
            "--text",
            "x",
            "--deadline",
            "2024-10-01",
            "--municipality",
            "578",
            "--threat",
            "partial",
            "--group",
            "under_30,immigrant",
            "--municipality-scope",
            "205",
        ])
        else {
            panic!("not an order");
        };
        assert_eq!(municipality.as_deref(), Some("578"));
        assert!(matches!(threat, Some(Threat::Partial)));
        let scope = scope.wire();
        assert_eq!(scope.client_groups, ["under_30", "immigrant"]);
        assert_eq!(scope.municipality_codes, ["205"]);
        // Without --idempotency-key every command gets a new key; with it, the given one.
        assert_ne!(key.get(), "");
        let AviCommand::Lift { key, .. } = parse(&[
            "lift",
            "--area",
            "kainuu",
            "--suspension",
            "s",
            "--from",
            "2024-10-01",
            "--text",
            "x",
            "--idempotency-key",
            "retry-me",
        ]) else {
            panic!("not a lift");
        };
        assert_eq!(key.get(), "retry-me");
    }

    #[test]
    fn complaint_and_notice_commands_parse() {
        let AviCommand::Complaint(ComplaintCommand::Decide {
            status, outcome, ..
        }) = parse(&[
            "complaint",
            "decide",
            "c-1",
            "--status",
            "decided",
            "--outcome",
            "remark",
            "--action",
            "a-1",
        ])
        else {
            panic!("not a decision");
        };
        assert!(matches!(status, StepStatus::Decided));
        assert!(matches!(outcome, Some(Outcome::Remark)));
        assert!(matches!(
            parse(&["notice", "--date", "2024-09-05"]),
            AviCommand::Notice { date: Some(_), .. }
        ));
        assert!(matches!(
            parse(&["complaint", "list", "--status", "under-investigation"]),
            AviCommand::Complaint(ComplaintCommand::List {
                status: Some(ListStatus::UnderInvestigation),
                ..
            })
        ));
    }

    #[test]
    fn masking_keeps_only_the_birth_date_and_century() {
        assert_eq!(masked("131052-308T"), "131052-****");
        assert!(!masked("131052-308T").contains("308T"));
    }
}
