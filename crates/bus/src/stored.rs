//! Decoding what a service stored: the one set of conversions every service's persistence module
//! uses between its columns and domain types.
//!
//! Times are stored as microseconds since the epoch (`BIGINT`), dates as ISO `TEXT`, statuses and
//! kinds as numbers. A stored value that does not decode is an error that names its column
//! (`sqlx::Error::ColumnDecode`) and is logged, never a default: a corrupt date silently read as
//! today would become a wrong legal deadline.

use std::fmt::Display;

use chrono::{DateTime, NaiveDate, Utc};

/// The error for a stored value of `column` that does not decode.
pub fn corrupt(column: &str, problem: impl Display) -> sqlx::Error {
    tracing::error!(column, %problem, "stored value does not decode");
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("stored value does not decode: {problem}").into(),
    }
}

/// An instant as stored: microseconds since the epoch.
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant stored in `column`; out of range is an error.
pub fn instant(column: &str, micros: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| corrupt(column, format_args!("timestamp {micros} out of range")))
}

/// The ISO date stored in `column`; text that is no date is an error.
pub fn date(column: &str, text: &str) -> Result<NaiveDate, sqlx::Error> {
    text.parse()
        .map_err(|e| corrupt(column, format_args!("{text:?} is no date: {e}")))
}

/// An optional ISO date (NULL is none).
pub fn opt_date(column: &str, text: Option<&str>) -> Result<Option<NaiveDate>, sqlx::Error> {
    text.map(|t| date(column, t)).transpose()
}

/// A status, kind or other code stored as a number; a number no value has is an error.
pub fn code<T>(column: &str, value: i64) -> Result<T, sqlx::Error>
where
    T: TryFrom<i64>,
    T::Error: Display,
{
    T::try_from(value).map_err(|e| corrupt(column, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column_of(e: sqlx::Error) -> String {
        match e {
            sqlx::Error::ColumnDecode { index, .. } => index,
            other => panic!("not a column decode error: {other:?}"),
        }
    }

    #[test]
    fn good_values_decode_and_garbage_names_its_column() {
        let d = NaiveDate::from_ymd_opt(2024, 9, 2).expect("a date");
        assert_eq!(date("d", &d.to_string()).expect("decodes"), d);
        assert_eq!(column_of(date("due", "garbage").unwrap_err()), "due");
        assert_eq!(column_of(date("due", "2024-02-30").unwrap_err()), "due");
        assert_eq!(opt_date("d", None).expect("none"), None);

        let t = DateTime::from_timestamp_micros(1_725_000_000_000_000).expect("an instant");
        assert_eq!(instant("at", micros(t)).expect("decodes"), t);
        assert_eq!(column_of(instant("at", i64::MAX).unwrap_err()), "at");

        assert_eq!(code::<u8>("status", 3).expect("decodes"), 3);
        assert_eq!(column_of(code::<u8>("status", 999).unwrap_err()), "status");
    }
}
