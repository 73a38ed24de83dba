//! Where a command's output goes: human text, or JSON with `--json`.
//!
//! In JSON mode stdout carries only the result (one JSON document, or JSON lines for the `watch`
//! commands); notes meant for a person go to stderr.

use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Switches JSON mode on for this process (done once, from the `--json` flag).
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

/// Whether `--json` was given.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Prints one JSON document (pretty) on stdout.
pub fn document(value: &serde_json::Value) {
    text(&serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into()));
}

/// Prints one JSON line on stdout (for streams).
pub fn line(value: &serde_json::Value) {
    text(&serde_json::to_string(value).unwrap_or_else(|_| "null".into()));
}

/// Prints a line on stdout and flushes it. When the reader has gone (`kokeilu … | head`), the
/// command ends quietly with success, as a filter in a pipeline does.
pub fn text(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("kokeilu: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// A line for a person: stdout normally, stderr in JSON mode.
macro_rules! say {
    () => {
        if $crate::output::json() { eprintln!() } else { println!() }
    };
    ($($arg:tt)*) => {
        if $crate::output::json() { eprintln!($($arg)*) } else { println!($($arg)*) }
    };
}
pub(crate) use say;

/// A date as `YYYY-MM-DD`, or JSON null.
pub fn date(d: Option<&kokeilu_proto::common::Date>) -> serde_json::Value {
    d.and_then(kokeilu_proto::date_to_naive)
        .map_or(serde_json::Value::Null, |d| d.to_string().into())
}

/// A time as RFC 3339, or JSON null.
pub fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> serde_json::Value {
    t.map_or(serde_json::Value::Null, |t| t.to_rfc3339().into())
}

/// A proto enum value for JSON: its name without the type prefix (`REFERRAL_STATUS_ACKNOWLEDGED`
/// → `ACKNOWLEDGED`), or `UNSPECIFIED` for an unknown number.
pub fn variant(name: Option<&str>, prefix: &str) -> String {
    name.map_or("UNSPECIFIED", |n| n.strip_prefix(prefix).unwrap_or(n))
        .to_owned()
}
