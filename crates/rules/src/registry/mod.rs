//! The trial registry: the three trial generations (2012–2015, 2017–2018, 2021–2024) with their
//! validity periods, amendments, areas and member municipalities, and every code of the Statistics
//! Finland municipality classification (DOMAIN.md §§ 1.e, 2, 4).
//!
//! It is data — `data/trials.toml` and `data/municipalities.csv`, embedded at build time and
//! validated when loaded (`registry/load.rs`) — so a new trial or area is a change of configuration, not of
//! code. Area slugs are `[a-z0-9-]` because they become NATS subject tokens.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

mod load;

pub use load::RegistryError;

const TRIALS: &str = include_str!("../../data/trials.toml");
const MUNICIPALITIES: &str = include_str!("../../data/municipalities.csv");

/// A code of the municipality classification: a municipality, or one of the special codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Municipality {
    /// Three digits with leading zeros, e.g. `"091"`.
    pub code: String,
    /// Finnish name.
    pub name: String,
    pub name_sv: String,
    /// 198 (no home municipality in Finland), 199 (unknown), 200 (abroad), 999 (unknown): codes of
    /// the classification that are not municipalities. [`Registry::municipality`] never returns
    /// them; [`Registry::classification_code`] does.
    pub special: bool,
}

/// One trial area (a project in 2012–2015).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// NATS subject token and deployment name, `[a-z0-9-]`, unique within its trial.
    pub slug: String,
    /// Item of the statute's area list (e.g. "13b"), or the project number (2012–2015).
    pub statute_item: String,
    /// Descriptive label; the statutes identify areas only by TE office and municipalities.
    pub name: String,
    /// The TE office whose area it lies in (empty where the source does not say).
    #[serde(default)]
    pub te_office: String,
    /// Statistics Finland codes of the member municipalities.
    pub municipalities: Vec<String>,
    /// Member municipalities whose historical codes the sources could not confirm (merged
    /// municipalities), by name. They are not routable.
    #[serde(default)]
    pub unconfirmed: Vec<String>,
    /// The lead municipality (a member) whose report collects its members' figures (2021–2024;
    /// inferred in the data file, the statutes name none).
    #[serde(default)]
    pub lead: Option<String>,
    /// Target-group rule of this area, when it differs from the trial's (2017–2018).
    #[serde(default)]
    pub target_group: Option<String>,
    /// Whether client-ship continues in the area when a former client re-registers as a
    /// jobseeker (505/2017 4 §: not in Pirkanmaa). `None`: the trial's rule.
    #[serde(default)]
    pub continues_on_reregistration: Option<bool>,
    /// Special arrangements, e.g. `"tyoelamakokeilu"` (work-life trial instead of rehabilitative
    /// work activity, 505/2017 2 § 2 mom and 15 §).
    #[serde(default)]
    pub features: Vec<String>,
}

/// An amendment of a trial act that the registry records (dates and what they changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    /// The amending act, e.g. "287/2022".
    pub act: String,
    pub in_force: NaiveDate,
    pub summary: String,
}

/// One trial generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trial {
    /// "2012", "2017" or "2021".
    pub id: String,
    pub name: String,
    /// The start date the bills proposed, where it differs from the actual one.
    #[serde(default)]
    pub proposed_start: Option<NaiveDate>,
    /// First day in force.
    pub starts: NaiveDate,
    /// Last day in force (after any extension).
    pub ends: NaiveDate,
    /// The end date before any extension.
    #[serde(default)]
    pub originally_ends: Option<NaiveDate>,
    /// Last date on which new clients could be referred, where the law (still) set one.
    #[serde(default)]
    pub last_referral: Option<NaiveDate>,
    /// The act and a source URL.
    #[serde(default)]
    pub source: String,
    /// Target-group rule of the trial (see `eligibility`); areas may override it.
    #[serde(default)]
    pub target_group: Option<String>,
    /// Whether client-ship continues in the area on re-registration (1269/2020 6 § 2 mom).
    #[serde(default)]
    pub continues_on_reregistration: bool,
    /// Whether the municipality takes over the employment services (2017 and 2021 trials) or
    /// plans them jointly with the TE office, which keeps them (2012–2015).
    #[serde(default)]
    pub municipality_takes_over_services: bool,
    /// Recorded amendments, in order of entry into force.
    #[serde(default, rename = "amendment")]
    pub amendments: Vec<Amendment>,
    #[serde(rename = "area")]
    pub areas: Vec<Area>,
}

impl Trial {
    /// Whether the trial act is in force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.starts <= date && date <= self.ends
    }

    /// Whether new clients can be referred on `date`.
    pub fn accepts_referrals(&self, date: NaiveDate) -> bool {
        self.in_force(date) && self.last_referral.is_none_or(|last| date <= last)
    }

    /// The target-group rule of `area` in this trial.
    pub fn target_group_of<'a>(&'a self, area: &'a Area) -> Option<&'a str> {
        area.target_group
            .as_deref()
            .or(self.target_group.as_deref())
    }

    /// Whether a former client of `area` who re-registers stays with the area.
    pub fn continues_on_reregistration(&self, area: &Area) -> bool {
        area.continues_on_reregistration
            .unwrap_or(self.continues_on_reregistration)
    }

    /// The area whose member municipalities include `code`.
    pub fn area_of(&self, code: &str) -> Option<&Area> {
        self.areas
            .iter()
            .find(|a| a.municipalities.iter().any(|m| m == code))
    }

    /// Number of member municipalities with a confirmed code.
    pub fn municipality_count(&self) -> usize {
        self.areas.iter().map(|a| a.municipalities.len()).sum()
    }
}

/// Trials, areas and municipalities.
#[derive(Debug, Clone)]
pub struct Registry {
    trials: Vec<Trial>,
    municipalities: BTreeMap<String, Municipality>,
}

impl Registry {
    /// The registry embedded in this build.
    pub fn builtin() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            // The embedded files are validated by this crate's tests (tests/registry.rs); they
            // cannot change at run time.
            #[allow(clippy::expect_used)]
            Registry::from_sources(TRIALS, MUNICIPALITIES)
                .expect("embedded data/trials.toml or data/municipalities.csv is invalid")
        })
    }

    /// Loads and validates registry data: see `registry/load.rs` for the checks.
    pub fn from_sources(
        trials_toml: &str,
        municipalities_csv: &str,
    ) -> Result<Self, RegistryError> {
        let (trials, municipalities) = load::load(trials_toml, municipalities_csv)?;
        Ok(Self {
            trials,
            municipalities,
        })
    }

    /// A Finnish municipality by its 3-digit code (any municipality, not just trial ones).
    /// Special codes (198, 199, 200, 999) are not municipalities and give `None`.
    pub fn municipality(&self, code: &str) -> Option<&Municipality> {
        self.municipalities.get(code).filter(|m| !m.special)
    }

    /// Any code of the classification, special codes included.
    pub fn classification_code(&self, code: &str) -> Option<&Municipality> {
        self.municipalities.get(code)
    }

    /// Every municipality (special codes excluded), by code.
    pub fn municipalities(&self) -> impl Iterator<Item = &Municipality> {
        self.municipalities.values().filter(|m| !m.special)
    }

    /// The trial generations, oldest first.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// A trial generation by id ("2012", "2017", "2021").
    pub fn trial(&self, id: &str) -> Option<&Trial> {
        self.trials.iter().find(|t| t.id == id)
    }

    /// The trial generation in force on `date` (generations never overlap).
    pub fn trial_in_force(&self, date: NaiveDate) -> Option<&Trial> {
        self.trials.iter().find(|t| t.in_force(date))
    }

    /// The area of the trial in force on `date` whose municipalities include `code`.
    pub fn area_for_municipality(&self, code: &str, date: NaiveDate) -> Option<&Area> {
        self.trial_in_force(date)?.area_of(code)
    }

    /// An area by trial id and slug.
    pub fn area(&self, trial_id: &str, slug: &str) -> Option<&Area> {
        self.trial(trial_id)?.areas.iter().find(|a| a.slug == slug)
    }

    /// An area of the 2021–2024 trial.
    pub fn current_area(&self, slug: &str) -> Option<&Area> {
        self.area("2021", slug)
    }
}
