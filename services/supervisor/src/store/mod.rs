//! The supervisor's persistence: all of its SQL, speaking the domain's types.
//!
//! Rows map through `#[derive(sqlx::FromRow)]` row structs and convert to domain types; statuses
//! and kinds are typed enums bound as values. A stored value that does not decode (an unknown
//! number, a date that does not parse, an out-of-range timestamp) is a `sqlx::Error::Decode`,
//! never a default. Writes take the caller's transaction, so that a state change, its stored
//! events and its outbox rows commit together.
//!
//! - [`cases`]: referrals and the statistics read over them.
//! - [`deadlines`]: opening, progressing, cancelling and sweeping deadlines.
//! - [`events`]: the compliance-event feed.
//! - [`actions`]: supervisory actions, answers to information requests and the access log.

mod actions;
mod cases;
mod deadlines;
mod events;

use chrono::{DateTime, NaiveDate, Utc};
use kokeilu_bus::{Backend, Db, Feed, Tx};

pub use actions::StoredAnswer;

/// The supervisor's database, as the ledger uses it.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    feed: Feed,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            feed: Feed::new(events::FEED_LOCK),
        }
    }

    /// The compliance-event feed (`SubscribeComplianceEvents`, `ListComplianceEvents`).
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.db.begin().await
    }

    fn backend(&self) -> Backend {
        self.db.backend()
    }
}

/// A stored value that does not decode.
fn corrupt(what: String) -> sqlx::Error {
    tracing::error!(%what, "stored value does not decode");
    sqlx::Error::Decode(what.into())
}

/// A stored enum number (status or kind).
fn typed<T: TryFrom<i64, Error = crate::domain::UnknownValue>>(
    value: i64,
    column: &str,
) -> Result<T, sqlx::Error> {
    T::try_from(value).map_err(|e| corrupt(format!("{column}: {e}")))
}

/// A stored ISO date.
fn date(value: &str, column: &str) -> Result<NaiveDate, sqlx::Error> {
    value
        .parse()
        .map_err(|_| corrupt(format!("{column}: {value:?} is not a date")))
}

fn opt_date(value: Option<&str>, column: &str) -> Result<Option<NaiveDate>, sqlx::Error> {
    value.map(|v| date(v, column)).transpose()
}

/// A stored instant (microseconds since the epoch).
fn instant(micros: i64, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| corrupt(format!("{column}: {micros} is out of range")))
}

/// A stored count.
fn count(n: i64, column: &str) -> Result<u32, sqlx::Error> {
    u32::try_from(n).map_err(|_| corrupt(format!("{column}: {n} is not a count")))
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}
