//! The Finnish working-day calendar for statutory time limits.
//!
//! The initial interview is due within 5 *working days* (JTYPL 2:4 as amended by 1379/2021), and
//! any time limit ending on a day offices are closed moves to the next working day, so every
//! service must count working days identically.
//!
//! Not working days: Saturdays and Sundays; the public holidays — New Year's Day (1.1), Epiphany
//! (6.1), Good Friday, Easter Sunday and Monday, May Day (1.5), Ascension Day (Easter + 39),
//! Whit Sunday (Easter + 49), Midsummer Day (the Saturday in 20–26.6), All Saints' Day (the
//! Saturday in 31.10–6.11), Independence Day (6.12), Christmas Day and St Stephen's Day (25–26.12)
//! — and the days official offices are closed: Midsummer Eve (the Friday before Midsummer Day) and
//! Christmas Eve (24.12). This calendar holds from 1992 (Epiphany and Ascension Day on their own
//! dates again); all trial dates are later.
//!
//! A time limit whose last day is not a working day ends on the next working day: Act on the
//! Calculation of Time Limits 150/1930 § 5 (public holidays, Independence Day, May Day, Christmas
//! Eve, Midsummer Eve and Saturdays). DOMAIN.md does not state this rule; it is general law applied
//! here as an inference (see [`deadline_on_working_day`]).

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Easter Sunday of `year` (Gregorian calendar, the anonymous "Meeus/Jones/Butcher" algorithm).
/// Years outside chrono's range give `NaiveDate::MIN`.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    u32::try_from(month)
        .ok()
        .zip(u32::try_from(day).ok())
        .and_then(|(month, day)| NaiveDate::from_ymd_opt(year, month, day))
        .unwrap_or(NaiveDate::MIN)
}

/// Days from `from` to `to` (negative when `to` is earlier); never overflows.
fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    to.signed_duration_since(from).num_days()
}

/// Whether `date` is the Saturday in `month` `first`..=`first + 6` (Midsummer Day: 20–26 June;
/// All Saints' Day: 31 October – 6 November).
fn is_saturday_from(date: NaiveDate, month: u32, first: u32) -> bool {
    let Some(start) = NaiveDate::from_ymd_opt(date.year(), month, first) else {
        return false;
    };
    date.weekday() == Weekday::Sat && (0..7).contains(&days_between(start, date))
}

/// Why a date is not a working day, if it is not.
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    let fixed = match (date.month(), date.day()) {
        (1, 1) => Some("New Year's Day"),
        (1, 6) => Some("Epiphany"),
        (5, 1) => Some("May Day"),
        (12, 6) => Some("Independence Day"),
        (12, 24) => Some("Christmas Eve"),
        (12, 25) => Some("Christmas Day"),
        (12, 26) => Some("St Stephen's Day"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let from_easter = days_between(easter_sunday(date.year()), date);
    let movable = match from_easter {
        -2 => Some("Good Friday"),
        0 => Some("Easter Sunday"),
        1 => Some("Easter Monday"),
        39 => Some("Ascension Day"),
        49 => Some("Whit Sunday"),
        _ => None,
    };
    if movable.is_some() {
        return movable;
    }
    if is_saturday_from(date, 6, 20) {
        return Some("Midsummer Day");
    }
    if date
        .succ_opt()
        .is_some_and(|next| is_saturday_from(next, 6, 20))
    {
        return Some("Midsummer Eve");
    }
    if is_saturday_from(date, 10, 31) {
        return Some("All Saints' Day");
    }
    match date.weekday() {
        Weekday::Sat => Some("Saturday"),
        Weekday::Sun => Some("Sunday"),
        _ => None,
    }
}

/// Whether offices are open on `date`.
pub fn is_working_day(date: NaiveDate) -> bool {
    holiday_name(date).is_none()
}

/// The days of `year` that are not working days although they fall on Monday–Friday, with their
/// names (for display).
pub fn closed_weekdays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let Some(first) = NaiveDate::from_ymd_opt(year, 1, 1) else {
        return Vec::new();
    };
    first
        .iter_days()
        .take_while(|d| d.year() == year)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .filter_map(|d| holiday_name(d).map(|name| (d, name)))
        .collect()
}

/// The date `n` working days after `date`: `date` itself is not counted (it may be any day), the
/// result is always a working day, and `n = 0` gives `date` unchanged. Saturates at the end of
/// chrono's calendar.
pub fn add_working_days(date: NaiveDate, n: u32) -> NaiveDate {
    let mut d = date;
    let mut left = n;
    while left > 0 {
        let Some(next) = d.checked_add_days(Days::new(1)) else {
            return d;
        };
        d = next;
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

/// The number of working days `d` with `from < d <= to`: `from` is excluded and `to` included, so
/// `working_days_between(a, add_working_days(a, n)) == n`. Zero when `to <= from`.
pub fn working_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    from.iter_days()
        .skip(1)
        .take_while(|d| *d <= to)
        .filter(|d| is_working_day(*d))
        .fold(0, |n, _| n.saturating_add(1))
}

/// The last day of a time limit that nominally ends on `date`: `date` itself if it is a working
/// day, else the next working day (150/1930 § 5; inference, see the module documentation).
pub fn deadline_on_working_day(date: NaiveDate) -> NaiveDate {
    date.iter_days()
        .find(|d| is_working_day(*d))
        .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_dates_are_right() {
        let known = [
            (2012, 4, 8),
            (2013, 3, 31),
            (2014, 4, 20),
            (2015, 4, 5),
            (2016, 3, 27),
            (2017, 4, 16),
            (2018, 4, 1),
            (2019, 4, 21),
            (2020, 4, 12),
            (2021, 4, 4),
            (2022, 4, 17),
            (2023, 4, 9),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2028, 4, 16),
            (2029, 4, 1),
            (2030, 4, 21),
        ];
        for (y, m, d) in known {
            assert_eq!(easter_sunday(y), day(y, m, d));
        }
    }

    #[test]
    fn the_holidays_of_2024() {
        let closed = [
            (day(2024, 1, 1), "New Year's Day"),
            (day(2024, 1, 6), "Epiphany"),
            (day(2024, 3, 29), "Good Friday"),
            (day(2024, 3, 31), "Easter Sunday"),
            (day(2024, 4, 1), "Easter Monday"),
            (day(2024, 5, 1), "May Day"),
            (day(2024, 5, 9), "Ascension Day"),
            (day(2024, 5, 19), "Whit Sunday"),
            (day(2024, 6, 21), "Midsummer Eve"),
            (day(2024, 6, 22), "Midsummer Day"),
            (day(2024, 11, 2), "All Saints' Day"),
            (day(2024, 12, 6), "Independence Day"),
            (day(2024, 12, 24), "Christmas Eve"),
            (day(2024, 12, 25), "Christmas Day"),
            (day(2024, 12, 26), "St Stephen's Day"),
        ];
        for (d, name) in closed {
            assert_eq!(holiday_name(d), Some(name), "{d}");
        }
        assert!(
            is_working_day(day(2024, 6, 20)),
            "Thursday before Midsummer Eve"
        );
        assert!(is_working_day(day(2024, 12, 27)));
        assert!(
            is_working_day(day(2024, 12, 31)),
            "New Year's Eve is a working day"
        );
        let weekdays: Vec<_> = closed_weekdays(2024).into_iter().map(|(d, _)| d).collect();
        assert_eq!(weekdays.len(), 10, "{weekdays:?}");
    }

    #[test]
    fn midsummer_and_all_saints_move_with_the_calendar() {
        // 2021: Midsummer Day 26.6 (the last possible), Eve 25.6; All Saints' Day 6.11.
        assert_eq!(holiday_name(day(2021, 6, 25)), Some("Midsummer Eve"));
        assert_eq!(holiday_name(day(2021, 6, 26)), Some("Midsummer Day"));
        assert_eq!(holiday_name(day(2021, 11, 6)), Some("All Saints' Day"));
        // 2022: Midsummer Day 25.6; All Saints' Day 5.11.
        assert_eq!(holiday_name(day(2022, 6, 24)), Some("Midsummer Eve"));
        assert_eq!(holiday_name(day(2022, 11, 5)), Some("All Saints' Day"));
        // 2023: Midsummer Eve 23.6, All Saints' Day 4.11.
        assert_eq!(holiday_name(day(2023, 6, 23)), Some("Midsummer Eve"));
        assert_eq!(holiday_name(day(2023, 11, 4)), Some("All Saints' Day"));
        assert!(is_working_day(day(2023, 6, 19)));
    }

    #[test]
    fn adding_working_days_skips_weekends_and_holidays() {
        // Job search starts Monday 2.9.2024: 5 working days → Monday 9.9.
        assert_eq!(add_working_days(day(2024, 9, 2), 5), day(2024, 9, 9));
        // Over Christmas 2024: 24–26 closed.
        assert_eq!(add_working_days(day(2024, 12, 23), 1), day(2024, 12, 27));
        assert_eq!(add_working_days(day(2024, 12, 23), 2), day(2024, 12, 30));
        // Easter 2024: Thu 28.3 + 1 → Tue 2.4.
        assert_eq!(add_working_days(day(2024, 3, 28), 1), day(2024, 4, 2));
        // Starting on a closed day: Saturday 22.6.2024 + 1 → Monday 24.6.
        assert_eq!(add_working_days(day(2024, 6, 22), 1), day(2024, 6, 24));
        assert_eq!(add_working_days(day(2024, 6, 22), 0), day(2024, 6, 22));
        assert_eq!(
            working_days_between(day(2024, 12, 20), day(2024, 12, 31)),
            4
        );
        assert_eq!(working_days_between(day(2024, 9, 2), day(2024, 9, 2)), 0);
        assert_eq!(working_days_between(day(2024, 9, 9), day(2024, 9, 2)), 0);
        // The end of the calendar saturates instead of panicking.
        assert_eq!(add_working_days(NaiveDate::MAX, 3), NaiveDate::MAX);
        assert!(holiday_name(NaiveDate::MIN).is_some() || is_working_day(NaiveDate::MIN));
    }

    #[test]
    fn a_time_limit_ending_on_a_closed_day_moves_to_the_next_working_day() {
        assert_eq!(deadline_on_working_day(day(2024, 6, 21)), day(2024, 6, 24));
        assert_eq!(
            deadline_on_working_day(day(2024, 12, 24)),
            day(2024, 12, 27)
        );
        assert_eq!(deadline_on_working_day(day(2024, 9, 4)), day(2024, 9, 4));
    }

    proptest! {
        #[test]
        fn adding_working_days_never_lands_on_a_closed_day(offset in 0i64..(20 * 366), n in 1u32..60) {
            let start = day(2012, 1, 1) + Duration::days(offset);
            let end = add_working_days(start, n);
            prop_assert!(is_working_day(end));
            prop_assert!(end > start);
            prop_assert_eq!(working_days_between(start, end), n);
        }

        #[test]
        fn a_moved_deadline_is_the_first_working_day(offset in 0i64..(20 * 366)) {
            let date = day(2012, 1, 1) + Duration::days(offset);
            let due = deadline_on_working_day(date);
            prop_assert!(is_working_day(due) && due >= date);
            prop_assert_eq!(working_days_between(date, due), u32::from(due != date));
            // Longest closure: Christmas Eve on a Wednesday (24–28.12, open 29.12).
            prop_assert!(due - date <= Duration::days(5));
        }

        #[test]
        fn every_easter_is_a_sunday_in_march_or_april(year in 1583i32..4000) {
            let e = easter_sunday(year);
            prop_assert_eq!(e.weekday(), Weekday::Sun);
            prop_assert!((e >= day(year, 3, 22)) && (e <= day(year, 4, 25)));
        }
    }
}
