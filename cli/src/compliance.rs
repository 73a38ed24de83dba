//! `kokeilu compliance …`: AVI's compliance events, and the end of the demo that shows them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt;
use kokeilu_proto::supervision::{ComplianceEvent, ComplianceKind, DeadlineKind};
use kokeilu_proto::supervisor as avi;
use kokeilu_proto::trialarea as ta;
use kokeilu_proto::{date_from_naive, date_to_naive};

use crate::client;
use crate::commands::grpc_err;
use crate::output::{self, say};
use crate::stack::StackInfo;
use kokeilu_platform::identity::Identity;
use serde_json::json;

/// Where AVI's supervisor is: a flag, or the stack.json of `kokeilu up`.
#[derive(Debug, Clone, Args)]
pub struct AviTarget {
    /// Data folder of a stack started with `kokeilu up`.
    #[arg(long, env = "KOKEILU_DATA_DIR", default_value = ".kokeilu")]
    pub data_dir: PathBuf,
    /// Supervisor gRPC URL (overrides the stack's).
    #[arg(long, env = "KOKEILU_SUPERVISOR_URL")]
    pub supervisor: Option<String>,
}

impl AviTarget {
    /// A client of the supervisor.
    pub async fn connect(&self) -> anyhow::Result<client::Supervisor> {
        client::supervisor(&self.url()?).await
    }

    fn url(&self) -> anyhow::Result<String> {
        client::use_data_dir(&self.data_dir);
        match &self.supervisor {
            Some(url) => Ok(url.clone()),
            None => Ok(StackInfo::load(&self.data_dir)?.supervisor),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A deadline passed unmet.
    Missed,
    /// A deadline reported missed was met afterwards.
    MetLate,
    /// A referral to an area that does not cover the home municipality.
    WrongArea,
    /// A statement outside the area's competence.
    OutsideCompetence,
    /// A correction that withdraws an earlier event.
    Retraction,
}

impl Kind {
    fn wire(self) -> i32 {
        (match self {
            Self::Missed => ComplianceKind::DeadlineMissed,
            Self::MetLate => ComplianceKind::DeadlineMetLate,
            Self::WrongArea => ComplianceKind::WrongArea,
            Self::OutsideCompetence => ComplianceKind::StatementOutsideCompetence,
            Self::Retraction => ComplianceKind::Retraction,
        }) as i32
    }
}

#[derive(Debug, Args)]
pub struct Filter {
    #[command(flatten)]
    target: AviTarget,
    /// Only this area's events.
    #[arg(long, default_value = "")]
    area: String,
    /// Only these kinds (comma separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    kind: Vec<Kind>,
}

#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// Follow compliance events live. Resumable: pass the last cursor printed.
    Watch {
        #[command(flatten)]
        filter: Filter,
        /// Start after this cursor: 0 replays every event first, `now` shows only new ones.
        #[arg(long, default_value = "0")]
        after: String,
    },
    /// Print the compliance events recorded so far.
    List {
        #[command(flatten)]
        filter: Filter,
        /// Only the events that stand: no retracted events, no retractions.
        #[arg(long)]
        standing: bool,
    },
    /// Deadlines and monthly figures of one area.
    Summary {
        #[command(flatten)]
        target: AviTarget,
        #[arg(long)]
        area: String,
    },
}

pub async fn run(cmd: ComplianceCommand) -> anyhow::Result<()> {
    match cmd {
        ComplianceCommand::Watch { filter, after } => {
            let mut c = filter.target.connect().await?;
            let mut stream = c
                .subscribe_compliance_events(avi::SubscribeComplianceEventsRequest {
                    area_id: filter.area.clone(),
                    kinds: filter.kind.iter().map(|k| k.wire()).collect(),
                    after_cursor: after,
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            if !output::json() {
                println!("{}", header());
            }
            while let Some(event) = stream.next().await {
                let event = event.map_err(grpc_err)?;
                if output::json() {
                    output::line(&event_json(&event));
                } else {
                    output::text(&line(&event));
                }
            }
            Ok(())
        }
        ComplianceCommand::List { filter, standing } => {
            let mut c = filter.target.connect().await?;
            let events = events(
                &mut c,
                &filter.area,
                &filter.kind.iter().map(|k| k.wire()).collect::<Vec<_>>(),
                standing,
            )
            .await?;
            if output::json() {
                output::document(&json!({
                    "events": events.iter().map(event_json).collect::<Vec<_>>(),
                }));
                return Ok(());
            }
            println!("{}", header());
            for e in &events {
                println!("{}", line(e));
            }
            println!("{} events", events.len());
            Ok(())
        }
        ComplianceCommand::Summary { target, area } => {
            let mut c = target.connect().await?;
            let s = c
                .get_area_summary(avi::GetAreaSummaryRequest { area_id: area })
                .await
                .map_err(grpc_err)?
                .into_inner();
            if output::json() {
                output::document(&json!({
                    "area_id": s.area_id,
                    "deadlines": s.deadlines.iter().map(|d| json!({
                        "deadline": deadline_json(d.deadline),
                        "open": d.open,
                        "met": d.met,
                        "missed": d.missed,
                        "met_late": d.met_late,
                    })).collect::<Vec<_>>(),
                    "months": s.months.iter().map(|m| json!({
                        "month": m.month,
                        "referrals": m.referrals,
                        "acknowledged": m.acknowledged,
                        "rejected": m.rejected,
                        "initial_interviews": m.initial_interviews,
                        "median_days_to_initial_interview": m.median_days_to_initial_interview,
                        "late_initial_interviews": m.late_initial_interviews,
                    })).collect::<Vec<_>>(),
                    "lead_municipality_code": s.lead_municipality_code,
                    "municipalities": s.municipalities.iter().map(|m| json!({
                        "municipality_code": m.municipality_code,
                        "name": m.name,
                        "referrals": m.referrals,
                        "acknowledged": m.acknowledged,
                        "rejected": m.rejected,
                        "initial_interviews": m.initial_interviews,
                        "late_initial_interviews": m.late_initial_interviews,
                        "standing_events": m.standing_events,
                    })).collect::<Vec<_>>(),
                    "standing_events": s.standing_events,
                    "retracted_events": s.retracted_events,
                }));
                return Ok(());
            }
            println!(
                "{:<24} {:>6} {:>6} {:>7} {:>9}",
                "deadline", "open", "met", "missed", "met late"
            );
            for d in &s.deadlines {
                println!(
                    "{:<24} {:>6} {:>6} {:>7} {:>9}",
                    deadline_name(d.deadline),
                    d.open,
                    d.met,
                    d.missed,
                    d.met_late
                );
            }
            println!();
            println!(
                "{:<8} {:>9} {:>13} {:>9} {:>11} {:>14} {:>12}",
                "month",
                "referred",
                "acknowledged",
                "rejected",
                "interviews",
                "median days",
                "late"
            );
            for m in &s.months {
                println!(
                    "{:<8} {:>9} {:>13} {:>9} {:>11} {:>14.1} {:>12}",
                    m.month,
                    m.referrals,
                    m.acknowledged,
                    m.rejected,
                    m.initial_interviews,
                    m.median_days_to_initial_interview,
                    m.late_initial_interviews
                );
            }
            println!();
            println!(
                "{:<4} {:<18} {:>9} {:>13} {:>9} {:>11} {:>6} {:>7}",
                "mun",
                "municipality",
                "referred",
                "acknowledged",
                "rejected",
                "interviews",
                "late",
                "events"
            );
            for m in &s.municipalities {
                let lead = if m.municipality_code == s.lead_municipality_code {
                    " (lead)"
                } else {
                    ""
                };
                println!(
                    "{:<4} {:<18} {:>9} {:>13} {:>9} {:>11} {:>6} {:>7}",
                    m.municipality_code,
                    format!("{}{lead}", m.name),
                    m.referrals,
                    m.acknowledged,
                    m.rejected,
                    m.initial_interviews,
                    m.late_initial_interviews,
                    m.standing_events
                );
            }
            println!(
                "{} events stand, {} retracted by a later correction",
                s.standing_events, s.retracted_events
            );
            Ok(())
        }
    }
}

/// Every compliance event recorded so far, retracted ones and retractions included.
async fn all_events(
    c: &mut client::Supervisor,
    area: &str,
    kinds: &[i32],
) -> anyhow::Result<Vec<ComplianceEvent>> {
    events(c, area, kinds, false).await
}

/// The compliance events recorded so far; `standing_only`: without retracted events and
/// retractions.
async fn events(
    c: &mut client::Supervisor,
    area: &str,
    kinds: &[i32],
    standing_only: bool,
) -> anyhow::Result<Vec<ComplianceEvent>> {
    let mut out = Vec::new();
    let mut cursor = String::from("0");
    loop {
        let page = c
            .list_compliance_events(avi::ListComplianceEventsRequest {
                area_id: area.to_owned(),
                kinds: kinds.to_vec(),
                after_cursor: cursor.clone(),
                page_size: 1000,
                standing_only,
            })
            .await
            .map_err(grpc_err)?
            .into_inner();
        if page.events.is_empty() {
            return Ok(out);
        }
        out.extend(page.events);
        cursor = page.next_cursor;
    }
}

fn kind_name(kind: i32) -> &'static str {
    match ComplianceKind::try_from(kind) {
        Ok(ComplianceKind::DeadlineMissed) => "missed",
        Ok(ComplianceKind::DeadlineMetLate) => "met late",
        Ok(ComplianceKind::WrongArea) => "wrong area",
        Ok(ComplianceKind::StatementOutsideCompetence) => "outside competence",
        Ok(ComplianceKind::Retraction) => "retraction",
        _ => "?",
    }
}

fn deadline_name(kind: i32) -> &'static str {
    match DeadlineKind::try_from(kind) {
        Ok(DeadlineKind::Acknowledgement) => "acknowledgement",
        Ok(DeadlineKind::InitialInterview) => "initial interview",
        Ok(DeadlineKind::IntensiveDiscussions) => "intensive discussions",
        Ok(DeadlineKind::RegularDiscussion) => "regular discussion",
        Ok(DeadlineKind::Statement) => "statement",
        Ok(DeadlineKind::HalfYearlyDiscussions) => "half-yearly discussions",
        _ => "",
    }
}

fn deadline_json(kind: i32) -> String {
    output::variant(
        DeadlineKind::try_from(kind).ok().map(|k| k.as_str_name()),
        "DEADLINE_KIND_",
    )
}

/// One compliance event for JSON output.
fn event_json(e: &ComplianceEvent) -> serde_json::Value {
    json!({
        "event_id": e.event_id,
        "cursor": e.cursor,
        "kind": output::variant(
            ComplianceKind::try_from(e.kind).ok().map(|k| k.as_str_name()),
            "COMPLIANCE_KIND_",
        ),
        "area_id": e.area_id,
        "referral_id": e.referral_id,
        "client_pseudonym": e.client_pseudonym,
        "deadline": deadline_json(e.deadline),
        "due_date": output::date(e.due_date.as_ref()),
        "date": output::date(e.date.as_ref()),
        "detail": e.detail,
        "rule": e.rule,
        "detected_at": output::time(e.detected_at.as_ref().and_then(kokeilu_proto::timestamp_to)),
        "municipality_code": e.municipality_code,
        "retracts_event_id": e.retracts_event_id,
        "retracted": e.retracted,
    })
}

fn header() -> String {
    format!(
        "{:>7}  {:<10} {:<12} {:<4} {:<22} {:<20} {:<10}  referral",
        "cursor", "date", "area", "mun", "event", "deadline", "due"
    )
}

fn line(e: &ComplianceEvent) -> String {
    let day = |d: &Option<kokeilu_proto::common::Date>| {
        d.as_ref()
            .and_then(date_to_naive)
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    // A withdrawn event says so; a retraction names the event it withdraws.
    let event = if e.retracted {
        format!("{} (retracted)", kind_name(e.kind))
    } else {
        kind_name(e.kind).to_owned()
    };
    let retracts = if e.retracts_event_id.is_empty() {
        String::new()
    } else {
        format!(" (retracts {})", e.retracts_event_id)
    };
    format!(
        "{:>7}  {:<10} {:<12} {:<4} {:<22} {:<20} {:<10}  {}{retracts}",
        e.cursor,
        day(&e.date),
        e.area_id,
        e.municipality_code,
        event,
        deadline_name(e.deadline),
        day(&e.due_date),
        e.referral_id
    )
}

/// Waits until the monthly figures AVI holds for `areas`, summed by `count`, reach `target`,
/// polling every `poll`; how long that took, or `None` after `patience`.
pub async fn wait_for_totals<'a>(
    c: &mut client::Supervisor,
    areas: impl Iterator<Item = &'a String> + Clone,
    count: fn(&avi::MonthSummary) -> u32,
    target: usize,
    patience: Duration,
    poll: Duration,
) -> anyhow::Result<Option<Duration>> {
    let start = Instant::now();
    while start.elapsed() < patience {
        let mut total = 0usize;
        for area in areas.clone() {
            let summary = c
                .get_area_summary(avi::GetAreaSummaryRequest {
                    area_id: area.clone(),
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            total += summary
                .months
                .iter()
                .map(|m| count(m) as usize)
                .sum::<usize>();
        }
        if total >= target {
            return Ok(Some(start.elapsed()));
        }
        tokio::time::sleep(poll).await;
    }
    Ok(None)
}

/// The end of the demo: the areas hold initial interviews for half of their new clients today,
/// then AVI's compliance events are shown (interviews already late when the client arrived, and
/// the ones held late).
pub async fn demo_ending(info: &StackInfo, today: NaiveDate) -> anyhow::Result<()> {
    let mut held = 0usize;
    for (area, url) in &info.areas {
        let mut c = client::trial_area_as(url, &Identity::Area(area.clone())).await?;
        let mut acknowledged = Vec::new();
        let mut token = String::new();
        loop {
            let page = c
                .list_incoming_referrals(ta::ListIncomingReferralsRequest {
                    area_id: area.clone(),
                    status: ta::IncomingStatus::Acknowledged as i32,
                    page_size: 1000,
                    page_token: token,
                })
                .await
                .map_err(grpc_err)?
                .into_inner();
            acknowledged.extend(page.referrals.into_iter().map(|r| r.referral_id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        for id in acknowledged.iter().step_by(2) {
            c.record_service_event(ta::RecordServiceEventRequest {
                area_id: area.clone(),
                referral_id: id.clone(),
                kind: ta::ServiceEventKind::InitialInterview as i32,
                date: Some(date_from_naive(today)),
                idempotency_key: format!("{id}:initial-interview"),
            })
            .await
            .map_err(grpc_err)?;
            held += 1;
        }
    }
    say!("the areas held {held} initial interviews today ({today})");

    // Wait until AVI has taken in every interview and its sweep has had time to run over them.
    let mut c = client::supervisor(&info.supervisor).await?;
    let patience = Instant::now() + Duration::from_secs(60);
    let applied = wait_for_totals(
        &mut c,
        info.areas.keys(),
        |m| m.initial_interviews,
        held,
        Duration::from_secs(60),
        Duration::from_millis(250),
    )
    .await?
    .is_some();
    if !applied {
        say!("AVI has not taken in every interview yet; see `kokeilu compliance watch`");
    }
    let mut events = all_events(&mut c, "", &[]).await?;
    let mut stable_since = Instant::now();
    while stable_since.elapsed() < Duration::from_secs(5) && Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = all_events(&mut c, "", &[]).await?;
        if now.len() != events.len() {
            stable_since = Instant::now();
        }
        events = now;
    }

    say!();
    say!("AVI's compliance events:");
    let mut per_area: BTreeMap<(String, &str, &str), usize> = BTreeMap::new();
    for e in &events {
        *per_area
            .entry((
                e.area_id.clone(),
                kind_name(e.kind),
                deadline_name(e.deadline),
            ))
            .or_default() += 1;
    }
    say!(
        "{:<12} {:<18} {:<20} {:>6}",
        "area",
        "event",
        "deadline",
        "count"
    );
    for ((area, kind, deadline), n) in &per_area {
        say!("{area:<12} {kind:<18} {deadline:<20} {n:>6}");
    }
    if let Some(last) = events.last() {
        say!();
        say!("{}", header());
        for e in events.iter().rev().take(5).rev() {
            say!("{}", line(e));
        }
        say!(
            "… {} events; follow them with `kokeilu compliance watch` (from cursor {})",
            events.len(),
            last.cursor
        );
    } else {
        say!("none: every deadline so far was met");
    }
    say!(
        "open statistics: {}/stats/monthly.json (and .csv)",
        info.stats
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_their_wire_values() {
        assert_eq!(Kind::Missed.wire(), ComplianceKind::DeadlineMissed as i32);
        assert_eq!(Kind::MetLate.wire(), ComplianceKind::DeadlineMetLate as i32);
        assert_eq!(Kind::WrongArea.wire(), ComplianceKind::WrongArea as i32);
        assert_eq!(
            Kind::OutsideCompetence.wire(),
            ComplianceKind::StatementOutsideCompetence as i32
        );
        assert_eq!(kind_name(Kind::MetLate.wire()), "met late");
    }

    #[test]
    fn a_line_shows_dates_and_deadline() {
        let e = ComplianceEvent {
            cursor: "12".into(),
            kind: ComplianceKind::DeadlineMissed as i32,
            area_id: "kainuu".into(),
            referral_id: "r1".into(),
            deadline: DeadlineKind::InitialInterview as i32,
            due_date: Some(date_from_naive(
                NaiveDate::from_ymd_opt(2024, 9, 6).unwrap(),
            )),
            date: Some(date_from_naive(
                NaiveDate::from_ymd_opt(2024, 9, 6).unwrap(),
            )),
            ..Default::default()
        };
        let l = line(&e);
        assert!(l.contains("2024-09-06") && l.contains("initial interview") && l.contains("r1"));
        assert!(l.contains("missed"), "{l}");
        assert!(!l.contains("retracted"), "{l}");
    }

    #[test]
    fn a_line_shows_the_municipality_and_retractions() {
        let missed = ComplianceEvent {
            kind: ComplianceKind::DeadlineMissed as i32,
            municipality_code: "205".into(),
            retracted: true,
            ..Default::default()
        };
        let l = line(&missed);
        assert!(l.contains("205") && l.contains("missed (retracted)"), "{l}");
        let correction = ComplianceEvent {
            kind: ComplianceKind::Retraction as i32,
            retracts_event_id: "e1".into(),
            ..Default::default()
        };
        let l = line(&correction);
        assert!(
            l.contains("retraction") && l.contains("(retracts e1)"),
            "{l}"
        );
        assert_eq!(kind_name(Kind::Retraction.wire()), "retraction");
    }
}
