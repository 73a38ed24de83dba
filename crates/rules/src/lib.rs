//! The law of the municipal employment trials as pure, effective-dated rules (DOMAIN.md).
//!
//! - [`hetu`]: the personal identity code, validated and never displayed.
//! - [`registry`]: trial generations, areas and municipalities, loaded from data files.
//! - [`workdays`]: the working-day calendar and the time-limit rule.
//! - [`eligibility`]: who is a trial client of which area on a date.
//! - [`deadlines`]: service-process and statement deadlines by date.
//! - [`competence`]: which statements the municipality may issue on a date.

pub mod competence;
pub mod deadlines;
pub mod eligibility;
pub mod hetu;
pub mod registry;
pub mod workdays;
