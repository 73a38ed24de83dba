//! The Finnish working-day calendar for statutory time limits.
//!
//! Not working days: Saturdays, Sundays, the public holidays (New Year's Day, Epiphany, Good
//! Friday, Easter Sunday and Monday, May Day, Ascension Day, Whit Sunday, Midsummer Day, All
//! Saints' Day, Independence Day, Christmas Day, St Stephen's Day) and the days official offices
//! are closed (Midsummer Eve, Christmas Eve).
//!
//! A time limit whose last day is not a working day ends on the next working day: Act on the
//! Calculation of Time Limits 150/1930 § 5 (public holidays, Independence Day, May Day, Christmas
//! Eve, Midsummer Eve, Saturdays). That rule is general law, not stated in DOMAIN.md (inference).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Easter Sunday (Gregorian, anonymous algorithm).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

/// The Saturday in `first..first+6` of `month` (Midsummer Day: 20–26 June; All Saints' Day:
/// 31 October – 6 November).
fn saturday_from(year: i32, month: u32, first: u32) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(year, month, first).unwrap_or(NaiveDate::MIN);
    let offset =
        (Weekday::Sat.num_days_from_monday() + 7 - start.weekday().num_days_from_monday()) % 7;
    start + Duration::days(i64::from(offset))
}

/// Why a date is not a working day, if it is not.
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    let y = date.year();
    let easter = easter_sunday(y);
    let midsummer = saturday_from(y, 6, 20);
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
    fixed.or_else(|| {
        let d = date;
        if d == easter - Duration::days(2) {
            Some("Good Friday")
        } else if d == easter {
            Some("Easter Sunday")
        } else if d == easter + Duration::days(1) {
            Some("Easter Monday")
        } else if d == easter + Duration::days(39) {
            Some("Ascension Day")
        } else if d == easter + Duration::days(49) {
            Some("Whit Sunday")
        } else if d == midsummer - Duration::days(1) {
            Some("Midsummer Eve")
        } else if d == midsummer {
            Some("Midsummer Day")
        } else if d == saturday_from(y, 10, 31) {
            Some("All Saints' Day")
        } else {
            match d.weekday() {
                Weekday::Sat => Some("Saturday"),
                Weekday::Sun => Some("Sunday"),
                _ => None,
            }
        }
    })
}

pub fn is_working_day(date: NaiveDate) -> bool {
    holiday_name(date).is_none()
}

/// The date `n` working days after `date` (`date` itself is not counted; `n = 0` gives `date`).
pub fn add_working_days(date: NaiveDate, n: u32) -> NaiveDate {
    let mut d = date;
    let mut left = n;
    while left > 0 {
        d += Duration::days(1);
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

/// Working days `d` with `from < d <= to` (0 when `to <= from`).
pub fn working_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut n = 0;
    let mut d = from;
    while d < to {
        d += Duration::days(1);
        if is_working_day(d) {
            n += 1;
        }
    }
    n
}

/// The last day of a time limit that nominally ends on `date`: `date` itself if it is a working
/// day, else the next working day (150/1930 § 5).
pub fn deadline_on_working_day(date: NaiveDate) -> NaiveDate {
    let mut d = date;
    while !is_working_day(d) {
        d += Duration::days(1);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_dates_are_right() {
        assert_eq!(easter_sunday(2021), day(2021, 4, 4));
        assert_eq!(easter_sunday(2022), day(2022, 4, 17));
        assert_eq!(easter_sunday(2023), day(2023, 4, 9));
        assert_eq!(easter_sunday(2024), day(2024, 3, 31));
    }

    #[test]
    fn the_holidays_of_2024() {
        let closed = [
            (day(2024, 1, 1), "New Year's Day"),
            (day(2024, 1, 6), "Epiphany"),
            (day(2024, 3, 29), "Good Friday"),
            (day(2024, 4, 1), "Easter Monday"),
            (day(2024, 5, 1), "May Day"),
            (day(2024, 5, 9), "Ascension Day"),
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
    }

    #[test]
    fn adding_working_days_skips_weekends_and_holidays() {
        // Job search starts Monday 2.9.2024: 5 working days → Monday 9.9.
        assert_eq!(add_working_days(day(2024, 9, 2), 5), day(2024, 9, 9));
        // Over Christmas 2024: Mon 23.12 + 2 → Fri 27.12 (24–26 closed).
        assert_eq!(add_working_days(day(2024, 12, 23), 2), day(2024, 12, 30));
        assert_eq!(add_working_days(day(2024, 12, 23), 1), day(2024, 12, 27));
        // Easter 2024: Thu 28.3 + 1 → Tue 2.4.
        assert_eq!(add_working_days(day(2024, 3, 28), 1), day(2024, 4, 2));
        assert_eq!(
            working_days_between(day(2024, 12, 20), day(2024, 12, 31)),
            4
        );
        assert_eq!(working_days_between(day(2024, 9, 9), day(2024, 9, 2)), 0);
    }

    #[test]
    fn a_time_limit_ending_on_a_closed_day_moves_to_the_next_working_day() {
        assert_eq!(deadline_on_working_day(day(2024, 6, 21)), day(2024, 6, 24));
        assert_eq!(deadline_on_working_day(day(2024, 9, 4)), day(2024, 9, 4));
    }

    proptest! {
        #[test]
        fn adding_working_days_never_lands_on_a_closed_day(offset in 0i64..(20 * 366), n in 1u32..60) {
            let start = day(2012, 1, 1) + Duration::days(offset);
            let end = add_working_days(start, n);
            prop_assert!(is_working_day(end));
            prop_assert_eq!(working_days_between(start, end), n);
        }
    }
}
