//! How Kokeilu's services move messages without losing or doubling any (DESIGN.md §3): this
//! crate owns the outbox, the inbox, dead letters, durable consumers, envelopes, stream
//! definitions, their SQL migrations and the [`Db`] handle. Running them in a process (tasks,
//! shutdown, gRPC) is `kokeilu-runtime`'s.
//!
//! ```text
//! handler tx { state change + outbox::enqueue } ─► Relay ─► JetStream (Nats-Msg-Id = message id)
//! JetStream ─► Consumer ─► tx { inbox::record (dedup) + Handler::handle + outbox rows } ─► ack
//! ```
//!
//! - [`db`]: the service's SQL database (SQLite or PostgreSQL) behind one handle; it runs the
//!   bus's migrations (`crates/bus/migrations/`) before the service's.
//! - [`envelope`]: sealing payloads into envelopes and opening them.
//! - [`feed`]: resumable, ordered feeds behind every watch and list RPC (cursors, page tokens).
//! - [`outbox`]: rows written in the caller's transaction, and the relay that publishes them
//!   (pipelined, every JetStream ack awaited before a row is marked sent).
//! - [`inbox`]: message ids recorded in the consumer's transaction; a redelivery is skipped.
//! - [`consumer`]: durable pull consumers with per-correlation ordering, bounded redelivery with
//!   backoff and a dead-letter subject.
//! - [`streams`] and [`nats`]: stream definitions and connecting.
//! - [`stored`]: decoding stored columns into domain values; what does not decode is an error.

pub mod consumer;
pub mod db;
pub mod envelope;
pub mod feed;
pub mod idempotency;
pub mod inbox;
pub mod nats;
pub mod outbox;
pub mod stored;
pub mod streams;

pub use consumer::{Consumer, ConsumerConfig, Handler, HandlerError, Incoming};
pub use db::{Backend, Db, Migrations, Tx};
pub use feed::{Cursor, Feed, FeedStream, PageToken};
pub use outbox::{Outbox, OutgoingMessage, Relay, RelayConfig};
