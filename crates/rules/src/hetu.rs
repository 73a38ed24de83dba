//! The Finnish personal identity code (henkilötunnus), Government Decree 128/2010 § 2 as amended
//! by 690/2022 (in force 1.1.2023): `DDMMYY` + century sign + individual number `NNN` + check
//! character. The full code is personal data: it is only ever read through [`Hetu::expose`], and
//! `Debug`/`Display` never show it.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// Check characters for remainders 0–30 of `DDMMYYNNN mod 31` (no G, I, O, Q, Z).
const CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// A valid henkilötunnus.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Hetu {
    code: String,
    birth: NaiveDate,
}

/// Why a string is not a valid henkilötunnus. Messages never repeat the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HetuError {
    #[error("must be 11 characters (DDMMYY, century sign, 3 digits, check character)")]
    Length,
    #[error("the birth date part must be 6 digits and the individual number 3 digits")]
    Characters,
    #[error("unknown century sign (allowed: + - Y X W V U A B C D E F)")]
    CenturySign,
    #[error("the birth date part is not a real date")]
    Date,
    #[error("individual number must be 002-999")]
    IndividualNumber,
    #[error("check character does not match")]
    Checksum,
}

fn century(sign: char) -> Option<i32> {
    match sign {
        '+' => Some(1800),
        '-' | 'Y' | 'X' | 'W' | 'V' | 'U' => Some(1900),
        'A' | 'B' | 'C' | 'D' | 'E' | 'F' => Some(2000),
        _ => None,
    }
}

fn check_char(digits: u32) -> char {
    CHECK[(digits % 31) as usize] as char
}

impl Hetu {
    /// Parses and validates a code (surrounding whitespace is ignored; letters may be lower case).
    pub fn parse(s: &str) -> Result<Self, HetuError> {
        let code = s.trim().to_ascii_uppercase();
        if code.chars().count() != 11 || !code.is_ascii() {
            return Err(HetuError::Length);
        }
        let b = code.as_bytes();
        if !b[..6].iter().all(u8::is_ascii_digit) || !b[7..10].iter().all(u8::is_ascii_digit) {
            return Err(HetuError::Characters);
        }
        let sign = b[6] as char;
        let base = century(sign).ok_or(HetuError::CenturySign)?;
        let num = |r: std::ops::Range<usize>| -> u32 {
            b[r].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'))
        };
        let (day, month, yy) = (num(0..2), num(2..4), num(4..6));
        let birth = NaiveDate::from_ymd_opt(base + yy as i32, month, day).ok_or(HetuError::Date)?;
        let individual = num(7..10);
        if individual < 2 {
            return Err(HetuError::IndividualNumber);
        }
        let digits = num(0..6) * 1000 + individual;
        if check_char(digits) != b[10] as char {
            return Err(HetuError::Checksum);
        }
        Ok(Self { code, birth })
    }

    /// Builds the valid code for a birth date and individual number. With `use_2023_sign` the
    /// first sign introduced in 2023 for the century is used (`Y` or `B`; none exists for 1800s).
    pub fn generate(
        birth: NaiveDate,
        individual: u16,
        use_2023_sign: bool,
    ) -> Result<Self, HetuError> {
        if !(2..=999).contains(&individual) {
            return Err(HetuError::IndividualNumber);
        }
        let sign = match (birth.year() / 100, use_2023_sign) {
            (18, _) => '+',
            (19, false) => '-',
            (19, true) => 'Y',
            (20, false) => 'A',
            (20, true) => 'B',
            _ => return Err(HetuError::Date),
        };
        let date = format!(
            "{:02}{:02}{:02}",
            birth.day(),
            birth.month(),
            birth.year() % 100
        );
        let digits: u32 = format!("{date}{individual:03}")
            .parse()
            .map_err(|_| HetuError::Characters)?;
        Self::parse(&format!(
            "{date}{sign}{individual:03}{}",
            check_char(digits)
        ))
    }

    /// The full code. Personal data: never log it.
    pub fn expose(&self) -> &str {
        &self.code
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth
    }

    pub fn century_sign(&self) -> char {
        self.code.as_bytes()[6] as char
    }

    pub fn individual_number(&self) -> u16 {
        self.code[7..10].parse().unwrap_or(0)
    }

    /// 900–999: temporary numbers (e.g. hospitals), not in the population register.
    pub fn is_temporary(&self) -> bool {
        self.individual_number() >= 900
    }

    /// Completed years of age on `date`.
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        let b = self.birth;
        let mut age = date.year() - b.year();
        if (date.month(), date.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        u32::try_from(age).unwrap_or(0)
    }
}

impl fmt::Debug for Hetu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hetu(******{}****)", self.century_sign())
    }
}

impl fmt::Display for Hetu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "******{}****", self.century_sign())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_worked_example_is_valid() {
        let h = Hetu::parse("131052-308T").unwrap();
        assert_eq!(
            h.birth_date(),
            NaiveDate::from_ymd_opt(1952, 10, 13).unwrap()
        );
        assert_eq!(h.century_sign(), '-');
        assert_eq!(h.individual_number(), 308);
        assert!(!h.is_temporary());
        assert_eq!(h.age_on(NaiveDate::from_ymd_opt(2024, 10, 12).unwrap()), 71);
        assert_eq!(h.age_on(NaiveDate::from_ymd_opt(2024, 10, 13).unwrap()), 72);
    }

    #[test]
    fn the_2023_century_signs_are_accepted_and_distinct() {
        let dash = Hetu::parse("131052-308T").unwrap();
        let y = Hetu::parse("131052Y308T").unwrap();
        assert_eq!(dash.birth_date(), y.birth_date());
        assert_ne!(dash, y, "the separator is part of the identity (690/2022)");
        assert_eq!(Hetu::parse("010101B123").unwrap_err(), HetuError::Length);
    }

    #[test]
    fn errors_say_what_is_wrong_without_the_code() {
        assert_eq!(Hetu::parse("131052-308X").unwrap_err(), HetuError::Checksum);
        assert_eq!(
            Hetu::parse("131052Q308T").unwrap_err(),
            HetuError::CenturySign
        );
        assert_eq!(Hetu::parse("311152-308T").unwrap_err(), HetuError::Date);
        assert_eq!(
            Hetu::parse("1310A2-308T").unwrap_err(),
            HetuError::Characters
        );
        assert_eq!(
            Hetu::parse("131052-001T").unwrap_err(),
            HetuError::IndividualNumber
        );
        for e in [HetuError::Checksum, HetuError::Date] {
            assert!(!e.to_string().contains("131052"));
        }
    }

    #[test]
    fn debug_and_display_hide_the_code() {
        let h = Hetu::parse("131052-308T").unwrap();
        for shown in [format!("{h:?}"), format!("{h}")] {
            assert!(
                !shown.contains("131052") && !shown.contains("308"),
                "{shown}"
            );
        }
    }

    fn any_hetu() -> impl Strategy<Value = Hetu> {
        (0i64..(200 * 366), 2u16..1000, any::<bool>()).prop_filter_map("in range", |(d, n, new)| {
            let birth = NaiveDate::from_ymd_opt(1850, 1, 1)? + chrono::Duration::days(d);
            if birth.year() >= 2100 {
                return None;
            }
            Hetu::generate(birth, n, new).ok()
        })
    }

    proptest! {
        #[test]
        fn every_generated_code_round_trips(h in any_hetu()) {
            let again = Hetu::parse(h.expose()).unwrap();
            prop_assert_eq!(&again, &h);
            prop_assert_eq!(again.birth_date(), h.birth_date());
        }

        #[test]
        fn any_single_character_change_is_caught(h in any_hetu(), pos in 0usize..11, c in "[0-9A-Y+-]") {
            let mut chars: Vec<char> = h.expose().chars().collect();
            let new = c.chars().next().unwrap();
            prop_assume!(chars[pos] != new);
            // The check character covers DDMMYYNNN, not the century sign: another sign is
            // another person (another century, or since 2023 another code of the same date).
            prop_assume!(pos != 6);
            chars[pos] = new;
            let changed: String = chars.into_iter().collect();
            prop_assert!(Hetu::parse(&changed).is_err(), "{} accepted", changed);
        }
    }
}
