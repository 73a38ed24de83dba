//! Realistic made-up jobseekers for demos and benchmarks: valid henkilötunnus codes (unique in a
//! batch), home municipalities of the running areas, grounds that fit the age.

use std::collections::HashSet;

use chrono::{Datelike, Duration, NaiveDate};
use kokeilu_proto::teoffice::{EmploymentStatus, JobseekerFacts};
use kokeilu_rules::hetu::Hetu;
use kokeilu_rules::registry::Registry;
use rand::Rng;
use rand::seq::IndexedRandom;

/// One made-up jobseeker.
#[derive(Debug, Clone)]
pub struct Jobseeker {
    pub hetu: Hetu,
    pub municipality: String,
    /// What the TE office knows; te-office's rules decide grounds and area from it.
    pub facts: JobseekerFacts,
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

    /// With `bench`, every jobseeker is in the target group (no earnings-related allowance).
    pub fn next(&mut self, rng: &mut impl Rng, bench: bool) -> anyhow::Result<Jobseeker> {
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
            let status = match rng.random_range(0..10) {
                0 => EmploymentStatus::LaidOff,
                1 => EmploymentStatus::InService,
                _ => EmploymentStatus::Unemployed,
            };
            let foreign = rng.random_bool(0.15);
            let facts = JobseekerFacts {
                employment_status: status as i32,
                registered_as_jobseeker: true,
                entitled_to_earnings_related_allowance: rng.random_bool(if bench {
                    0.0
                } else {
                    0.45
                }),
                immigrant: foreign && rng.random_bool(0.7),
                mother_tongue: if foreign {
                    ["ru", "et", "ar", "so", "uk"]
                        .choose(rng)
                        .copied()
                        .unwrap_or("ru")
                        .to_owned()
                } else if rng.random_bool(0.05) {
                    "sv".to_owned()
                } else {
                    "fi".to_owned()
                },
                ..Default::default()
            };
            let job_search_start = self.today - Duration::days(rng.random_range(0..14));
            return Ok(Jobseeker {
                hetu,
                municipality,
                facts,
                job_search_start,
            });
        }
    }
}
