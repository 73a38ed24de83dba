//! `kokeilu bench`: N referrals through a fresh stack (te-office → area → acknowledgement by a
//! load driver over gRPC → acknowledged at te-office), on SQLite or PostgreSQL; prints
//! referrals/s and submit-to-acknowledged latency. Figures go into BENCHMARKS.md.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use crate::driver::{self, LoadConfig};
use crate::stack::{Stack, StackOptions, Storage};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Referrals to push through.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Database backend of every service.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// PostgreSQL server for --backend postgres (a user that may create databases).
    #[arg(
        long,
        env = "KOKEILU_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Concurrent SubmitReferral calls.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Areas to spread the referrals over.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kainuu,pirkanmaa,helsinki"
    )]
    areas: Vec<String>,
    #[arg(long, env = "KOKEILU_TOOLS_DIR", default_value = ".tools")]
    tools_dir: std::path::PathBuf,
    /// Service clock start (inside the 2021–2024 trial).
    #[arg(long, default_value = "2024-09-02T06:00:00Z")]
    clock_start: DateTime<Utc>,
}

fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()?)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("kokeilu-bench-")
        .tempdir()?;
    let n = args.areas.len();
    let ports = free_ports(2 * n + 6)?;
    let prefix = format!("kokeilu_bench_{}_", std::process::id());
    let storage = match args.backend {
        Backend::Sqlite => Storage::Sqlite,
        Backend::Postgres => Storage::Postgres {
            admin_url: args.postgres_url.clone(),
            prefix: prefix.clone(),
        },
    };
    let opts = StackOptions {
        data_dir: dir.path().to_path_buf(),
        tools_dir: args.tools_dir.clone(),
        areas: args.areas.clone(),
        storage,
        nats_port: Some(ports[0]),
        te_office_port: ports[1],
        supervisor_port: ports[2],
        stats_port: ports[3],
        area_ports: ports[6..6 + n].to_vec(),
        te_office_admin_port: ports[4],
        supervisor_admin_port: ports[5],
        area_admin_ports: ports[6 + n..].to_vec(),
        sweep_interval_secs: 60,
        clock_start: Some(args.clock_start),
        log: "warn".into(),
    };
    eprintln!(
        "starting a fresh stack ({:?}, {} areas)…",
        args.backend,
        args.areas.len()
    );
    let stack = Stack::start(&opts).await?;
    let report = driver::run(LoadConfig {
        te_office: stack.info.te_office.clone(),
        areas: stack.info.areas.clone(),
        count: args.count,
        concurrency: args.concurrency,
        reject_share: 0.0,
        outside_share: 0.0,
        all_in_target_group: true,
        today: kokeilu_platform::clock::finnish_date(args.clock_start),
        progress: !crate::output::json(),
        patience: Duration::from_secs(1800),
    })
    .await;
    // How far AVI's supervision trails the referral flow: the time after the last acknowledgement
    // until the supervisor has applied every acknowledgement fact.
    let avi_lag = match &report {
        Ok(r) => supervisor_catch_up(&stack.info, r.referred).await,
        Err(_) => None,
    };
    tokio::task::spawn_blocking(move || stack.stop()).await?;
    if let Backend::Postgres = args.backend {
        crate::pg_admin::drop_databases(&args.postgres_url, &prefix).await?;
    }
    let report = report?;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    if crate::output::json() {
        crate::output::document(&serde_json::json!({
            "backend": format!("{:?}", args.backend).to_lowercase(),
            "referrals": report.referred,
            "acknowledged": report.per_area.values().map(|c| c.acknowledged).sum::<usize>(),
            "unanswered": report.unanswered,
            "refused": report.failed.len(),
            "elapsed_seconds": secs,
            "referrals_per_second": report.referred as f64 / secs,
            "latency_ms": {
                "p50": driver::quantile(&report.latencies, 0.5).as_millis(),
                "p90": driver::quantile(&report.latencies, 0.9).as_millis(),
                "p99": driver::quantile(&report.latencies, 0.99).as_millis(),
                "max": report.latencies.last().map_or(0, |d| d.as_millis()),
            },
            "avi_catch_up_seconds": avi_lag.map(|l| l.as_secs_f64()),
            "first_refusal": report.failed.first(),
        }));
        if report.unanswered > 0 || !report.failed.is_empty() {
            anyhow::bail!("benchmark incomplete");
        }
        return Ok(());
    }
    println!();
    println!("backend            {:?}", args.backend);
    println!(
        "referrals          {} ({} acknowledged, {} unanswered, {} refused)",
        report.referred,
        report
            .per_area
            .values()
            .map(|c| c.acknowledged)
            .sum::<usize>(),
        report.unanswered,
        report.failed.len()
    );
    println!("elapsed            {secs:.2} s");
    println!(
        "throughput         {:.0} referrals/s (submitted → acknowledged at te-office)",
        report.referred as f64 / secs
    );
    println!(
        "latency            p50 {} ms   p90 {} ms   p99 {} ms   max {} ms",
        driver::quantile(&report.latencies, 0.5).as_millis(),
        driver::quantile(&report.latencies, 0.9).as_millis(),
        driver::quantile(&report.latencies, 0.99).as_millis(),
        report.latencies.last().map_or(0, |d| d.as_millis()),
    );
    match avi_lag {
        Some(lag) => println!(
            "AVI caught up      {:.2} s after the last acknowledgement (every fact applied)",
            lag.as_secs_f64()
        ),
        None => println!("AVI caught up      not within 10 minutes"),
    }
    if !report.failed.is_empty() {
        println!("first refusal      {}", report.failed[0]);
    }
    if report.unanswered > 0 || !report.failed.is_empty() {
        anyhow::bail!("benchmark incomplete");
    }
    Ok(())
}

/// Waits until AVI's supervisor counts `referred` acknowledged referrals; the time it took.
async fn supervisor_catch_up(info: &crate::stack::StackInfo, referred: usize) -> Option<Duration> {
    let mut client = crate::client::supervisor(&info.supervisor).await.ok()?;
    crate::compliance::wait_for_totals(
        &mut client,
        info.areas.keys(),
        |m| m.acknowledged,
        referred,
        Duration::from_secs(600),
        Duration::from_millis(100),
    )
    .await
    .ok()
    .flatten()
}
