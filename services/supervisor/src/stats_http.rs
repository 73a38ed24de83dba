//! Open monitoring statistics over plain HTTP (the trials promised citizens public monitoring):
//! referrals, decisions and initial-interview timeliness per area and month, as JSON and CSV, and
//! an area report a lead municipality can pull for its whole area, by municipality.
//!
//! Everything here comes from the published snapshots ([`Ledger::open_statistics`]): only closed
//! months, each computed once and stored. Counts from 1 to 4 are suppressed, and further cells
//! where a suppressed one could otherwise be recovered by subtraction from the totals
//! ([`crate::suppression`], docs/statistics.md). A suppressed cell is `null` in JSON and `..` in
//! CSV, whether it was small or hidden to protect another.

use std::future::Future;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kokeilu_rules::registry::Registry;
use serde_json::{Value, json};

use crate::ledger::Ledger;
use crate::reports::{PublishedArea, last_closed_month};
pub use crate::suppression::SUPPRESS_BELOW;

/// How a suppressed cell reads in CSV (Statistics Finland's mark for a figure not published).
pub const SUPPRESSED_CSV: &str = "..";

/// The rule, as the JSON documents state it.
const RULE: &str = "counts from 1 to 4 are suppressed (null), and so are further counts where a \
                    suppressed one could otherwise be recovered from the totals; only closed \
                    months are published, each computed once";

fn csv_cell(n: Option<u32>) -> String {
    n.map_or_else(|| SUPPRESSED_CSV.to_owned(), |n| n.to_string())
}

fn month_json(m: &PublishedArea) -> Value {
    json!({
        "area": m.area,
        "month": m.month,
        "referrals": m.referrals,
        "acknowledged": m.acknowledged,
        "rejected": m.rejected,
        "initial_interviews": m.initial_interviews,
        "late_initial_interviews": m.late_initial_interviews,
        "median_days_to_initial_interview": m.median_days_to_initial_interview,
    })
}

fn internal(e: sqlx::Error) -> Response {
    tracing::error!(error = %e, "statistics query failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

fn json_response(body: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn monthly_json(State(ledger): State<Ledger>) -> Response {
    match ledger.open_statistics().await {
        Ok(rows) => json_response(&json!({
            "suppressed_below": SUPPRESS_BELOW,
            "suppression": RULE,
            "published_through": last_closed_month(ledger.clock.today()),
            "months": rows.iter().map(month_json).collect::<Vec<_>>(),
        })),
        Err(e) => internal(e),
    }
}

async fn monthly_csv(State(ledger): State<Ledger>) -> Response {
    match ledger.open_statistics().await {
        Ok(rows) => {
            let mut out = String::from(
                "area,month,referrals,acknowledged,rejected,initial_interviews,late_initial_interviews\n",
            );
            for m in rows {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{}\n",
                    m.area,
                    m.month,
                    csv_cell(m.referrals),
                    csv_cell(m.acknowledged),
                    csv_cell(m.rejected),
                    csv_cell(m.initial_interviews),
                    csv_cell(m.late_initial_interviews)
                ));
            }
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn area_report(State(ledger): State<Ledger>, Path(area): Path<String>) -> Response {
    let registry = Registry::builtin();
    let Some(info) = registry.current_area(&area) else {
        return (StatusCode::NOT_FOUND, "not a trial area").into_response();
    };
    let months: Vec<PublishedArea> = match ledger.open_statistics().await {
        Ok(rows) => rows.into_iter().filter(|m| m.area == area).collect(),
        Err(e) => return internal(e),
    };
    let municipalities: Vec<Value> = months
        .iter()
        .flat_map(|m| {
            m.municipalities.iter().map(|c| {
                json!({
                    "municipality_code": c.municipality_code,
                    "municipality": registry.municipality(&c.municipality_code).map(|m| m.name.clone()),
                    "month": m.month,
                    "referrals": c.referrals,
                    "acknowledged": c.acknowledged,
                })
            })
        })
        .collect();
    json_response(&json!({
        "area": area,
        "name": info.name,
        "suppressed_below": SUPPRESS_BELOW,
        "suppression": RULE,
        "published_through": last_closed_month(ledger.clock.today()),
        "months": months.iter().map(month_json).collect::<Vec<_>>(),
        "municipalities": municipalities,
    }))
}

/// The statistics router.
pub fn router(ledger: Ledger) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/stats/monthly.json", get(monthly_json))
        .route("/stats/monthly.csv", get(monthly_csv))
        .route("/reports/area/{area}", get(area_report))
        .with_state(ledger)
}

/// Serves the statistics until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ledger: Ledger,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(ledger))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressed_cells_read_the_same_whatever_the_reason() {
        assert_eq!(csv_cell(None), "..");
        assert_eq!(csv_cell(Some(0)), "0");
        assert_eq!(csv_cell(Some(12)), "12");
    }
}
