//! Parsing and validation of the registry data files. Everything the rest of the crate assumes
//! about the data is checked here, so that bad configuration fails loudly at load time:
//!
//! - municipalities: a header, then `code,name_fi,name_sv,kind` rows; codes are three digits and
//!   unique, names non-empty, `kind` is `municipality` or `special`;
//! - trials: unique ids; `starts <= ends`; `originally_ends`, `last_referral` and every amendment
//!   date within the trial's period, amendments in date order; generations do not overlap;
//! - areas: slugs `[a-z0-9-]` (NATS subject tokens) unique per trial, statute items unique per
//!   trial, a known target-group rule, at least one member;
//! - members: every code is a known municipality (special codes are not), in at most one area per
//!   trial; members whose historical code is not confirmed are listed by name in `unconfirmed`.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::{Municipality, Trial};
use crate::eligibility::TARGET_GROUP_RULES;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrialsFile {
    trial: Vec<Trial>,
}

type Loaded = (Vec<Trial>, BTreeMap<String, Municipality>);

pub(super) fn load(trials_toml: &str, municipalities_csv: &str) -> Result<Loaded, RegistryError> {
    let municipalities = parse_municipalities(municipalities_csv)?;
    let mut trials = toml::from_str::<TrialsFile>(trials_toml)?.trial;
    trials.sort_by_key(|t| t.starts);
    let mut ids = HashSet::new();
    for t in &trials {
        if !ids.insert(t.id.as_str()) {
            return Err(invalid(format!("trial {} twice", t.id)));
        }
        check_dates(t)?;
        check_areas(t, &municipalities)?;
    }
    for pair in trials.windows(2) {
        if pair[1].starts <= pair[0].ends {
            return Err(invalid(format!(
                "trials {} and {} overlap",
                pair[0].id, pair[1].id
            )));
        }
    }
    Ok((trials, municipalities))
}

fn invalid(reason: String) -> RegistryError {
    RegistryError::Invalid(reason)
}

fn check_dates(t: &Trial) -> Result<(), RegistryError> {
    if t.ends < t.starts {
        return Err(invalid(format!("trial {} ends before it starts", t.id)));
    }
    let within = |what: &str, d: chrono::NaiveDate| {
        if t.in_force(d) {
            Ok(())
        } else {
            Err(invalid(format!(
                "trial {}: {what} {d} is outside {}..={}",
                t.id, t.starts, t.ends
            )))
        }
    };
    if let Some(d) = t.originally_ends {
        within("originally_ends", d)?;
    }
    if let Some(d) = t.last_referral {
        within("last_referral", d)?;
    }
    if t.proposed_start.is_some_and(|d| d > t.ends) {
        return Err(invalid(format!(
            "trial {}: proposed_start after the end",
            t.id
        )));
    }
    for a in &t.amendments {
        within(&format!("amendment {}", a.act), a.in_force)?;
    }
    if t.amendments
        .windows(2)
        .any(|w| w[1].in_force < w[0].in_force)
    {
        return Err(invalid(format!(
            "trial {}: amendments are not in date order",
            t.id
        )));
    }
    Ok(())
}

fn is_token(slug: &str) -> bool {
    !slug.is_empty()
        && !slug.starts_with('-')
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_areas(
    t: &Trial,
    municipalities: &BTreeMap<String, Municipality>,
) -> Result<(), RegistryError> {
    let mut slugs = HashSet::new();
    let mut items = HashSet::new();
    let mut codes = HashSet::new();
    for a in &t.areas {
        let at = || format!("trial {} area {:?}", t.id, a.slug);
        if !is_token(&a.slug) {
            return Err(invalid(format!("{}: slug is not [a-z0-9-]", at())));
        }
        if !slugs.insert(a.slug.as_str()) {
            return Err(invalid(format!("{}: slug twice", at())));
        }
        if a.statute_item.is_empty() || !items.insert(a.statute_item.as_str()) {
            return Err(invalid(format!(
                "{}: statute item {:?} empty or twice",
                at(),
                a.statute_item
            )));
        }
        match t.target_group_of(a) {
            Some(rule) if TARGET_GROUP_RULES.contains(&rule) => {}
            other => {
                return Err(invalid(format!(
                    "{}: unknown target-group rule {other:?} (known: {TARGET_GROUP_RULES:?})",
                    at()
                )));
            }
        }
        if a.municipalities.is_empty() && a.unconfirmed.is_empty() {
            return Err(invalid(format!("{}: no member municipalities", at())));
        }
        if a.unconfirmed.iter().any(|n| n.trim().is_empty()) {
            return Err(invalid(format!("{}: empty unconfirmed name", at())));
        }
        if let Some(lead) = &a.lead
            && !a.municipalities.contains(lead)
        {
            return Err(invalid(format!(
                "{}: lead municipality {lead} is not a member",
                at()
            )));
        }
        for code in &a.municipalities {
            if !codes.insert(code.as_str()) {
                return Err(invalid(format!(
                    "trial {}: municipality {code} in two areas",
                    t.id
                )));
            }
            if municipalities.get(code).is_none_or(|m| m.special) {
                return Err(invalid(format!(
                    "{}: unknown municipality code {code:?} (list it under `unconfirmed` by \
                     name if its code is not confirmed)",
                    at()
                )));
            }
        }
    }
    Ok(())
}

fn parse_municipalities(csv: &str) -> Result<BTreeMap<String, Municipality>, RegistryError> {
    let mut out = BTreeMap::new();
    let mut header_seen = false;
    for (i, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: String| RegistryError::Csv {
            line: i + 1,
            reason,
        };
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if !header_seen {
            if cols != ["code", "name_fi", "name_sv", "kind"] {
                return Err(bad("expected the header code,name_fi,name_sv,kind".into()));
            }
            header_seen = true;
            continue;
        }
        let [code, name, name_sv, kind] = cols[..] else {
            return Err(bad("expected code,name_fi,name_sv,kind".into()));
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("bad code {code:?}")));
        }
        if name.is_empty() {
            return Err(bad(format!("code {code} has no name")));
        }
        let special = match kind {
            "municipality" => false,
            "special" => true,
            other => return Err(bad(format!("unknown kind {other:?}"))),
        };
        let m = Municipality {
            code: code.into(),
            name: name.into(),
            name_sv: name_sv.into(),
            special,
        };
        if out.insert(code.to_owned(), m).is_some() {
            return Err(bad(format!("code {code} twice")));
        }
    }
    if !header_seen {
        return Err(RegistryError::Csv {
            line: 0,
            reason: "empty file".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::Registry;

    const CSV: &str = "code,name_fi,name_sv,kind\n091,Helsinki,Helsingfors,municipality\n\
                       092,Vantaa,Vanda,municipality\n";

    fn trial(lead: &str) -> String {
        format!(
            "[[trial]]\nid = \"x\"\nname = \"x\"\nstarts = \"2021-01-01\"\nends = \"2021-12-31\"\n\
             target_group = \"2021\"\n[[trial.area]]\nslug = \"a\"\nstatute_item = \"1\"\n\
             name = \"A\"\nmunicipalities = [\"092\"]\n{lead}"
        )
    }

    #[test]
    fn every_2021_area_names_a_member_as_its_lead() {
        let registry = Registry::builtin();
        let trial = registry.trial("2021").unwrap();
        for area in &trial.areas {
            let lead = area.lead.as_ref().unwrap();
            assert!(area.municipalities.contains(lead), "{}", area.slug);
        }
        assert_eq!(
            registry.current_area("kainuu").unwrap().lead.as_deref(),
            Some("205")
        );
    }

    #[test]
    fn a_lead_that_is_not_a_member_is_refused() {
        assert!(Registry::from_sources(&trial("lead = \"092\"\n"), CSV).is_ok());
        assert!(Registry::from_sources(&trial(""), CSV).is_ok());
        let refused = Registry::from_sources(&trial("lead = \"091\"\n"), CSV);
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("lead municipality 091 is not a member")
        );
    }
}
