//! The trial registry: trial generations with their validity periods, their areas and member
//! municipalities, and every Finnish municipality code. It is data (`data/trials.toml`,
//! `data/municipalities.csv`), embedded at build time and validated when loaded, so a new trial or
//! area is a change of configuration, not of code.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

const TRIALS: &str = include_str!("../data/trials.toml");
const MUNICIPALITIES: &str = include_str!("../data/municipalities.csv");

/// A Finnish municipality (or one of the special codes, see [`Municipality::special`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Municipality {
    pub code: String,
    pub name: String,
    pub name_sv: String,
    /// 198 (no home municipality in Finland), 199 (unknown), 200 (abroad), 999 (unknown): codes of
    /// the classification that are not municipalities.
    pub special: bool,
}

/// One trial area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    /// NATS subject token and deployment name, `[a-z0-9-]`.
    pub slug: String,
    /// Item of the statute's area list (e.g. "13b").
    pub statute_item: String,
    pub name: String,
    pub te_office: String,
    /// Statistics Finland codes of the member municipalities.
    pub municipalities: Vec<String>,
    /// Member municipalities whose historical codes the sources could not confirm (merged
    /// municipalities), by name; they are not routable.
    #[serde(default)]
    pub unconfirmed: Vec<String>,
    /// Target-group rule of this area, when it differs from the trial's (2017–2018).
    #[serde(default)]
    pub target_group: Option<String>,
    /// Special arrangements, e.g. "tyoelamakokeilu" (work-life trial instead of rehabilitative
    /// work activity, 505/2017 15 §).
    #[serde(default)]
    pub features: Vec<String>,
}

/// One trial generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trial {
    pub id: String,
    pub name: String,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
    /// The end date before any extension.
    #[serde(default)]
    pub originally_ends: Option<NaiveDate>,
    /// Last date on which new clients could be referred, where the law set one.
    #[serde(default)]
    pub last_referral: Option<NaiveDate>,
    #[serde(default)]
    pub source: String,
    /// Target-group rule of the trial (see `eligibility`); areas may override it.
    #[serde(default)]
    pub target_group: Option<String>,
    /// Whether the municipality takes over the employment services (2017 and 2021 trials) or
    /// plans them jointly with the TE office, which keeps them (2012–2015).
    #[serde(default)]
    pub municipality_takes_over_services: bool,
    #[serde(rename = "area")]
    pub areas: Vec<Area>,
}

impl Trial {
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
}

#[derive(Deserialize)]
struct TrialsFile {
    trial: Vec<Trial>,
}

/// Why registry data is unusable.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("trials file: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("municipalities file line {line}: {reason}")]
    Csv { line: usize, reason: String },
    #[error("{0}")]
    Invalid(String),
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
            // The embedded files are checked by this crate's tests; they cannot change at run time.
            #[allow(clippy::expect_used)]
            Registry::from_sources(TRIALS, MUNICIPALITIES).expect("embedded registry is valid")
        })
    }

    /// Loads and validates registry data.
    pub fn from_sources(
        trials_toml: &str,
        municipalities_csv: &str,
    ) -> Result<Self, RegistryError> {
        let municipalities = parse_municipalities(municipalities_csv)?;
        let mut trials = toml::from_str::<TrialsFile>(trials_toml)?.trial;
        trials.sort_by_key(|t| t.starts);
        let mut ids = HashSet::new();
        for t in &trials {
            if !ids.insert(t.id.clone()) {
                return Err(RegistryError::Invalid(format!("trial {} twice", t.id)));
            }
            if t.ends < t.starts {
                return Err(RegistryError::Invalid(format!(
                    "trial {} ends before it starts",
                    t.id
                )));
            }
            let mut slugs = HashSet::new();
            let mut codes = HashSet::new();
            for a in &t.areas {
                let token_ok = !a.slug.is_empty()
                    && a.slug
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !token_ok {
                    return Err(RegistryError::Invalid(format!(
                        "area slug {:?} is not [a-z0-9-]",
                        a.slug
                    )));
                }
                if !slugs.insert(a.slug.clone()) {
                    return Err(RegistryError::Invalid(format!(
                        "trial {}: area {} twice",
                        t.id, a.slug
                    )));
                }
                for code in &a.municipalities {
                    if !codes.insert(code.clone()) {
                        return Err(RegistryError::Invalid(format!(
                            "trial {}: municipality {code} in two areas",
                            t.id
                        )));
                    }
                    let known = municipalities.get(code).is_some_and(|m| !m.special);
                    if !known {
                        return Err(RegistryError::Invalid(format!(
                            "trial {} area {}: unknown municipality code {code}",
                            t.id, a.slug
                        )));
                    }
                }
            }
        }
        for pair in trials.windows(2) {
            if pair[1].starts <= pair[0].ends {
                return Err(RegistryError::Invalid(format!(
                    "trials {} and {} overlap",
                    pair[0].id, pair[1].id
                )));
            }
        }
        Ok(Self {
            trials,
            municipalities,
        })
    }

    /// A municipality (or special code) by its 3-digit code.
    pub fn municipality(&self, code: &str) -> Option<&Municipality> {
        self.municipalities.get(code).filter(|m| !m.special)
    }

    /// Any code of the classification, special codes included.
    pub fn classification_code(&self, code: &str) -> Option<&Municipality> {
        self.municipalities.get(code)
    }

    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    pub fn trial(&self, id: &str) -> Option<&Trial> {
        self.trials.iter().find(|t| t.id == id)
    }

    /// The trial generation in force on `date`.
    pub fn trial_in_force(&self, date: NaiveDate) -> Option<&Trial> {
        self.trials.iter().find(|t| t.in_force(date))
    }

    /// The area of the trial in force on `date` whose municipalities include `code`.
    pub fn area_for_municipality(&self, code: &str, date: NaiveDate) -> Option<&Area> {
        self.trial_in_force(date)?
            .areas
            .iter()
            .find(|a| a.municipalities.iter().any(|m| m == code))
    }

    pub fn area(&self, trial_id: &str, slug: &str) -> Option<&Area> {
        self.trial(trial_id)?.areas.iter().find(|a| a.slug == slug)
    }

    /// An area of the 2021–2024 trial.
    pub fn current_area(&self, slug: &str) -> Option<&Area> {
        self.area("2021", slug)
    }
}

fn parse_municipalities(csv: &str) -> Result<BTreeMap<String, Municipality>, RegistryError> {
    let mut out = BTreeMap::new();
    let mut header_seen = false;
    for (i, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let [code, name, name_sv, kind] = cols[..] else {
            return Err(RegistryError::Csv {
                line: i + 1,
                reason: "expected code,name_fi,name_sv,kind".into(),
            });
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RegistryError::Csv {
                line: i + 1,
                reason: format!("bad code {code:?}"),
            });
        }
        let special = match kind {
            "municipality" => false,
            "special" => true,
            other => {
                return Err(RegistryError::Csv {
                    line: i + 1,
                    reason: format!("unknown kind {other:?}"),
                });
            }
        };
        let m = Municipality {
            code: code.into(),
            name: name.into(),
            name_sv: name_sv.into(),
            special,
        };
        if out.insert(code.to_owned(), m).is_some() {
            return Err(RegistryError::Csv {
                line: i + 1,
                reason: format!("code {code} twice"),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_2021_trial_has_25_areas_and_118_municipalities() {
        let t = Registry::builtin().trial("2021").unwrap();
        assert_eq!(t.areas.len(), 25);
        assert_eq!(
            t.areas
                .iter()
                .map(|a| a.municipalities.len())
                .sum::<usize>(),
            118
        );
        assert_eq!(t.starts, day(2021, 3, 1));
        assert_eq!(t.ends, day(2024, 12, 31));
    }

    #[test]
    fn the_2017_trial_has_5_areas_and_23_municipalities() {
        let t = Registry::builtin().trial("2017").unwrap();
        assert_eq!(t.areas.len(), 5);
        assert_eq!(
            t.areas
                .iter()
                .map(|a| a.municipalities.len())
                .sum::<usize>(),
            23
        );
        assert_eq!(t.last_referral, Some(day(2018, 9, 30)));
        assert!(t.accepts_referrals(day(2018, 9, 30)));
        assert!(!t.accepts_referrals(day(2018, 10, 1)));
        assert!(t.in_force(day(2018, 10, 1)));
        let with_trial: Vec<_> = t
            .areas
            .iter()
            .filter(|a| a.features.iter().any(|f| f == "tyoelamakokeilu"))
            .map(|a| a.slug.as_str())
            .collect();
        assert_eq!(with_trial, ["pohjois-savo", "satakunta"]);
    }

    #[test]
    fn the_2012_trial_has_23_projects_and_61_municipalities() {
        let t = Registry::builtin().trial("2012").unwrap();
        assert_eq!(t.areas.len(), 23);
        let coded: usize = t.areas.iter().map(|a| a.municipalities.len()).sum();
        let unconfirmed: usize = t.areas.iter().map(|a| a.unconfirmed.len()).sum();
        assert_eq!((coded, unconfirmed), (55, 6));
        assert!(!t.municipality_takes_over_services);
    }

    #[test]
    fn each_code_is_in_at_most_one_area_per_generation() {
        for t in Registry::builtin().trials() {
            let mut seen = HashSet::new();
            for a in &t.areas {
                for c in &a.municipalities {
                    assert!(seen.insert(c), "{c} twice in trial {}", t.id);
                }
            }
        }
    }

    #[test]
    fn every_finnish_municipality_is_known() {
        let r = Registry::builtin();
        assert_eq!(
            r.municipalities.values().filter(|m| !m.special).count(),
            309
        );
        assert_eq!(r.municipality("091").unwrap().name, "Helsinki");
        assert!(
            r.municipality("198").is_none(),
            "special codes are not municipalities"
        );
        assert!(r.classification_code("198").is_some());
    }

    #[test]
    fn areas_are_found_by_home_municipality_and_date() {
        let r = Registry::builtin();
        assert_eq!(
            r.area_for_municipality("205", day(2024, 3, 4))
                .unwrap()
                .slug,
            "kainuu"
        );
        assert_eq!(
            r.area_for_municipality("091", day(2021, 3, 1))
                .unwrap()
                .slug,
            "helsinki"
        );
        assert!(r.area_for_municipality("091", day(2021, 2, 28)).is_none());
        assert!(r.area_for_municipality("091", day(2025, 1, 1)).is_none());
        assert!(
            r.area_for_municipality("235", day(2024, 3, 4)).is_none(),
            "Kauniainen"
        );
    }

    #[test]
    fn invalid_data_is_refused() {
        let csv = "code,name_fi,name_sv,kind\n091,Helsinki,Helsingfors,municipality\n";
        let twice = r#"
            [[trial]]
            id = "x"
            name = "x"
            starts = "2021-01-01"
            ends = "2021-12-31"
            [[trial.area]]
            slug = "a"
            statute_item = "1"
            name = "A"
            te_office = "T"
            municipalities = ["091"]
            [[trial.area]]
            slug = "b"
            statute_item = "2"
            name = "B"
            te_office = "T"
            municipalities = ["091"]
        "#;
        assert!(Registry::from_sources(twice, csv).is_err());
        let one_area = &twice[..twice.rfind("[[trial.area]]").unwrap()];
        assert!(Registry::from_sources(one_area, csv).is_ok());
        let unknown = one_area.replace("\"091\"]", "\"092\"]");
        assert_ne!(unknown, one_area);
        assert!(Registry::from_sources(&unknown, csv).is_err());
    }
}
