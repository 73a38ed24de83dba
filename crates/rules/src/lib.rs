//! The law of the municipal employment trials as pure, effective-dated rules (DOMAIN.md).
//!
//! Every service of the backbone (TE office, trial areas, the supervising AVI) must answer the
//! same legal questions the same way: is this a valid henkilötunnus, which trial area is this
//! jobseeker's, by when is the next interview due, may the municipality issue this statement. This
//! crate answers them as pure functions of their inputs and a date, naming the provision and the
//! version of the law it applied; the only data it reads are the files embedded from `data/`.
//!
//! - [`hetu`]: the personal identity code (Decree 128/2010 § 2 as amended by 690/2022), validated
//!   and never displayed.
//! - [`registry`]: trial generations, areas and municipalities, loaded from data files.
//! - [`workdays`]: the working-day calendar and the time-limit rule (150/1930 § 5).
//! - [`eligibility`]: who is a trial client of which area on a date (1269/2020 4–6 §, 505/2017).
//! - [`deadlines`]: service-process and statement deadlines by date (JTYPL 2 ch., 153/2021).
//! - [`competence`]: which statements the municipality may issue on a date (1269/2020 12–12 b §).
//! - [`suspension`]: what an AVI suspension covers on a date (1269/2020 22 §).

pub mod competence;
pub mod deadlines;
pub mod eligibility;
pub mod hetu;
pub mod registry;
mod rule;
pub mod suspension;
pub mod workdays;

pub use rule::RuleVersion;
