//! A load driver over gRPC, shared by `kokeilu demo` and `kokeilu bench`: submits referrals at
//! te-office, plays every area's municipal system (watches incoming referrals and acknowledges or
//! rejects each), and watches te-office until every referral has its answer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kokeilu_proto::date_from_naive;
use kokeilu_proto::teoffice as te;
use kokeilu_proto::trialarea as ta;
use kokeilu_rules::registry::Registry;
use tokio::sync::Semaphore;

use crate::client;
use crate::fake::Generator;
use kokeilu_platform::identity::Identity;

/// What to drive.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub te_office: String,
    pub areas: BTreeMap<String, String>,
    pub count: usize,
    pub concurrency: usize,
    /// Share of referrals the areas reject (0 for benchmarks).
    pub reject_share: f64,
    /// Share of jobseekers living outside every trial area.
    pub outside_share: f64,
    /// Make every jobseeker belong to the target group (benchmarks measure the referral path).
    pub all_in_target_group: bool,
    pub today: NaiveDate,
    pub progress: bool,
    pub patience: Duration,
}

/// What happened.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub referred: usize,
    /// Jobseekers the rules kept with the TE office, by reason.
    pub kept_by_te_office: BTreeMap<String, usize>,
    pub failed: Vec<String>,
    pub per_area: BTreeMap<String, AreaCount>,
    /// From the first submit to the last answer seen at te-office.
    pub elapsed: Duration,
    /// Per referral: submit call started → answer seen at te-office.
    pub latencies: Vec<Duration>,
    pub unanswered: usize,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct AreaCount {
    pub referred: usize,
    pub acknowledged: usize,
    pub rejected: usize,
}

type Times = Arc<Mutex<HashMap<String, Instant>>>;

fn bar(multi: &MultiProgress, len: usize, label: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = multi.add(ProgressBar::new(len as u64));
    pb.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(label.to_owned());
    pb
}

/// Runs the load and reports.
pub async fn run(cfg: LoadConfig) -> anyhow::Result<LoadReport> {
    let multi = MultiProgress::new();
    let answered: Times = Arc::new(Mutex::new(HashMap::new()));
    let decisions: Arc<Mutex<HashMap<String, (String, bool)>>> =
        Arc::new(Mutex::new(HashMap::new()));

    // Watch te-office for answers, starting now.
    let mut te_client = client::te_office_as(&cfg.te_office, &Identity::TeOffice).await?;
    let mut changes = te_client
        .watch_referrals(te::WatchReferralsRequest {
            area_id: String::new(),
            after_cursor: "now".into(),
        })
        .await?
        .into_inner();
    let answered_bar = bar(&multi, cfg.count, "answered", cfg.progress);
    let watch_answers = {
        let answered = answered.clone();
        let pb = answered_bar.clone();
        tokio::spawn(async move {
            while let Some(Ok(change)) = changes.next().await {
                let done = change.status == te::ReferralStatus::Acknowledged as i32
                    || change.status == te::ReferralStatus::Rejected as i32;
                if done {
                    let mut map = answered.lock().unwrap_or_else(|e| e.into_inner());
                    if map.insert(change.referral_id, Instant::now()).is_none() {
                        pb.inc(1);
                    }
                }
            }
        })
    };

    // Play each area's municipal system.
    let mut area_tasks = Vec::new();
    for (area, url) in &cfg.areas {
        let mut c = client::trial_area_as(url, &Identity::Area(area.clone())).await?;
        let mut incoming = c
            .watch_incoming_referrals(ta::WatchIncomingReferralsRequest {
                area_id: area.clone(),
                after_cursor: "now".into(),
            })
            .await?
            .into_inner();
        let area = area.clone();
        let reject_share = cfg.reject_share;
        let decisions = decisions.clone();
        area_tasks.push(tokio::spawn(async move {
            let limit = Arc::new(Semaphore::new(32));
            while let Some(Ok(r)) = incoming.next().await {
                if r.status != ta::IncomingStatus::Received as i32 {
                    continue;
                }
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let mut c = c.clone();
                let area = area.clone();
                let decisions = decisions.clone();
                tokio::spawn(async move {
                    let reject = fraction(&r.referral_id) < reject_share;
                    let ok = if reject {
                        c.reject_referral(ta::RejectReferralRequest {
                            area_id: area.clone(),
                            referral_id: r.referral_id.clone(),
                            reason: kokeilu_proto::referral::RejectionReason::NotInTargetGroup
                                as i32,
                            detail: "ei kohderyhmässä haastattelun perusteella".into(),
                            // Stable per referral and action: the driver's own retries replay.
                            idempotency_key: format!("{}:reject", r.referral_id),
                        })
                        .await
                        .is_ok()
                    } else {
                        c.acknowledge_client(ta::AcknowledgeClientRequest {
                            area_id: area.clone(),
                            referral_id: r.referral_id.clone(),
                            idempotency_key: format!("{}:acknowledge", r.referral_id),
                        })
                        .await
                        .is_ok()
                    };
                    if ok {
                        decisions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(r.referral_id, (area, !reject));
                    }
                    drop(permit);
                });
            }
        }));
    }

    // Submit.
    let mut generator = Generator::new(
        Registry::builtin(),
        &cfg.areas.keys().cloned().collect::<Vec<_>>(),
        cfg.today,
        cfg.outside_share,
    );
    let mut rng = rand::rng();
    let mut seekers = Vec::with_capacity(cfg.count);
    for _ in 0..cfg.count {
        seekers.push(generator.next(&mut rng, cfg.all_in_target_group)?);
    }
    let submitted_bar = bar(&multi, cfg.count, "submitted", cfg.progress);
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(seekers.into_iter().enumerate())
        .map(|(i, s)| {
            let mut c = te_client.clone();
            let key = format!("{run_id}-{i}");
            let pb = submitted_bar.clone();
            async move {
                let t0 = Instant::now();
                let r = c
                    .submit_referral(te::SubmitReferralRequest {
                        idempotency_key: key,
                        jobseeker: Some(te::Jobseeker {
                            henkilotunnus: s.hetu.expose().to_owned(),
                            home_municipality_code: s.municipality,
                            job_search_start_date: Some(date_from_naive(s.job_search_start)),
                            grounds: Vec::new(),
                            facts: Some(s.facts),
                            ..Default::default()
                        }),
                    })
                    .await;
                pb.inc(1);
                (t0, r)
            }
        })
        .buffer_unordered(cfg.concurrency.max(1))
        .collect()
        .await;
    submitted_bar.finish();

    let mut report = LoadReport::default();
    let mut started_at: HashMap<String, Instant> = HashMap::new();
    for (t0, r) in results {
        match r {
            Ok(resp) => {
                let resp = resp.into_inner();
                report.per_area.entry(resp.area_id).or_default().referred += 1;
                report.referred += 1;
                started_at.insert(resp.referral_id, t0);
            }
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                use tonic_types::StatusExt;
                let reason = s
                    .get_details_precondition_failure()
                    .and_then(|p| p.violations.first().map(|v| v.r#type.to_lowercase()))
                    .unwrap_or_else(|| "other".into());
                *report.kept_by_te_office.entry(reason).or_default() += 1;
            }
            Err(s) => report.failed.push(crate::error::describe(&s)),
        }
    }
    answered_bar.set_length(report.referred as u64);

    // Wait for every answer.
    let deadline = Instant::now() + cfg.patience;
    loop {
        let done = {
            let map = answered.lock().unwrap_or_else(|e| e.into_inner());
            started_at.keys().filter(|id| map.contains_key(*id)).count()
        };
        if done == started_at.len() || Instant::now() > deadline {
            report.unanswered = started_at.len() - done;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    answered_bar.finish();
    watch_answers.abort();
    for t in area_tasks {
        t.abort();
    }
    let answered = answered.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = started;
    for (id, t0) in &started_at {
        if let Some(t1) = answered.get(id) {
            report.latencies.push(t1.duration_since(*t0));
            last = last.max(*t1);
        }
    }
    report.elapsed = last.duration_since(started);
    report.latencies.sort();
    for (id, (area, acked)) in decisions.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if started_at.contains_key(id) {
            let c = report.per_area.entry(area.clone()).or_default();
            if *acked {
                c.acknowledged += 1;
            } else {
                c.rejected += 1;
            }
        }
    }
    Ok(report)
}

/// A stable number in [0, 1) from an id, so decisions do not depend on arrival order.
fn fraction(id: &str) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    (h.finish() % 10_000) as f64 / 10_000.0
}

/// The value at quantile `q` of sorted durations.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
