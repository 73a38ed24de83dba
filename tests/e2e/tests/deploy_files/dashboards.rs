//! The Grafana dashboard and the alert rules use the contract's metric and label names.

use super::*;

/// Every metric name in a PromQL expression (labels and functions are told apart by the lists).
pub(super) fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    for token in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if !["rpc_", "messaging_", "kokeilu_"]
            .iter()
            .any(|p| token.starts_with(p))
        {
            continue;
        }
        if LABELS.contains(&token) {
            continue;
        }
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                token
                    .strip_suffix(suffix)
                    .filter(|b| HISTOGRAMS.contains(b))
            })
            .unwrap_or(token);
        names.push(base.to_owned());
    }
    names
}

pub(super) fn label_names(expr: &str) -> Vec<String> {
    let mut labels = Vec::new();
    // `by (a, b)`, `on (a)` and `{a="…", b!="…"}`
    for (open, close) in [("by (", ")"), ("on (", ")")] {
        for part in expr.split(open).skip(1) {
            let inner = &part[..part.find(close).unwrap()];
            labels.extend(inner.split(',').map(|l| l.trim().to_owned()));
        }
    }
    for part in expr.split('{').skip(1) {
        let inner = &part[..part.find('}').unwrap()];
        for matcher in inner.split(',') {
            let name = matcher.split(['=', '!', '~']).next().unwrap().trim();
            if !name.is_empty() {
                labels.push(name.to_owned());
            }
        }
    }
    labels
}

pub(super) fn check_expr(what: &str, expr: &str, used: &mut BTreeSet<String>) {
    let names = metric_names(expr);
    assert!(!names.is_empty(), "{what}: no Kokeilu metric in {expr}");
    for name in names {
        assert!(
            METRICS.contains(&name.as_str()),
            "{what}: {name} is not a contract metric"
        );
        used.insert(name);
    }
    for label in label_names(expr) {
        assert!(
            LABELS.contains(&label.as_str()) || label == "le",
            "{what}: label {label} is not a contract label"
        );
    }
}

#[test]
fn dashboard_and_alerts_use_the_contract_metric_names() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/kokeilu.json")).unwrap();
    let mut used = BTreeSet::new();
    let mut panels = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap();
            check_expr(title, target["expr"].as_str().unwrap(), &mut used);
            panels += 1;
        }
    }
    assert!(panels > 0);
    // The dashboard shows every metric there is.
    let missing: Vec<&str> = METRICS
        .iter()
        .copied()
        .filter(|m| !used.contains(*m))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard does not show {missing:?}"
    );

    let alerts = yaml("deploy/prometheus/alerts.yaml");
    let mut alert_metrics = BTreeSet::new();
    let mut names = BTreeSet::new();
    for group in alerts["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = s(&rule["alert"]);
            names.insert(name.to_owned());
            check_expr(name, s(&rule["expr"]), &mut alert_metrics);
        }
    }
    // A stalled relay (backlog without publishes, or an old row), dead-letter growth and any
    // security event.
    for needed in [
        "kokeilu_outbox_backlog",
        "messaging_client_sent_messages_total",
        "kokeilu_outbox_oldest_age_seconds",
        "kokeilu_dead_letters_total",
        "kokeilu_security_events_total",
    ] {
        assert!(alert_metrics.contains(needed), "no alert on {needed}");
    }
    assert_eq!(names.len(), 4, "{names:?}");
}
