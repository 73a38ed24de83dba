//! Realistic made-up jobseekers for demos and benchmarks: valid henkilötunnus codes (unique in a
//! batch), home municipalities of the running areas, grounds that fit the age.

use std::collections::HashSet;

use chrono::{Datelike, Duration, NaiveDate};
use kokeilu_rules::hetu::Hetu;
use kokeilu_rules::registry::Registry;
use rand::Rng;
use rand::seq::IndexedRandom;

/// One made-up jobseeker.
#[derive(Debug, Clone)]
pub struct Jobseeker {
    pub hetu: Hetu,
    pub municipality: String,
    pub grounds: Vec<i32>,
    pub job_search_start: NaiveDate,
}

/// Generates jobseekers without repeating a henkilötunnus.
pub struct Generator {
    /// Member municipalities per area: an area is drawn first, so small areas get referrals too.
    areas: Vec<Vec<String>>,
    outside: Vec<String>,
    outside_share: f64,
    today: NaiveDate,
    seen: HashSet<String>,
}

impl Generator {
    /// Home municipalities are drawn from `areas`; `outside_share` of jobseekers live in a
    /// municipality of no trial area (the TE office keeps them).
    pub fn new(
        registry: &Registry,
        areas: &[String],
        today: NaiveDate,
        outside_share: f64,
    ) -> Self {
        let areas = areas
            .iter()
            .filter_map(|a| registry.current_area(a))
            .map(|a| a.municipalities.clone())
            .collect();
        // Kauniainen, Kirkkonummi, Nurmijärvi: no trial area.
        let outside = ["235", "257", "543"]
            .iter()
            .filter(|c| registry.municipality(c).is_some())
            .map(|c| (*c).to_owned())
            .collect();
        Self {
            areas,
            outside,
            outside_share,
            today,
            seen: HashSet::new(),
        }
    }

    pub fn next(&mut self, rng: &mut impl Rng) -> anyhow::Result<Jobseeker> {
        let municipality = if !self.outside.is_empty() && rng.random_bool(self.outside_share) {
            self.outside.choose(rng)
        } else {
            self.areas.choose(rng).and_then(|a| a.choose(rng))
        }
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no municipalities to draw from"))?;
        loop {
            let age_days = rng.random_range(18 * 365..64 * 365);
            let birth = self.today - Duration::days(age_days);
            let individual = rng.random_range(2..900u16);
            let new_sign = birth.year() >= 2000 && rng.random_bool(0.05);
            let hetu = Hetu::generate(birth, individual, new_sign)
                .map_err(|e| anyhow::anyhow!("generated an invalid code: {e}"))?;
            if !self.seen.insert(hetu.expose().to_owned()) {
                continue;
            }
            let mut grounds = Vec::new();
            if hetu.age_on(self.today) < 30 {
                grounds.push(2);
            }
            if rng.random_bool(0.6) {
                grounds.push(1);
            }
            if rng.random_bool(0.1) {
                grounds.push(3);
            }
            if rng.random_bool(0.15) {
                grounds.push(4);
            }
            if grounds.is_empty() {
                grounds.push(1);
            }
            let job_search_start = self.today - Duration::days(rng.random_range(0..7));
            return Ok(Jobseeker {
                hetu,
                municipality,
                grounds,
                job_search_start,
            });
        }
    }
}
