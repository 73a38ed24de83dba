//! Open monitoring statistics over plain HTTP (the trials promised citizens public monitoring):
//! referrals, decisions and initial-interview timeliness per area and month, as JSON and CSV, and
//! an area report a lead municipality can pull for its whole area. Counts from 1 to 4 are
//! suppressed (`null` in JSON, `<5` in CSV) so that no small group can be singled out.

use std::future::Future;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kokeilu_rules::registry::Registry;
use serde_json::{Value, json};

use crate::ledger::Ledger;
use crate::reports::MonthRow;

/// Counts below this (and above zero) are suppressed.
pub const SUPPRESS_BELOW: u32 = 5;

fn shown(n: u32) -> Value {
    if n > 0 && n < SUPPRESS_BELOW {
        Value::Null
    } else {
        json!(n)
    }
}

fn shown_csv(n: u32) -> String {
    if n > 0 && n < SUPPRESS_BELOW {
        "<5".into()
    } else {
        n.to_string()
    }
}

fn month_json(m: &MonthRow) -> Value {
    json!({
        "area": m.area,
        "month": m.month,
        "referrals": shown(m.referrals),
        "acknowledged": shown(m.acknowledged),
        "rejected": shown(m.rejected),
        "initial_interviews": shown(m.initial_interviews),
        "late_initial_interviews": shown(m.late_initial_interviews),
        "median_days_to_initial_interview":
            if m.initial_interviews >= SUPPRESS_BELOW { json!(m.median_days_to_initial_interview) } else { Value::Null },
    })
}

fn internal(e: sqlx::Error) -> Response {
    tracing::error!(error = %e, "statistics query failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

async fn monthly_json(State(ledger): State<Ledger>) -> Response {
    match ledger.monthly("").await {
        Ok(rows) => {
            let body = json!({
                "suppressed_below": SUPPRESS_BELOW,
                "months": rows.iter().map(month_json).collect::<Vec<_>>(),
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Err(e) => internal(e),
    }
}

async fn monthly_csv(State(ledger): State<Ledger>) -> Response {
    match ledger.monthly("").await {
        Ok(rows) => {
            let mut out = String::from(
                "area,month,referrals,acknowledged,rejected,initial_interviews,late_initial_interviews\n",
            );
            for m in rows {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{}\n",
                    m.area,
                    m.month,
                    shown_csv(m.referrals),
                    shown_csv(m.acknowledged),
                    shown_csv(m.rejected),
                    shown_csv(m.initial_interviews),
                    shown_csv(m.late_initial_interviews)
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
    let (months, by_municipality) = match (
        ledger.monthly(&area).await,
        ledger.by_municipality(&area).await,
    ) {
        (Ok(m), Ok(b)) => (m, b),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let municipalities: Vec<Value> = by_municipality
        .iter()
        .map(|(code, month, referrals, acknowledged)| {
            json!({
                "municipality_code": code,
                "municipality": registry.municipality(code).map(|m| m.name.clone()),
                "month": month,
                "referrals": shown(*referrals),
                "acknowledged": shown(*acknowledged),
            })
        })
        .collect();
    let body = json!({
        "area": area,
        "name": info.name,
        "suppressed_below": SUPPRESS_BELOW,
        "months": months.iter().map(month_json).collect::<Vec<_>>(),
        "municipalities": municipalities,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
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
    fn small_counts_are_suppressed() {
        assert_eq!(shown(0), json!(0));
        assert_eq!(shown(1), Value::Null);
        assert_eq!(shown(4), Value::Null);
        assert_eq!(shown(5), json!(5));
        assert_eq!(shown_csv(3), "<5");
        assert_eq!(shown_csv(12), "12");
    }
}
