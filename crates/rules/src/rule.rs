//! Rule versions: every answer of this crate names the provision it applied and the date from
//! which that version is in force, so a decision can be audited against the law of its date.

use chrono::NaiveDate;
use serde::Serialize;

/// The provision (act, section, amending act) that decided, and since when that version is in
/// force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleVersion {
    pub law: &'static str,
    pub effective_from: NaiveDate,
}

impl RuleVersion {
    pub(crate) fn new(law: &'static str, effective_from: NaiveDate) -> Self {
        Self {
            law,
            effective_from,
        }
    }
}

/// A calendar date from constant parts. Only called with valid constants; the fallback keeps the
/// crate free of panics.
pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}
