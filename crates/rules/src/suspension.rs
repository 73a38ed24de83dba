//! What an AVI suspension covers (1269/2020 22 §): the whole trial of an area, or part of it by
//! client group, municipality or service. On suspension the area's organising responsibility and
//! competence end to that extent: the TE office keeps (and takes back) the covered clients, and
//! the statements of covered subjects return to the TE office. A lifted suspension stops covering
//! anything from the day it is lifted.
//!
//! Every party (TE office, area, AVI) answers "is this covered on this day" with this one module,
//! so they cannot disagree.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::competence::StatementSubject;
use crate::registry::Registry;

/// What a partial suspension covers. A client is covered when it matches every non-empty client
/// list (one of `client_groups` and one of `municipality_codes`); `statement_subjects` are
/// services whose competence returns to the TE office.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Target-group ground names (`under_30`, `immigrant`, …).
    #[serde(default)]
    pub client_groups: Vec<String>,
    /// Municipalities of the area (kuntanumero).
    #[serde(default)]
    pub municipality_codes: Vec<String>,
    /// Statement subject names (`general_conditions`, …).
    #[serde(default)]
    pub statement_subjects: Vec<String>,
}

impl Scope {
    /// Whether the scope names nothing (a partial suspension must name something).
    pub fn is_empty(&self) -> bool {
        self.client_groups.is_empty()
            && self.municipality_codes.is_empty()
            && self.statement_subjects.is_empty()
    }

    fn names_clients(&self) -> bool {
        !self.client_groups.is_empty() || !self.municipality_codes.is_empty()
    }

    /// Problems with the scope of a suspension of `area` on `date`, as (field, message): unknown
    /// ground or subject names, municipalities outside the area, an empty scope.
    pub fn problems(
        &self,
        registry: &Registry,
        area: &str,
        date: NaiveDate,
    ) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.is_empty() {
            out.push((
                "scope",
                "a partial suspension names client groups, municipalities or statement subjects"
                    .to_owned(),
            ));
        }
        for g in &self.client_groups {
            if ground(g).is_none() {
                out.push(("scope.client_groups", format!("{g:?} is not a ground name")));
            }
        }
        for m in &self.municipality_codes {
            if registry
                .area_for_municipality(m, date)
                .is_none_or(|a| a.slug != area)
            {
                out.push((
                    "scope.municipality_codes",
                    format!("{m:?} is not a municipality of area {area} on {date}"),
                ));
            }
        }
        for s in &self.statement_subjects {
            if subject(s).is_none() {
                out.push((
                    "scope.statement_subjects",
                    format!("{s:?} is not a statement subject"),
                ));
            }
        }
        out
    }
}

/// The client groups a scope may name: the referral's target-group grounds (1269/2020 4 §), as
/// the referral and AVI's facts name them.
pub const CLIENT_GROUPS: [&str; 6] = [
    "no_earnings_related_allowance",
    "under_30",
    "immigrant",
    "foreign_language",
    "at_risk_of_unemployment",
    "temporary_protection",
];

fn ground(name: &str) -> Option<&'static str> {
    CLIENT_GROUPS.iter().copied().find(|g| *g == name)
}

fn subject(name: &str) -> Option<StatementSubject> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// A suspension as every party holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub action_id: String,
    pub area: String,
    /// In force from this day.
    pub from: NaiveDate,
    /// Lifted from this day (no longer in force on it), if lifted.
    pub lifted_from: Option<NaiveDate>,
    /// `None`: the whole trial of the area.
    pub scope: Option<Scope>,
}

impl Suspension {
    /// Whether it is in force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        date >= self.from && self.lifted_from.is_none_or(|lifted| date < lifted)
    }

    /// Whether a client of this area with `grounds` (names) living in `municipality` is covered
    /// on `date`: the TE office keeps such a client.
    pub fn covers_client(&self, date: NaiveDate, grounds: &[&str], municipality: &str) -> bool {
        if !self.in_force(date) {
            return false;
        }
        let Some(scope) = &self.scope else {
            return true;
        };
        scope.names_clients()
            && (scope.client_groups.is_empty()
                || grounds
                    .iter()
                    .any(|g| scope.client_groups.iter().any(|c| c == g)))
            && (scope.municipality_codes.is_empty()
                || scope.municipality_codes.iter().any(|m| m == municipality))
    }

    /// Whether the area's competence for statements on `subject` (name) ended on `date`.
    pub fn covers_statement(&self, date: NaiveDate, subject: &str) -> bool {
        self.in_force(date)
            && self
                .scope
                .as_ref()
                .is_none_or(|s| s.statement_subjects.iter().any(|x| x == subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 10, d).unwrap()
    }

    fn partial(scope: Scope) -> Suspension {
        Suspension {
            action_id: "a".into(),
            area: "kainuu".into(),
            from: day(10),
            lifted_from: Some(day(20)),
            scope: Some(scope),
        }
    }

    #[test]
    fn a_partial_suspension_covers_exactly_its_clients_while_in_force() {
        let s = partial(Scope {
            client_groups: vec!["under_30".into()],
            municipality_codes: vec!["205".into()],
            ..Scope::default()
        });
        assert!(s.covers_client(day(10), &["under_30", "immigrant"], "205"));
        assert!(!s.covers_client(day(10), &["immigrant"], "205"));
        assert!(!s.covers_client(day(10), &["under_30"], "290"));
        assert!(!s.covers_client(day(9), &["under_30"], "205"));
        assert!(!s.covers_client(day(20), &["under_30"], "205"), "lifted");
        assert!(!s.covers_statement(day(12), "general_conditions"));
    }

    #[test]
    fn a_service_suspension_moves_statements_not_clients() {
        let s = partial(Scope {
            statement_subjects: vec!["general_conditions".into()],
            ..Scope::default()
        });
        assert!(!s.covers_client(day(12), &["under_30"], "205"));
        assert!(s.covers_statement(day(12), "general_conditions"));
        assert!(!s.covers_statement(day(12), "participation_in_service"));
    }

    #[test]
    fn a_full_suspension_covers_everything() {
        let s = Suspension {
            scope: None,
            lifted_from: None,
            ..partial(Scope::default())
        };
        assert!(s.covers_client(day(30), &[], "205"));
        assert!(s.covers_statement(day(30), "general_conditions"));
    }

    #[test]
    fn scopes_are_checked_against_the_law_and_the_area() {
        let r = Registry::builtin();
        let ok = Scope {
            client_groups: vec!["under_30".into()],
            municipality_codes: vec!["205".into()],
            statement_subjects: vec!["general_conditions".into()],
        };
        assert_eq!(ok.problems(r, "kainuu", day(1)), []);
        let bad = Scope {
            client_groups: vec!["tall".into()],
            municipality_codes: vec!["091".into()],
            statement_subjects: vec!["weather".into()],
        };
        let fields: Vec<_> = bad
            .problems(r, "kainuu", day(1))
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "scope.client_groups",
                "scope.municipality_codes",
                "scope.statement_subjects"
            ]
        );
        assert_eq!(Scope::default().problems(r, "kainuu", day(1)).len(), 1);
    }
}
