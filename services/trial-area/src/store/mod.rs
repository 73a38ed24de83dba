//! trial-area's persistence: all of the service's SQL, on SQLite or PostgreSQL, in domain types.
//!
//! - [`referrals`]: incoming referrals, their decisions and the change feed behind
//!   `WatchIncomingReferrals`.
//! - [`clients`]: what is recorded about an acknowledged client: service events, statements,
//!   transfers.
//! - [`actions`]: AVI's supervisory actions addressed to the area.
//!
//! Rows map through `#[derive(sqlx::FromRow)]` records private to this module and convert into
//! domain types with `TryFrom`. Statuses and kinds are bound as values of their enums. A stored
//! value that does not decode (an unknown number, a date that does not parse, a bad list, an
//! out-of-range timestamp) is an error, never a default. Write functions take the caller's
//! transaction, so that a state change and its outbox rows commit together.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::{Db, Feed, Tx};

pub mod actions;
pub mod clients;
pub mod referrals;

/// The store over one area's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    feed: Feed,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            feed: Feed::new(referrals::FEED_LOCK),
        }
    }

    /// The `WatchIncomingReferrals` feed.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Starts a write transaction: one use case, one unit of work.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.db.begin().await
    }
}

/// A stored value of `column` that does not decode.
fn corrupt(column: &str, problem: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("stored value does not decode: {problem}").into(),
    }
}

/// An instant as stored: microseconds since the epoch.
fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant stored in `column`; out of range is an error.
fn instant(column: &str, micros: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| corrupt(column, format_args!("timestamp {micros} out of range")))
}

/// A date as stored: ISO `YYYY-MM-DD` text.
fn to_day(d: NaiveDate) -> String {
    d.to_string()
}

/// The date stored in `column`; text that is no date is an error.
fn day(column: &str, text: &str) -> Result<NaiveDate, sqlx::Error> {
    text.parse()
        .map_err(|e| corrupt(column, format_args!("{text:?} is no date: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_instants_round_trip_and_garbage_is_an_error() {
        let d = NaiveDate::from_ymd_opt(2024, 9, 2).unwrap();
        assert_eq!(day("d", &to_day(d)).unwrap(), d);
        assert!(matches!(
            day("d", "garbage"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
        assert!(day("d", "").is_err());
        let t = DateTime::from_timestamp_micros(1_725_256_800_123_456).unwrap();
        assert_eq!(instant("t", to_micros(t)).unwrap(), t);
        assert!(instant("t", i64::MAX).is_err());
    }
}
