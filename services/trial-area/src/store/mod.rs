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
//! out-of-range timestamp) is an error naming its column (`kokeilu_bus::stored`), never a
//! default. Write functions take the caller's
//! transaction, so that a state change and its outbox rows commit together.

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
