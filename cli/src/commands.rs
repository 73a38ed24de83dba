//! Operator commands against a running stack: demo, refer, ack, reject, status, list, watch.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use futures::StreamExt;
use kokeilu_proto::teoffice as te;
use kokeilu_proto::trialarea as ta;
use kokeilu_proto::{date_from_naive, date_to_naive, timestamp_to};
use kokeilu_rules::registry::Registry;

use crate::client;
use crate::driver::{self, LoadConfig};
use crate::output::{self, say};
use crate::stack::StackInfo;
use serde_json::json;

/// How to find the services: flags, or the stack.json of `kokeilu up`.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Data folder of a stack started with `kokeilu up`.
    #[arg(long, env = "KOKEILU_DATA_DIR", default_value = ".kokeilu")]
    pub data_dir: PathBuf,
    /// te-office gRPC URL (overrides the stack's).
    #[arg(long, env = "KOKEILU_TE_OFFICE_URL")]
    pub te_office: Option<String>,
    /// Area gRPC URL, as AREA=URL (overrides the stack's); repeatable.
    #[arg(long = "area-url", value_parser = parse_area_url)]
    pub area_urls: Vec<(String, String)>,
}

fn parse_area_url(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, u)| (a.to_owned(), u.to_owned()))
        .ok_or_else(|| "expected AREA=URL".into())
}

impl Target {
    pub fn info(&self) -> anyhow::Result<StackInfo> {
        client::use_data_dir(&self.data_dir);
        let mut info = match StackInfo::load(&self.data_dir) {
            Ok(i) => i,
            Err(e) if self.te_office.is_none() => return Err(e),
            Err(_) => StackInfo::default(),
        };
        if let Some(t) = &self.te_office {
            info.te_office = t.clone();
        }
        for (a, u) in &self.area_urls {
            info.areas.insert(a.clone(), u.clone());
        }
        Ok(info)
    }

    pub fn area_url(&self, area: &str) -> anyhow::Result<String> {
        self.info()?
            .areas
            .get(area)
            .cloned()
            .with_context(|| format!("no URL known for area {area}: pass --area-url {area}=URL"))
    }
}

pub use crate::error::grpc as grpc_err;

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    target: Target,
    /// How many jobseekers to submit.
    #[arg(long, default_value_t = 200)]
    count: usize,
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let info = args.target.info()?;
    run_demo(&info, args.count).await
}

/// The demo scenario: a batch of jobseekers, ~10 % rejected by the areas, ~5 % outside trials.
pub async fn run_demo(info: &StackInfo, count: usize) -> anyhow::Result<()> {
    let today = info
        .clock_start
        .map(kokeilu_platform::clock::finnish_date)
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    say!("demo: {count} jobseekers to the TE office, areas answer as municipal systems would");
    let report = driver::run(LoadConfig {
        te_office: info.te_office.clone(),
        areas: info.areas.clone(),
        count,
        concurrency: 16,
        reject_share: 0.1,
        outside_share: 0.05,
        all_in_target_group: false,
        today,
        progress: !output::json(),
        patience: Duration::from_secs(120),
    })
    .await?;
    say!();
    say!(
        "{:<12} {:>9} {:>13} {:>9}",
        "area",
        "referred",
        "acknowledged",
        "rejected"
    );
    for (area, c) in &report.per_area {
        say!(
            "{area:<12} {:>9} {:>13} {:>9}",
            c.referred,
            c.acknowledged,
            c.rejected
        );
    }
    let kept: usize = report.kept_by_te_office.values().sum();
    let reasons: Vec<String> = report
        .kept_by_te_office
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    say!(
        "kept by the TE office under the trial rules: {kept} ({})",
        reasons.join(", ")
    );
    if !report.failed.is_empty() {
        say!(
            "refused: {} (first: {})",
            report.failed.len(),
            report.failed[0]
        );
    }
    say!(
        "answered {} of {} in {:.1} s; submit-to-answer p50 {} ms, p99 {} ms",
        report.referred - report.unanswered,
        report.referred,
        report.elapsed.as_secs_f64(),
        driver::quantile(&report.latencies, 0.5).as_millis(),
        driver::quantile(&report.latencies, 0.99).as_millis(),
    );
    if output::json() {
        output::document(&json!({
            "referred": report.referred,
            "answered": report.referred - report.unanswered,
            "unanswered": report.unanswered,
            "refused": report.failed.len(),
            "kept_by_te_office": report.kept_by_te_office,
            "per_area": report.per_area.iter().map(|(a, c)| (a.clone(), json!({
                "referred": c.referred,
                "acknowledged": c.acknowledged,
                "rejected": c.rejected,
            }))).collect::<serde_json::Map<_, _>>(),
            "elapsed_seconds": report.elapsed.as_secs_f64(),
            "latency_p50_ms": driver::quantile(&report.latencies, 0.5).as_millis(),
            "latency_p99_ms": driver::quantile(&report.latencies, 0.99).as_millis(),
        }));
    }
    if report.unanswered > 0 {
        anyhow::bail!("{} referrals got no answer in time", report.unanswered);
    }
    say!();
    crate::compliance::demo_ending(info, today).await
}

#[derive(Debug, Args)]
pub struct ReferArgs {
    #[command(flatten)]
    target: Target,
    /// Henkilötunnus of the jobseeker.
    #[arg(long)]
    hetu: String,
    /// Home municipality code (3 digits); may be empty ("") for temporary protection without a
    /// home municipality, which is then referred by `--residence` (149/2023).
    #[arg(long)]
    municipality: String,
    /// Place of residence, municipality code (3 digits).
    #[arg(long)]
    residence: Option<String>,
    /// The day the TE office held the initial interview of this job search (YYYY-MM-DD).
    #[arg(long)]
    initial_interview: Option<NaiveDate>,
    /// The day the previous job search ended (YYYY-MM-DD; the 6-month rule).
    #[arg(long)]
    previous_job_search_end: Option<NaiveDate>,
    /// The kind of the plan in force, which travels with the referral and stays binding until
    /// the area revises it: employment, activation, integration, multisector.
    #[arg(long, requires = "plan_made_on")]
    plan_kind: Option<String>,
    /// The day the plan was made (YYYY-MM-DD).
    #[arg(long, requires = "plan_kind")]
    plan_made_on: Option<NaiveDate>,
    /// The TE office's id of the plan.
    #[arg(long, requires = "plan_kind")]
    plan_id: Option<String>,
    /// When the plan is next to be reviewed (YYYY-MM-DD).
    #[arg(long, requires = "plan_kind")]
    plan_review: Option<NaiveDate>,
    /// Job search start date (YYYY-MM-DD).
    #[arg(long)]
    job_search_start: NaiveDate,
    /// Target-group grounds: no-earnings-related, under-30, immigrant, foreign-language,
    /// at-risk, temporary-protection.
    #[arg(long, value_delimiter = ',', required = true)]
    grounds: Vec<String>,
    /// Idempotency key (default: a new UUID).
    #[arg(long)]
    key: Option<String>,
}

fn ground(s: &str) -> anyhow::Result<i32> {
    use kokeilu_proto::referral::TargetGroupGround as G;
    Ok(match s {
        "no-earnings-related" => G::NoEarningsRelatedAllowance,
        "under-30" => G::Under30,
        "immigrant" => G::Immigrant,
        "foreign-language" => G::ForeignLanguage,
        "at-risk" => G::AtRiskOfUnemployment,
        "temporary-protection" => G::TemporaryProtection,
        other => anyhow::bail!("unknown ground {other:?}"),
    } as i32)
}

fn plan_kind(s: &str) -> anyhow::Result<i32> {
    use kokeilu_proto::referral::PlanKind as K;
    Ok(match s {
        "employment" => K::Employment,
        "activation" => K::Activation,
        "integration" => K::Integration,
        "multisector" => K::Multisector,
        other => anyhow::bail!("unknown plan kind {other:?}"),
    } as i32)
}

pub async fn refer(args: ReferArgs) -> anyhow::Result<()> {
    let info = args.target.info()?;
    let grounds = args
        .grounds
        .iter()
        .map(|g| ground(g))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let employment_plan = match (&args.plan_kind, args.plan_made_on) {
        (Some(kind), made_on) => Some(kokeilu_proto::referral::EmploymentPlan {
            plan_id: args.plan_id.clone().unwrap_or_default(),
            kind: plan_kind(kind)?,
            made_on: made_on.map(date_from_naive),
            next_review_on: args.plan_review.map(date_from_naive),
        }),
        (None, _) => None,
    };
    let mut c = client::te_office(&info.te_office).await?;
    let resp = c
        .submit_referral(te::SubmitReferralRequest {
            idempotency_key: args.key.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            jobseeker: Some(te::Jobseeker {
                henkilotunnus: args.hetu,
                home_municipality_code: args.municipality,
                job_search_start_date: Some(date_from_naive(args.job_search_start)),
                grounds,
                facts: None,
                initial_interview_date: args.initial_interview.map(date_from_naive),
                previous_job_search_end_date: args.previous_job_search_end.map(date_from_naive),
                employment_plan,
                residence_municipality_code: args.residence.unwrap_or_default(),
            }),
        })
        .await
        .map_err(grpc_err)?
        .into_inner();
    if output::json() {
        output::document(&json!({
            "referral_id": resp.referral_id,
            "area_id": resp.area_id,
            "replayed": resp.replayed,
        }));
        return Ok(());
    }
    println!(
        "referral {} to area {}{}",
        resp.referral_id,
        resp.area_id,
        if resp.replayed {
            " (earlier result for this key)"
        } else {
            ""
        }
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct AckArgs {
    #[command(flatten)]
    target: Target,
    /// The area acting.
    #[arg(long)]
    area: String,
    referral_id: String,
}

pub async fn ack(args: AckArgs) -> anyhow::Result<()> {
    let mut c = client::trial_area(&args.target.area_url(&args.area)?, &args.area).await?;
    let r = c
        .acknowledge_client(ta::AcknowledgeClientRequest {
            area_id: args.area,
            referral_id: args.referral_id,
            idempotency_key: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .map_err(grpc_err)?
        .into_inner();
    if output::json() {
        output::document(&json!({
            "referral_id": r.referral_id,
            "acknowledged_at": output::time(r.acknowledged_at.as_ref().and_then(timestamp_to)),
        }));
        return Ok(());
    }
    println!(
        "acknowledged {} at {}",
        r.referral_id,
        r.acknowledged_at
            .as_ref()
            .and_then(timestamp_to)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long)]
    area: String,
    /// not-our-resident, not-in-target-group, duplicate-client or data-error.
    #[arg(long)]
    reason: String,
    #[arg(long, default_value = "")]
    detail: String,
    referral_id: String,
}

pub async fn reject(args: RejectArgs) -> anyhow::Result<()> {
    use kokeilu_proto::referral::RejectionReason as R;
    let reason = match args.reason.as_str() {
        "not-our-resident" => R::NotOurResident,
        "not-in-target-group" => R::NotInTargetGroup,
        "duplicate-client" => R::DuplicateClient,
        "data-error" => R::DataError,
        other => anyhow::bail!("unknown reason {other:?}"),
    };
    let mut c = client::trial_area(&args.target.area_url(&args.area)?, &args.area).await?;
    c.reject_referral(ta::RejectReferralRequest {
        area_id: args.area,
        referral_id: args.referral_id.clone(),
        reason: reason as i32,
        detail: args.detail,
        idempotency_key: uuid::Uuid::now_v7().to_string(),
    })
    .await
    .map_err(grpc_err)?;
    if output::json() {
        output::document(&json!({
            "referral_id": args.referral_id,
            "status": "rejected",
        }));
        return Ok(());
    }
    println!("rejected {}", args.referral_id);
    Ok(())
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    referral_id: String,
}

fn status_name(v: i32) -> &'static str {
    te::ReferralStatus::try_from(v).map_or("?", |s| match s {
        te::ReferralStatus::Unspecified => "?",
        te::ReferralStatus::Issued => "issued",
        te::ReferralStatus::Delivered => "delivered",
        te::ReferralStatus::Acknowledged => "acknowledged",
        te::ReferralStatus::Rejected => "rejected",
    })
}

/// A status for JSON output: `ISSUED`, `DELIVERED`, `ACKNOWLEDGED`, `REJECTED` (the proto
/// enum's names without their prefix).
pub fn status_json(v: i32) -> String {
    output::variant(
        te::ReferralStatus::try_from(v)
            .ok()
            .map(|s| s.as_str_name()),
        "REFERRAL_STATUS_",
    )
}

pub async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let info = args.target.info()?;
    let mut c = client::te_office(&info.te_office).await?;
    let r = c
        .get_referral(te::GetReferralRequest {
            referral_id: args.referral_id,
        })
        .await
        .map_err(grpc_err)?
        .into_inner();
    if output::json() {
        output::document(&json!({
            "referral_id": r.referral_id,
            "area_id": r.area_id,
            "status": status_json(r.status),
            "referral_date": output::date(r.referral_date.as_ref()),
            "job_search_start_date": output::date(r.job_search_start_date.as_ref()),
            "history": r.history.iter().map(|h| json!({
                "at": output::time(h.at.as_ref().and_then(timestamp_to)),
                "status": status_json(h.status),
                "detail": h.detail,
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    println!("referral   {}", r.referral_id);
    println!("area       {}", r.area_id);
    println!("status     {}", status_name(r.status));
    println!(
        "dates      referral {}  job search since {}",
        r.referral_date
            .as_ref()
            .and_then(date_to_naive)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        r.job_search_start_date
            .as_ref()
            .and_then(date_to_naive)
            .map(|d| d.to_string())
            .unwrap_or_default()
    );
    for h in r.history {
        println!(
            "  {:<28} {:<13} {}",
            h.at.as_ref()
                .and_then(timestamp_to)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            status_name(h.status),
            h.detail
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, default_value = "")]
    area: String,
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let info = args.target.info()?;
    let mut c = client::te_office(&info.te_office).await?;
    let r = c
        .list_referrals(te::ListReferralsRequest {
            area_id: args.area,
            status: 0,
            page_size: args.limit,
            page_token: String::new(),
        })
        .await
        .map_err(grpc_err)?
        .into_inner();
    if output::json() {
        output::document(&json!({
            "referrals": r.referrals.iter().map(|x| json!({
                "referral_id": x.referral_id,
                "area_id": x.area_id,
                "home_municipality_code": x.home_municipality_code,
                "status": status_json(x.status),
            })).collect::<Vec<_>>(),
            "next_page_token": r.next_page_token,
        }));
        return Ok(());
    }
    for x in r.referrals {
        println!(
            "{}  {:<12} {:<4} {}",
            x.referral_id,
            x.area_id,
            x.home_municipality_code,
            status_name(x.status)
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, default_value = "")]
    area: String,
    /// Cursor to resume after ("now" for new changes only, "0" for all).
    #[arg(long, default_value = "now")]
    after: String,
}

pub async fn watch(args: WatchArgs) -> anyhow::Result<()> {
    let info = args.target.info()?;
    let mut c = client::te_office(&info.te_office).await?;
    let mut s = c
        .watch_referrals(te::WatchReferralsRequest {
            area_id: args.area,
            after_cursor: args.after,
        })
        .await
        .map_err(grpc_err)?
        .into_inner();
    while let Some(change) = s.next().await {
        let change = change.map_err(grpc_err)?;
        if output::json() {
            output::line(&json!({
                "cursor": change.cursor,
                "referral_id": change.referral_id,
                "area_id": change.area_id,
                "status": status_json(change.status),
            }));
            continue;
        }
        output::text(&format!(
            "{:>8}  {}  {:<12} {}",
            change.cursor,
            change.referral_id,
            change.area_id,
            status_name(change.status)
        ));
    }
    Ok(())
}

/// `kokeilu areas`.
pub fn areas() -> anyhow::Result<()> {
    let registry = Registry::builtin();
    let trial = registry
        .trials()
        .iter()
        .find(|t| t.id == "2021")
        .context("the registry has no 2021 trial")?;
    if output::json() {
        output::document(&serde_json::Value::Array(
            trial
                .areas
                .iter()
                .map(|area| {
                    json!({
                        "slug": area.slug,
                        "municipalities": area.municipalities.iter().map(|c| json!({
                            "code": c,
                            "name": registry.municipality(c).map(|m| m.name.clone()),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ));
        return Ok(());
    }
    for area in &trial.areas {
        let names: Vec<String> = area
            .municipalities
            .iter()
            .map(|c| {
                registry
                    .municipality(c)
                    .map_or_else(|| c.clone(), |m| format!("{} {}", c, m.name))
            })
            .collect();
        println!("{:<22} {}", area.slug, names.join(", "));
    }
    Ok(())
}
