//! te-office's persistence: every SQL statement of the service, on SQLite or PostgreSQL, taking
//! and returning domain types.
//!
//! Rows map with `FromRow` into private records of the types the `Any` driver decodes, and
//! convert to domain types fallibly: a stored value that does not decode (an unknown status, a
//! date that does not parse, a bad ground list, an out-of-range timestamp) is a
//! `sqlx::Error::ColumnDecode` naming the column (`kokeilu_bus::stored`), never a default. Statuses are bound as values, never written into
//! the SQL text.
//!
//! Write functions take the caller's transaction, so a state change and its outbox message
//! commit together. The status history doubles as the `WatchReferrals` feed: its `seq` is the
//! cursor, and writers take the feed lock so sequence numbers become visible in order.
//!
//! One file per aggregate: `referrals` (referrals, their history and the feed) and
//! `suspensions`.

use kokeilu_bus::{Db, Feed, Tx};

mod referrals;
mod suspensions;

pub use suspensions::Lifted;

/// The persistence of one te-office database.
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
