//! The 2017–2018 (505/2017) and 2012–2015 client rules, one case per rule, each naming its law
//! section, and properties that hold across all generations.

// Test tables: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod support;

use chrono::NaiveDate;
use kokeilu_rules::eligibility::{EmploymentStatus, JobseekerFacts, StayReason, evaluate};
use kokeilu_rules::registry::Registry;
use support::*;

fn cases_earlier() -> Vec<Case> {
    use StayReason as R;
    let home =
        |code: &'static str, f: JobseekerFacts| with(f, |f| f.home_municipality_code = code.into());
    let lappi = with(home("698", entitled()), |f| {
        f.continuous_unemployment_months = 12
    });
    let pori = with(home("609", entitled()), |f| {
        f.labour_market_subsidy_days = 200
    });
    let young_pori = with(home("609", entitled()), |f| {
        f.henkilotunnus = "010100A123D".into();
        f.continuous_unemployment_months = 6;
    });
    let long_term = with(home("205", entitled()), |f| {
        f.unemployment_benefit_days = 500;
        f.needs_municipal_services = true;
    });
    vec![
        case(
            "505/2017 3 § Lappi: unemployed ≥ 12 months without services",
            day(2018, 3, 1),
            lappi.clone(),
            Ok("lappi"),
        ),
        case(
            "505/2017 3 § Lappi: 11 months is not enough",
            day(2018, 3, 1),
            with(lappi, |f| f.continuous_unemployment_months = 11),
            Err(R::NotInTargetGroup),
        ),
        case(
            "505/2017 3 § Pirkanmaa: not entitled to earnings-related allowance",
            day(2018, 3, 1),
            base(),
            Ok("pirkanmaa"),
        ),
        case(
            "505/2017 3 § Pirkanmaa: entitled to earnings-related allowance",
            day(2018, 3, 1),
            entitled(),
            Err(R::NotInTargetGroup),
        ),
        case(
            "505/2017 4 §: no continuation on re-registration in Pirkanmaa",
            day(2018, 3, 1),
            with(entitled(), |f| {
                f.previously_client_of_area = "pirkanmaa".into()
            }),
            Err(R::NotInTargetGroup),
        ),
        case(
            "505/2017 4 §: continuation on re-registration elsewhere (Lappi)",
            day(2018, 3, 1),
            with(home("698", entitled()), |f| {
                f.previously_client_of_area = "lappi".into()
            }),
            Ok("lappi"),
        ),
        case(
            "505/2017 3 § Varsinais-Suomi: under 25",
            day(2018, 3, 1),
            with(home("853", entitled()), |f| {
                f.henkilotunnus = "010100A123D".into()
            }),
            Ok("varsinais-suomi"),
        ),
        case(
            "505/2017 3 § Varsinais-Suomi: unemployed ≥ 12 months",
            day(2018, 3, 1),
            with(home("529", entitled()), |f| {
                f.continuous_unemployment_months = 12
            }),
            Ok("varsinais-suomi"),
        ),
        case(
            "505/2017 3 § Pohjois-Savo: need for multi-sector joint service (TYP)",
            day(2018, 3, 1),
            with(home("297", entitled()), |f| {
                f.needs_multisector_service = true
            }),
            Ok("pohjois-savo"),
        ),
        case(
            "505/2017 3 § Satakunta: labour-market subsidy for ≥ 200 days",
            day(2018, 9, 30),
            pori.clone(),
            Ok("satakunta"),
        ),
        case(
            "505/2017 3 § Satakunta: under 25, unemployed ≥ 6 months",
            day(2018, 3, 1),
            young_pori.clone(),
            Ok("satakunta"),
        ),
        case(
            "505/2017 3 § Satakunta: under 25 but 5 months",
            day(2018, 3, 1),
            with(young_pori, |f| f.continuous_unemployment_months = 5),
            Err(R::NotInTargetGroup),
        ),
        case(
            "505/2017: unemployed jobseekers only",
            day(2018, 3, 1),
            with(base(), |f| {
                f.employment_status = EmploymentStatus::InService
            }),
            Err(R::NotAJobseeker),
        ),
        case(
            "505/2017 2 §: Helsinki was in no area",
            day(2018, 3, 1),
            home("091", base()),
            Err(R::OutsideTrialAreas),
        ),
        case(
            "505/2017: no referrals after 30.9.2018",
            day(2018, 10, 1),
            pori,
            Err(R::ReferralsClosed),
        ),
        case(
            "505/2017: not yet in force on 31.7.2017",
            day(2017, 7, 31),
            base(),
            Err(R::NoTrialInForce),
        ),
        case(
            "Kuntakokeilu 2012–2015: ≥ 500 days of unemployment benefit",
            day(2014, 6, 2),
            long_term.clone(),
            Ok("kajaani-kuhmo"),
        ),
        case(
            "Kuntakokeilu 2012–2015: 499 days and under 12 months is not long-term",
            day(2014, 6, 2),
            with(long_term.clone(), |f| f.unemployment_benefit_days = 499),
            Err(R::NotInTargetGroup),
        ),
        case(
            "Kuntakokeilu 2012–2015: ≥ 500 days without a need for municipal services is not \
             enough",
            day(2014, 6, 2),
            with(long_term.clone(), |f| f.needs_municipal_services = false),
            Err(R::NotInTargetGroup),
        ),
        case(
            "Kuntakokeilu 2012–2015: ≥ 12 months of continuous unemployment with a risk of \
             exclusion",
            day(2014, 6, 2),
            with(long_term.clone(), |f| {
                f.unemployment_benefit_days = 0;
                f.continuous_unemployment_months = 12;
                f.risk_of_exclusion = true;
            }),
            Ok("kajaani-kuhmo"),
        ),
        case(
            "Kuntakokeilu 2012–2015: ≥ 12 months without a risk of exclusion is not enough",
            day(2014, 6, 2),
            with(long_term, |f| {
                f.unemployment_benefit_days = 0;
                f.continuous_unemployment_months = 12;
            }),
            Err(R::NotInTargetGroup),
        ),
        case(
            "no trial between 2015 and 2017",
            day(2016, 6, 1),
            base(),
            Err(R::NoTrialInForce),
        ),
    ]
}

#[test]
fn every_rule_of_the_earlier_trials_gives_its_answer() {
    check(cases_earlier());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..(15 * 366)).prop_map(|d| day(2012, 1, 1) + chrono::Duration::days(d))
    }

    proptest! {
        /// Home municipality decides, not residence (unless temporary protection applies).
        #[test]
        fn residence_never_changes_the_answer(
            on in any_date(),
            home in prop::sample::select(vec!["837", "091", "235", "205", "609", "853", "698"]),
            residence in prop::sample::select(vec!["", "091", "235", "092", "564"]),
            entitled in any::<bool>(),
            months in 0u32..30,
        ) {
            let f = with(base(), |f| {
                f.home_municipality_code = home.into();
                f.entitled_to_earnings_related_allowance = entitled;
                f.continuous_unemployment_months = months;
            });
            let moved = with(f.clone(), |f| f.residence_municipality_code = residence.into());
            let a = evaluate(Registry::builtin(), &f, on).unwrap();
            let b = evaluate(Registry::builtin(), &moved, on).unwrap();
            prop_assert_eq!(a, b);
        }

        /// A referral goes to the area of the trial in force that holds the home municipality.
        #[test]
        fn a_referral_is_to_the_home_municipalitys_area(
            on in any_date(),
            home in prop::sample::select(vec!["837", "091", "205", "609", "853", "698", "297"]),
        ) {
            let f = with(base(), |f| f.home_municipality_code = home.into());
            let d = evaluate(Registry::builtin(), &f, on).unwrap();
            if let Some(slug) = d.area() {
                let expected = Registry::builtin().area_for_municipality(home, on).map(|a| a.slug.as_str());
                prop_assert_eq!(Some(slug), expected);
                prop_assert!(d.rule.effective_from <= on);
            }
        }
    }
}
