//! Golden tests of the embedded registry data against DOMAIN.md, and of the validation that
//! keeps configuration errors out.

// Test tables: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use kokeilu_rules::registry::Registry;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// DOMAIN.md § 1.e, machine-readable block, copied verbatim: code, name, statute item, area.
const DOMAIN_2021: &str = include_str!("data/domain_2021_areas.csv");

#[test]
fn the_2021_trial_has_25_areas_and_118_municipalities() {
    let t = Registry::builtin().trial("2021").unwrap();
    assert_eq!(t.areas.len(), 25);
    assert_eq!(t.municipality_count(), 118);
    assert_eq!(t.starts, day(2021, 3, 1));
    assert_eq!(t.proposed_start, Some(day(2021, 1, 1)));
    assert_eq!(t.originally_ends, Some(day(2023, 6, 30)));
    assert_eq!(t.ends, day(2024, 12, 31));
    assert_eq!(
        t.last_referral, None,
        "the 31.3.2023 stop was repealed (287/2022)"
    );
    let extension = t.amendments.iter().find(|a| a.act == "287/2022").unwrap();
    assert_eq!(extension.in_force, day(2022, 8, 1));
    for (slug, item) in [("kainuu", "4"), ("pirkanmaa", "7"), ("helsinki", "13b")] {
        assert_eq!(
            Registry::builtin().current_area(slug).unwrap().statute_item,
            item
        );
    }
}

#[test]
fn the_2021_areas_match_domain_md_code_by_code() {
    let r = Registry::builtin();
    let t = r.trial("2021").unwrap();
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for line in DOMAIN_2021.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let (code, name, item) = (cols[0], cols[1], cols[2]);
        assert_eq!(r.municipality(code).unwrap().name, name, "name of {code}");
        expected.insert(code.into(), item.into());
    }
    assert_eq!(expected.len(), 118);
    let actual: BTreeMap<String, String> = t
        .areas
        .iter()
        .flat_map(|a| {
            a.municipalities
                .iter()
                .map(|c| (c.clone(), a.statute_item.clone()))
        })
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn the_2017_trial_has_5_areas_and_23_municipalities() {
    let t = Registry::builtin().trial("2017").unwrap();
    assert_eq!(t.areas.len(), 5);
    assert_eq!(t.municipality_count(), 23);
    assert_eq!((t.starts, t.ends), (day(2017, 8, 1), day(2018, 12, 31)));
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
    let groups: HashSet<_> = t
        .areas
        .iter()
        .filter_map(|a| t.target_group_of(a))
        .collect();
    assert_eq!(groups.len(), 5, "per-area target groups");
    let pirkanmaa = t.areas.iter().find(|a| a.slug == "pirkanmaa").unwrap();
    assert!(!t.continues_on_reregistration(pirkanmaa), "505/2017 4 §");
}

#[test]
fn the_2012_trial_has_23_projects_and_61_municipalities() {
    let t = Registry::builtin().trial("2012").unwrap();
    assert_eq!(t.areas.len(), 23);
    let unconfirmed: Vec<&str> = t
        .areas
        .iter()
        .flat_map(|a| a.unconfirmed.iter().map(String::as_str))
        .collect();
    assert_eq!(
        unconfirmed,
        [
            "Maaninka",
            "Nilsiä",
            "Nastola",
            "Vihanti",
            "Punkaharju",
            "Kerimäki"
        ]
    );
    assert_eq!(t.municipality_count() + unconfirmed.len(), 61);
    assert!(!t.municipality_takes_over_services);
}

#[test]
fn each_code_is_in_at_most_one_area_per_generation() {
    let r = Registry::builtin();
    assert_eq!(
        r.trials().iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["2012", "2017", "2021"]
    );
    for t in r.trials() {
        let mut seen = HashSet::new();
        for a in &t.areas {
            for c in &a.municipalities {
                assert!(seen.insert(c), "{c} twice in trial {}", t.id);
                assert!(r.municipality(c).is_some(), "{c} unknown");
            }
            assert!(
                a.slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            );
        }
    }
}

#[test]
fn every_finnish_municipality_is_known_and_special_codes_are_not_municipalities() {
    let r = Registry::builtin();
    assert_eq!(r.municipalities().count(), 309);
    assert_eq!(r.municipality("091").unwrap().name, "Helsinki");
    assert_eq!(r.municipality("010").unwrap().name, "Alavus");
    assert_eq!(r.municipality("235").unwrap().name, "Kauniainen");
    for special in ["198", "199", "200", "999"] {
        assert!(r.municipality(special).is_none(), "{special}");
        assert!(r.classification_code(special).unwrap().special, "{special}");
    }
    assert!(
        r.municipality("91").is_none(),
        "codes keep their leading zeros"
    );
}

#[test]
fn areas_are_found_by_home_municipality_and_date() {
    let r = Registry::builtin();
    let slug =
        |code: &str, on: NaiveDate| r.area_for_municipality(code, on).map(|a| a.slug.clone());
    assert_eq!(slug("205", day(2024, 3, 4)).as_deref(), Some("kainuu"));
    assert_eq!(slug("091", day(2021, 3, 1)).as_deref(), Some("helsinki"));
    assert_eq!(slug("091", day(2021, 2, 28)), None);
    assert_eq!(slug("091", day(2025, 1, 1)), None);
    assert_eq!(slug("235", day(2024, 3, 4)), None, "Kauniainen");
    assert_eq!(slug("837", day(2018, 3, 1)).as_deref(), Some("pirkanmaa"));
    assert_eq!(
        slug("108", day(2018, 3, 1)),
        None,
        "Hämeenkyrö only in 2021"
    );
    assert_eq!(
        slug("205", day(2014, 6, 2)).as_deref(),
        Some("kajaani-kuhmo")
    );
    assert_eq!(r.area("2017", "satakunta").unwrap().municipalities, ["609"]);
    assert!(r.area("2017", "kainuu").is_none());
}

const CSV: &str = "code,name_fi,name_sv,kind\n091,Helsinki,Helsingfors,municipality\n\
                   092,Vantaa,Vanda,municipality\n198,ei kotikuntaa,ingen,special\n";

fn trial(areas: &str) -> String {
    format!(
        "[[trial]]\nid = \"x\"\nname = \"x\"\nstarts = \"2021-01-01\"\nends = \"2021-12-31\"\n\
         target_group = \"2021\"\n{areas}"
    )
}

fn area(slug: &str, item: &str, codes: &str) -> String {
    format!(
        "[[trial.area]]\nslug = \"{slug}\"\nstatute_item = \"{item}\"\nname = \"A\"\n\
         municipalities = [{codes}]\n"
    )
}

#[test]
fn invalid_data_is_refused() {
    let ok = trial(&(area("a", "1", "\"091\"") + &area("b", "2", "\"092\"")));
    assert!(Registry::from_sources(&ok, CSV).is_ok());
    let refused = [
        (
            "code in two areas",
            trial(&(area("a", "1", "\"091\"") + &area("b", "2", "\"091\""))),
        ),
        (
            "slug twice",
            trial(&(area("a", "1", "\"091\"") + &area("a", "2", "\"092\""))),
        ),
        (
            "statute item twice",
            trial(&(area("a", "1", "\"091\"") + &area("b", "1", "\"092\""))),
        ),
        ("unknown code", trial(&area("a", "1", "\"093\""))),
        ("special code", trial(&area("a", "1", "\"198\""))),
        ("slug not a token", trial(&area("A b", "1", "\"091\""))),
        ("no members", trial(&area("a", "1", ""))),
        ("ends before start", ok.replace("2021-12-31", "2020-12-31")),
        (
            "last referral after end",
            ok.replace(
                "ends = \"2021-12-31\"",
                "ends = \"2021-12-31\"\nlast_referral = \"2022-01-01\"",
            ),
        ),
        (
            "unknown rule",
            ok.replace("target_group = \"2021\"", "target_group = \"9999\""),
        ),
        (
            "unknown field",
            ok.replace("name = \"x\"", "name = \"x\"\ncolour = \"red\""),
        ),
        (
            "two overlapping trials",
            format!("{ok}{}", ok.replace("id = \"x\"", "id = \"y\"")),
        ),
    ];
    for (why, toml) in refused {
        assert!(
            Registry::from_sources(&toml, CSV).is_err(),
            "{why} accepted"
        );
    }
    let unconfirmed = trial(&(area("a", "1", "") + "unconfirmed = [\"Nastola\"]\n"));
    assert!(
        Registry::from_sources(&unconfirmed, CSV).is_ok(),
        "unconfirmed by name"
    );
    for csv in [
        "",
        "code,name\n091,Helsinki\n",
        "code,name_fi,name_sv,kind\n91,Helsinki,Helsingfors,municipality\n",
        "code,name_fi,name_sv,kind\n091,Helsinki,Helsingfors,city\n",
        "code,name_fi,name_sv,kind\n091,Helsinki,Helsingfors,municipality\n091,X,X,municipality\n",
    ] {
        assert!(
            Registry::from_sources(&ok, csv).is_err(),
            "{csv:?} accepted"
        );
    }
}
