//! `kokeilu avi …`: AVI's supervisory actions (22 §), and an area's answer to an information
//! request (`kokeilu avi answer-request`, run on the area's side).

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use kokeilu_proto::supervision::{ActionKind, SupervisoryAction};
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
    /// Order an area to remedy a shortcoming by a date.
    Order {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        deadline: NaiveDate,
    },
    /// Give an area a remark.
    Remark {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        #[arg(long)]
        text: String,
    },
    /// Suspend an area's trial, whole or in part, from a date: te-office then keeps the area's new
    /// clients (a whole suspension).
    Suspend {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        from: NaiveDate,
        /// Only part of the area's tasks (named in --text); referrals continue.
        #[arg(long)]
        partial: bool,
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
        } => {
            let a = target
                .connect()
                .await?
                .request_information(avi::RequestInformationRequest {
                    area_id: area,
                    referral_ids: referrals,
                    purpose,
                    ..Default::default()
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
        } => {
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
        }
        AviCommand::Order {
            target,
            area,
            text,
            deadline,
        } => {
            let a = target
                .connect()
                .await?
                .issue_order(avi::IssueOrderRequest {
                    area_id: area,
                    text,
                    deadline: Some(date_from_naive(deadline)),
                    ..Default::default()
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_action(&a);
        }
        AviCommand::Remark { target, area, text } => {
            let a = target
                .connect()
                .await?
                .issue_remark(avi::IssueRemarkRequest {
                    area_id: area,
                    text,
                    ..Default::default()
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
        } => {
            let a = target
                .connect()
                .await?
                .suspend_trial(avi::SuspendTrialRequest {
                    area_id: area,
                    text,
                    effective_from: Some(date_from_naive(from)),
                    partial,
                    ..Default::default()
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            print_action(&a);
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
        Ok(ActionKind::Suspension) => format!(
            "{} suspension from {}",
            if a.partial { "partial" } else { "whole" },
            day(&a.effective_from)
        ),
        _ => "?".to_owned(),
    };
    println!("{}  {:<12} {kind}: {}", a.action_id, a.area_id, a.text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_only_the_birth_date_and_century() {
        assert_eq!(masked("131052-308T"), "131052-****");
        assert!(!masked("131052-308T").contains("308T"));
    }
}
