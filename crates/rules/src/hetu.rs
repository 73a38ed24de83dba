//! The Finnish personal identity code (henkilötunnus), Government Decree 128/2010 § 2 as amended
//! by 690/2022 (in force 1.1.2023): `DDMMYY` + century sign + individual number `NNN` + check
//! character (DOMAIN.md § 5). Every referral carries one, so every service validates it the same
//! way here.
//!
//! - Century signs: `+` 1800s; `-` and (from 2023) `Y X W V U` 1900s; `A` and (from 2023)
//!   `B C D E F` 2000s. Since 2023 the sign is part of the individual number, so two people may
//!   share the digits: the full 11-character code is the identity (equality and hashing use it).
//! - Individual number 002–999; 900–999 are temporary numbers not in the population register.
//! - Check character: `DDMMYYNNN mod 31` mapped through `0123456789ABCDEFHJKLMNPRSTUVWXY`.
//!
//! The full code is personal data: it is only ever read through [`Hetu::expose`]; `Debug` and
//! `Display` show at most the century sign, and error messages never repeat the input.

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
    #[error(
        "the birth date part must be 6 digits, the individual number 3 digits and the check \
         character one of 0-9 A-Y without G, I, O, Q, Z"
    )]
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
        if code.chars().count() != 11 {
            return Err(HetuError::Length);
        }
        if !code.is_ascii() {
            return Err(HetuError::Characters);
        }
        let b = code.as_bytes();
        if !b[..6].iter().all(u8::is_ascii_digit) || !b[7..10].iter().all(u8::is_ascii_digit) {
            return Err(HetuError::Characters);
        }
        if !CHECK.contains(&b[10]) {
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

    #[test]
    fn every_century_sign_is_accepted() {
        for (signs, year) in [("+", 1852), ("-YXWVU", 1952), ("ABCDEF", 2052)] {
            for sign in signs.chars() {
                let h = Hetu::parse(&format!("131052{sign}308T")).unwrap();
                assert_eq!(h.birth_date().year(), year, "{sign}");
                assert_eq!(h.century_sign(), sign);
            }
        }
    }

    #[test]
    fn input_is_trimmed_and_stored_upper_case() {
        let h = Hetu::parse("  010100a123d\n").unwrap();
        assert_eq!(h.expose(), "010100A123D");
        assert_eq!(h, Hetu::parse("010100A123D").unwrap());
    }

    #[test]
    fn generate_picks_the_century_sign() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let sign = |b, new| Hetu::generate(b, 123, new).unwrap().century_sign();
        assert_eq!(sign(d(1899, 12, 31), false), '+');
        assert_eq!(
            sign(d(1899, 12, 31), true),
            '+',
            "no 2023 sign for the 1800s"
        );
        assert_eq!(sign(d(1952, 10, 13), false), '-');
        assert_eq!(sign(d(1952, 10, 13), true), 'Y');
        assert_eq!(sign(d(2000, 1, 1), false), 'A');
        assert_eq!(sign(d(2000, 1, 1), true), 'B');
        assert_eq!(
            Hetu::generate(d(1952, 10, 13), 308, false)
                .unwrap()
                .expose(),
            "131052-308T"
        );
        assert_eq!(
            Hetu::generate(d(1799, 12, 31), 123, false).unwrap_err(),
            HetuError::Date
        );
        assert_eq!(
            Hetu::generate(d(2100, 1, 1), 123, false).unwrap_err(),
            HetuError::Date
        );
        for n in [0, 1, 1000] {
            assert_eq!(
                Hetu::generate(d(2000, 1, 1), n, false).unwrap_err(),
                HetuError::IndividualNumber
            );
        }
        let temporary = Hetu::generate(d(1990, 1, 1), 950, false).unwrap();
        assert!(temporary.is_temporary());
        assert_eq!(temporary.individual_number(), 950);
    }

    #[test]
    fn malformed_input_names_the_problem() {
        let cases = [
            ("", HetuError::Length),
            ("131052-308", HetuError::Length),
            ("131052-308TT", HetuError::Length),
            ("131052-308Ä", HetuError::Characters),
            ("131052-308G", HetuError::Characters),
            ("131052-3O8T", HetuError::Characters),
            ("000152-308T", HetuError::Date),
            ("290223-308T", HetuError::Date),
            ("131052-000T", HetuError::IndividualNumber),
        ];
        for (input, want) in cases {
            assert_eq!(Hetu::parse(input).unwrap_err(), want, "{input:?}");
        }
        // 29.2.2024 exists; 29.2.2023 does not.
        assert!(Hetu::generate(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(), 2, false).is_ok());
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
