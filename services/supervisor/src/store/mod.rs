//! The supervisor's persistence: all of its SQL, speaking the domain's types.
//!
//! Rows map through `#[derive(sqlx::FromRow)]` row structs and convert to domain types; statuses
//! and kinds are typed enums bound as values. A stored value that does not decode (an unknown
//! number, a date that does not parse, an out-of-range timestamp) is a `sqlx::Error::ColumnDecode` naming its column (`kokeilu_bus::stored`),
//! never a default. Writes take the caller's transaction, so that a state change, its stored
//! events and its outbox rows commit together.
//!
//! - [`cases`]: referrals and the statistics read over them.
//! - [`deadlines`]: opening, progressing, cancelling and sweeping deadlines.
//! - [`events`]: the compliance-event feed.
//! - [`actions`]: supervisory actions, answers to information requests and the access log.
//! - [`complaints`]: complaints (kantelu) and their history.
//! - [`statistics`]: the open statistics as published, one snapshot per closed month.

mod actions;
mod cases;
mod complaints;
mod deadlines;
mod events;
mod statistics;

use kokeilu_bus::stored::corrupt;
use kokeilu_bus::{Backend, Db, Feed, Tx};

pub use actions::{StoredAction, StoredAnswer};

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

/// A stored count.
fn count(column: &str, n: i64) -> Result<u32, sqlx::Error> {
    u32::try_from(n).map_err(|_| corrupt(column, format_args!("{n} is not a count")))
}
