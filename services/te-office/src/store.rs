//! te-office's persistence: every SQL statement of the service, on SQLite or PostgreSQL, taking
//! and returning domain types.
//!
//! Rows map with `FromRow` into private records of the types the `Any` driver decodes, and
//! convert to domain types fallibly: a stored value that does not decode (an unknown status, a
//! date that does not parse, a bad ground list, an out-of-range timestamp) is a
//! [`sqlx::Error::Decode`], never a default. Statuses are bound as values, never written into
//! the SQL text.
//!
//! Write functions take the caller's transaction, so a state change and its outbox message
//! commit together. The status history doubles as the `WatchReferrals` feed: its `seq` is the
//! cursor, and writers take the feed lock so sequence numbers become visible in order.
//!
//! One file per aggregate: `referrals` (referrals, their history and the feed) and
//! `suspensions`.

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::{Db, Feed, Tx};

use crate::domain::Status;

mod referrals;
mod suspensions;

/// The persistence of one te-office database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    feed: Feed,
}

fn decode_error(column: &str, e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {column}: {e}").into())
}

/// Microseconds since the epoch, as stored.
fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// An instant from stored microseconds; out of range is an error.
fn instant(column: &str, us: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| decode_error(column, format!("{us} is not a representable instant")))
}

/// A date from its stored ISO form.
fn date(column: &str, s: &str) -> Result<NaiveDate, sqlx::Error> {
    s.parse()
        .map_err(|e| decode_error(column, format!("{s:?} is not a date ({e})")))
}

fn status(column: &str, v: i64) -> Result<Status, sqlx::Error> {
    Status::try_from(v).map_err(|e| decode_error(column, e))
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            feed: Feed::new(referrals::FEED_LOCK),
        }
    }

    /// The `WatchReferrals` feed (the status history).
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.db.begin().await
    }
}
