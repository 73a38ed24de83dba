//! The area's internal units (`--units-file`): which unit serves which member municipality, e.g.
//! Kainuu's "Paltamo–Hyrynsalmi–Ristijärvi" unit serving 578, 105 and 697. Referrals and AVI's
//! orders and remarks addressed to a municipality (from 1.6.2021, 421/2021) show the unit, so
//! they reach the right people.
//!
//! The file is TOML, one key per unit: `"Unit name" = ["578", "105", "697"]`. It is checked at
//! start against the trial registry: every code a member municipality of this area, no code in
//! two units.

use std::collections::BTreeMap;
use std::path::Path;

use kokeilu_rules::registry::Registry;

/// Unit of each mapped municipality code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Units {
    by_municipality: BTreeMap<String, String>,
}

impl Units {
    /// The unit serving `municipality_code`, if the area maps one.
    pub fn unit_of(&self, municipality_code: &str) -> Option<&str> {
        self.by_municipality
            .get(municipality_code)
            .map(String::as_str)
    }

    /// Reads and checks `path` for `area`.
    pub fn load(path: &Path, area: &str, registry: &Registry) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("units file {}: {e}", path.display()))?;
        Self::parse(&text, area, registry)
            .map_err(|e| anyhow::anyhow!("units file {}: {e}", path.display()))
    }

    /// Parses and checks a units file's text for `area`.
    pub fn parse(text: &str, area: &str, registry: &Registry) -> anyhow::Result<Self> {
        let units: BTreeMap<String, Vec<String>> =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("not a units file: {e}"))?;
        let members = registry
            .current_area(area)
            .map(|a| a.municipalities.clone())
            .ok_or_else(|| anyhow::anyhow!("{area:?} is not a trial area"))?;
        let mut problems = Vec::new();
        let mut by_municipality: BTreeMap<String, String> = BTreeMap::new();
        for (unit, codes) in &units {
            if unit.trim().is_empty() {
                problems.push("a unit has an empty name".to_owned());
            }
            if codes.is_empty() {
                problems.push(format!("unit {unit:?} names no municipality"));
            }
            for code in codes {
                if !members.contains(code) {
                    let name = registry
                        .municipality(code)
                        .map_or_else(|| "no municipality".to_owned(), |m| m.name.clone());
                    problems.push(format!(
                        "unit {unit:?}: {code:?} ({name}) is not a municipality of area {area}"
                    ));
                } else if let Some(other) = by_municipality.get(code) {
                    problems.push(format!(
                        "municipality {code:?} is in two units: {other:?} and {unit:?}"
                    ));
                } else {
                    by_municipality.insert(code.clone(), unit.clone());
                }
            }
        }
        if problems.is_empty() {
            Ok(Self { by_municipality })
        } else {
            anyhow::bail!("{}", problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kainuus_units_map_their_municipalities() {
        let units = Units::parse(
            "\"Paltamo–Hyrynsalmi–Ristijärvi\" = [\"578\", \"105\", \"697\"]\nKajaani = [\"205\"]\n",
            "kainuu",
            Registry::builtin(),
        )
        .unwrap();
        assert_eq!(units.unit_of("105"), Some("Paltamo–Hyrynsalmi–Ristijärvi"));
        assert_eq!(units.unit_of("205"), Some("Kajaani"));
        assert_eq!(units.unit_of("290"), None);
    }

    #[test]
    fn a_foreign_or_doubled_code_is_refused_with_the_reason() {
        let r = Registry::builtin();
        let e = Units::parse("A = [\"091\"]", "kainuu", r).unwrap_err();
        assert!(e.to_string().contains("\"091\""), "{e}");
        assert!(
            e.to_string().contains("not a municipality of area kainuu"),
            "{e}"
        );
        let e = Units::parse("A = [\"205\"]\nB = [\"205\"]", "kainuu", r).unwrap_err();
        assert!(e.to_string().contains("in two units"), "{e}");
        assert!(Units::parse("A = []", "kainuu", r).is_err());
        assert!(Units::parse("A = 5", "kainuu", r).is_err());
    }

    #[test]
    fn the_example_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/units/kainuu.toml");
        let units = Units::load(&path, "kainuu", Registry::builtin()).unwrap();
        assert_eq!(units.unit_of("697"), Some("Paltamo–Hyrynsalmi–Ristijärvi"));
    }
}
