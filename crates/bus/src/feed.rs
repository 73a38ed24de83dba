//! Resumable, ordered feeds: the one mechanism behind every watch and list RPC.
//!
//! A feed is a table whose `seq` column grows with every appended row (te-office's referral
//! status history, an area's incoming referrals, AVI's compliance events). A reader names where
//! it stands with a [`Cursor`] and gets everything after it, in order, and nothing twice:
//!
//! - writers take the feed's lock ([`Feed::lock`]) in the transaction that appends, so sequence
//!   numbers become visible in order (PostgreSQL hands out `seq` before commit; SQLite already has
//!   one writer), and call [`Feed::notify`] after the commit;
//! - a live reader ([`Feed::stream`]) pages through what is there, then waits for a notification
//!   (or polls once a second, for rows another replica wrote) and ends with `UNAVAILABLE` when the
//!   server stops, so an open stream never holds a shutdown; the client resumes from the last
//!   cursor it saw;
//! - a list reader pages with [`page_size`] and, for keyset listings ordered by time, a
//!   [`PageToken`] ([`keyset_page`] cuts one page and makes the next token).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use kokeilu_platform::grpc::FieldViolation;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::db::{Db, Tx};

/// Rows a live reader fetches at a time.
const STREAM_BATCH: i64 = 500;
/// Page size of a list RPC whose request leaves it at zero.
pub const DEFAULT_PAGE_SIZE: i64 = 100;
/// The largest page a list RPC serves.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// A server stream of feed items.
pub type FeedStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// One feed of a service: its writer lock and the notification of new rows.
#[derive(Debug, Clone)]
pub struct Feed {
    lock_id: i64,
    changed: Arc<watch::Sender<u64>>,
}

impl Feed {
    /// A feed whose writers serialise on the advisory lock `lock_id` (unique per database).
    pub fn new(lock_id: i64) -> Self {
        Self {
            lock_id,
            changed: Arc::new(watch::channel(0).0),
        }
    }

    /// Serialises appenders until `tx` ends; call before inserting into the feed's table.
    pub async fn lock(&self, db: &Db, tx: &mut Tx) -> Result<(), sqlx::Error> {
        db.lock_feed(tx, self.lock_id).await
    }

    /// Wakes the live readers; call after the transaction that appended has committed.
    pub fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Streams every item after `after`, then follows the feed until the client goes away or
    /// `closing` is cancelled. `fetch(after, limit)` returns up to `limit` items after a
    /// position, each with its own position, in feed order.
    pub fn stream<T, F, Fut>(
        &self,
        after: i64,
        closing: CancellationToken,
        fetch: F,
    ) -> FeedStream<T>
    where
        T: Send + 'static,
        F: FnMut(i64, i64) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<(i64, T)>, Status>> + Send,
    {
        Box::pin(follow(after, self.changed.subscribe(), closing, fetch))
    }
}

fn follow<T, F, Fut>(
    mut after: i64,
    mut changed: watch::Receiver<u64>,
    closing: CancellationToken,
    mut fetch: F,
) -> tokio_stream::wrappers::ReceiverStream<Result<T, Status>>
where
    T: Send + 'static,
    F: FnMut(i64, i64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<(i64, T)>, Status>> + Send,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            // Mark the current notification seen before reading, so a commit that lands while
            // the page is read wakes the next wait instead of being missed.
            changed.borrow_and_update();
            let batch = match fetch(after, STREAM_BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            let full = batch.len() as i64 >= STREAM_BATCH;
            for (position, item) in batch {
                after = position;
                if tx.send(Ok(item)).await.is_err() {
                    return;
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = changed.changed() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = tx.closed() => return,
                () = closing.cancelled() => {
                    let _ = tx.send(Err(Status::unavailable("the service is stopping"))).await;
                    return;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// Where a reader of a feed starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// From the beginning (`""` or `"0"`).
    Start,
    /// Only what is appended from now on (`"now"`).
    Latest,
    /// After the item with this position (a cursor the service handed out earlier).
    After(i64),
}

impl Cursor {
    /// Parses a request's cursor field; `what` names the feed's items in the error.
    pub fn parse(field: &str, text: &str, what: &str) -> Result<Self, FieldViolation> {
        match text {
            "" | "0" => Ok(Self::Start),
            "now" => Ok(Self::Latest),
            t => t
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Self::After)
                .ok_or_else(|| {
                    FieldViolation::new(
                        field,
                        format!("must be a cursor from an earlier {what}, \"0\" or \"now\""),
                    )
                }),
        }
    }

    /// The position to read after; `latest` (the feed's newest position) is asked only for
    /// [`Cursor::Latest`].
    pub async fn resolve<E, Fut>(self, latest: impl FnOnce() -> Fut) -> Result<i64, E>
    where
        Fut: Future<Output = Result<i64, E>>,
    {
        match self {
            Self::Start => Ok(0),
            Self::Latest => latest().await,
            Self::After(n) => Ok(n),
        }
    }

    /// The cursor a reader sends back to resume after `position`.
    pub fn encode(position: i64) -> String {
        position.to_string()
    }
}

/// A list request's page size: 0 means [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`].
pub fn page_size(field: &str, requested: u32) -> Result<i64, FieldViolation> {
    match i64::from(requested) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n <= MAX_PAGE_SIZE => Ok(n),
        _ => Err(FieldViolation::new(
            field,
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

/// Keyset position of a listing ordered newest first: the time (microseconds) and id of the last
/// row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken {
    pub at: i64,
    pub id: String,
}

impl PageToken {
    /// Parses a request's page token; empty means the first page.
    pub fn parse(field: &str, text: &str) -> Result<Option<Self>, FieldViolation> {
        if text.is_empty() {
            return Ok(None);
        }
        text.split_once(':')
            .and_then(|(at, id)| {
                let at = at.parse().ok()?;
                (!id.is_empty()).then(|| Self {
                    at,
                    id: id.to_owned(),
                })
            })
            .map(Some)
            .ok_or_else(|| FieldViolation::new(field, "not a page token"))
    }

    pub fn encode(&self) -> String {
        format!("{}:{}", self.at, self.id)
    }
}

/// Cuts one page from `rows`, fetched with `limit + 1` so that a further page shows itself, and
/// returns the page with the token of the next one (empty when there is none).
pub fn keyset_page<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> PageToken,
) -> (Vec<T>, String) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some(last) if more => key(last).encode(),
        _ => String::new(),
    };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_and_resolve() {
        assert_eq!(Cursor::parse("c", "", "x"), Ok(Cursor::Start));
        assert_eq!(Cursor::parse("c", "0", "x"), Ok(Cursor::Start));
        assert_eq!(Cursor::parse("c", "now", "x"), Ok(Cursor::Latest));
        assert_eq!(Cursor::parse("c", "42", "x"), Ok(Cursor::After(42)));
        for bad in ["-1", "abc", "4.2", " 7"] {
            let err = Cursor::parse("after_cursor", bad, "event").unwrap_err();
            assert_eq!(err.field, "after_cursor");
            assert!(err.description.contains("earlier event"), "{err:?}");
        }
        let latest = || async { Ok::<_, ()>(9) };
        let resolve = |c: Cursor| futures::executor::block_on(c.resolve(latest));
        assert_eq!(resolve(Cursor::Start), Ok(0));
        assert_eq!(resolve(Cursor::Latest), Ok(9));
        assert_eq!(resolve(Cursor::After(3)), Ok(3));
        assert_eq!(Cursor::encode(17), "17");
    }

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size("p", 0), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size("p", 1), Ok(1));
        assert_eq!(page_size("p", 1000), Ok(1000));
        assert_eq!(page_size("page_size", 1001).unwrap_err().field, "page_size");
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_garbage() {
        let t = PageToken {
            at: 1_700_000_000_000_000,
            id: "0190-abc".into(),
        };
        assert_eq!(PageToken::parse("t", &t.encode()), Ok(Some(t)));
        assert_eq!(PageToken::parse("t", ""), Ok(None));
        for bad in ["x", "12", "abc:def", "12:"] {
            assert!(PageToken::parse("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keyset_pages_cut_and_point_at_the_next() {
        let key = |n: &i64| PageToken {
            at: *n,
            id: format!("id{n}"),
        };
        let (page, next) = keyset_page(vec![5, 4, 3], 2, key);
        assert_eq!(page, vec![5, 4]);
        assert_eq!(next, "4:id4");
        let (page, next) = keyset_page(vec![5, 4], 2, key);
        assert_eq!(page, vec![5, 4]);
        assert_eq!(next, "");
    }
}
