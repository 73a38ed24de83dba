//! Conversions between wire time types and chrono, shared by every service.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::common::Date;

/// A wire date from a calendar date.
pub fn date_from_naive(d: NaiveDate) -> Date {
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// A calendar date from a wire date; `None` when it is not a real date.
pub fn date_to_naive(d: &Date) -> Option<NaiveDate> {
    let month = u32::try_from(d.month).ok()?;
    let day = u32::try_from(d.day).ok()?;
    NaiveDate::from_ymd_opt(d.year, month, day)
}

/// A protobuf timestamp from a UTC instant.
pub fn timestamp_from(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// A UTC instant from a protobuf timestamp; `None` when out of range.
pub fn timestamp_to(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}
