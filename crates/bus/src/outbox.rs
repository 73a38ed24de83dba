//! The transactional outbox.
//!
//! A service never publishes from a request handler: it calls [`enqueue`] inside the transaction
//! that changes its state, commits, and then [`Outbox::wake`]s the [`Relay`]. The relay claims a
//! batch of unsent rows (a lease, with `FOR UPDATE SKIP LOCKED` on PostgreSQL so replicas share
//! the work), publishes them all without waiting between messages, awaits every JetStream ack and
//! only then marks the acknowledged rows sent. A crash between publish and mark republishes with
//! the same `Nats-Msg-Id`, which JetStream drops as a duplicate (and consumers' inboxes would
//! skip anyway). Rows that fail are retried with backoff.
//!
//! Metrics ([`kokeilu_platform::metrics`]): `messaging_client_sent_messages_total` per subject as
//! acks arrive, and `kokeilu_outbox_backlog` / `kokeilu_outbox_oldest_age_seconds` from one query
//! about once a second, in a task of its own so they stay current while NATS is unreachable.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use kokeilu_platform::SharedClock;
use kokeilu_platform::metrics::{MESSAGING_SENT, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE};
use kokeilu_platform::propagation::{
    NatsHeaders, PairsRef, current_context_headers, set_parent_from,
};
use kokeilu_proto::common::Envelope;
use prost::Message;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::db::{Db, Tx};
use crate::stored::micros;

/// A message to publish once the current transaction commits.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub subject: String,
    pub envelope: Envelope,
    /// Trace context to send with the message; `None` takes the current span's.
    pub trace_context: Option<Vec<(String, String)>>,
}

impl OutgoingMessage {
    pub fn new(subject: String, envelope: Envelope) -> Self {
        Self {
            subject,
            envelope,
            trace_context: None,
        }
    }
}

/// Stores `msg` in the outbox as part of `tx`.
pub async fn enqueue(
    tx: &mut Tx,
    msg: &OutgoingMessage,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let context = msg
        .trace_context
        .clone()
        .unwrap_or_else(current_context_headers);
    let headers = serde_json::to_string(&context).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO outbox (message_id, subject, correlation_id, headers, payload, created_at, \
         lease_until, attempts) VALUES ($1, $2, $3, $4, $5, $6, 0, 0)",
    )
    .bind(&msg.envelope.message_id)
    .bind(&msg.subject)
    .bind(&msg.envelope.correlation_id)
    .bind(headers)
    .bind(msg.envelope.encode_to_vec())
    .bind(micros(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Wakes the relay after a commit that enqueued messages.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    notify: Arc<Notify>,
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the relay there is work (cheap; call after every commit that enqueued).
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// Relay tuning.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Rows claimed and published per round.
    pub batch_size: i64,
    /// How often to look for rows when not woken (rows left by a crash or another replica).
    pub poll_interval: Duration,
    /// How long a claim keeps other relays off a row.
    pub lease: Duration,
    /// Sent rows are deleted after this long.
    pub retention: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(15),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Publishes outbox rows to JetStream.
pub struct Relay {
    db: Db,
    js: jetstream::Context,
    outbox: Outbox,
    clock: SharedClock,
    config: RelayConfig,
}

struct Claimed {
    seq: i64,
    message_id: String,
    subject: String,
    headers: String,
    payload: Vec<u8>,
    attempts: i64,
}

impl Relay {
    pub fn new(
        db: Db,
        js: jetstream::Context,
        outbox: Outbox,
        clock: SharedClock,
        config: RelayConfig,
    ) -> Self {
        Self {
            db,
            js,
            outbox,
            clock,
            config,
        }
    }

    /// Publishes until `cancel`, then drains what is pending (for up to five seconds).
    pub async fn run(self, cancel: CancellationToken) {
        let gauges = CancellationToken::new();
        let _stop_gauges = gauges.clone().drop_guard();
        tokio::spawn(refresh_backlog(self.db.clone(), self.clock.clone(), gauges));
        let mut failures = 0u32;
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            if cancel.is_cancelled() {
                break;
            }
            match self.publish_batch().await {
                Ok(n) if n as i64 >= self.config.batch_size => {
                    failures = 0;
                    continue;
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "outbox relay round failed");
                }
            }
            if last_cleanup.elapsed() > Duration::from_secs(600) {
                last_cleanup = tokio::time::Instant::now();
                if let Err(e) = self.delete_old().await {
                    tracing::warn!(error = %e, "outbox cleanup failed");
                }
            }
            let pause = if failures > 0 {
                Duration::from_millis(200 * u64::from(failures.min(25)))
            } else {
                self.config.poll_interval
            };
            tokio::select! {
                () = self.outbox.notify.notified(), if failures == 0 => {}
                () = tokio::time::sleep(pause) => {}
                () = cancel.cancelled() => break,
            }
        }
        let drain = async {
            while let Ok(n) = self.publish_batch().await {
                if n == 0 {
                    break;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .is_err()
        {
            tracing::warn!("outbox not drained at shutdown; the rest is sent on next start");
        }
    }

    /// One round: claim, publish all, await acks, mark sent. Returns how many were claimed.
    pub async fn publish_batch(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let rows = self.claim(now).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let span = tracing::debug_span!("outbox.publish_batch", rows = rows.len());
        let n = rows.len();
        async {
            let mut pending = Vec::with_capacity(rows.len());
            for row in &rows {
                pending.push(self.send(row).await);
            }
            let mut sent = Vec::new();
            let mut failed = Vec::new();
            let mut sent_to: HashMap<&str, u64> = HashMap::new();
            for (row, ack) in rows.iter().zip(pending) {
                let result = match ack {
                    Ok(future) => future.await.map_err(anyhow::Error::from),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(_) => {
                        sent.push(row.seq);
                        *sent_to.entry(row.subject.as_str()).or_default() += 1;
                    }
                    Err(e) => {
                        tracing::warn!(message_id = %row.message_id, subject = %row.subject, error = %e, "publish not acknowledged");
                        failed.push((row.seq, row.attempts));
                    }
                }
            }
            // Counted once JetStream holds them, even if marking them sent fails below: the
            // next round republishes them and JetStream drops the duplicates.
            for (subject, n) in sent_to {
                metrics::counter!(
                    MESSAGING_SENT,
                    "messaging_system" => "nats",
                    "messaging_destination_name" => subject.to_owned(),
                )
                .increment(n);
            }
            self.mark(&sent, &failed).await
        }
        .instrument(span)
        .await?;
        Ok(n)
    }

    async fn send(&self, row: &Claimed) -> anyhow::Result<jetstream::context::PublishAckFuture> {
        let stored: Vec<(String, String)> = serde_json::from_str(&row.headers).unwrap_or_default();
        let span = tracing::info_span!(
            "outbox.publish",
            otel.name = %format!("{} publish", row.subject),
            otel.kind = "producer",
            messaging.message.id = %row.message_id,
        );
        set_parent_from(&span, &PairsRef(&stored));
        let mut headers = HeaderMap::new();
        let cx = span.context();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut NatsHeaders(&mut headers));
        });
        // `headers` replaces the whole map, so it must come before `message_id`.
        let publish = PublishMessage::build()
            .payload(Bytes::from(row.payload.clone()))
            .headers(headers)
            .message_id(&row.message_id);
        Ok(self.js.send_publish(row.subject.clone(), publish).await?)
    }

    async fn claim(&self, now: DateTime<Utc>) -> Result<Vec<Claimed>, sqlx::Error> {
        let lease_until = now + chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        let sql = self.db.backend().pick(
            "UPDATE outbox SET lease_until = $1, attempts = attempts + 1 WHERE seq IN \
             (SELECT seq FROM outbox WHERE sent_at IS NULL AND lease_until <= $2 \
              ORDER BY seq LIMIT $3) \
             RETURNING seq, message_id, subject, headers, payload, attempts",
            "UPDATE outbox SET lease_until = $1, attempts = attempts + 1 WHERE seq IN \
             (SELECT seq FROM outbox WHERE sent_at IS NULL AND lease_until <= $2 \
              ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING seq, message_id, subject, headers, payload, attempts",
        );
        let mut tx = self.db.begin().await?;
        let rows = sqlx::query(sql)
            .bind(micros(lease_until))
            .bind(micros(now))
            .bind(self.config.batch_size)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut claimed = rows
            .into_iter()
            .map(|r| {
                Ok(Claimed {
                    seq: r.try_get("seq")?,
                    message_id: r.try_get("message_id")?,
                    subject: r.try_get("subject")?,
                    headers: r.try_get("headers")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        claimed.sort_by_key(|c| c.seq);
        Ok(claimed)
    }

    async fn mark(&self, sent: &[i64], failed: &[(i64, i64)]) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if !sent.is_empty() {
            let list = sent
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            // Only integers from our own rows are formatted into the statement.
            let sql = format!("UPDATE outbox SET sent_at = $1 WHERE seq IN ({list})");
            sqlx::query(AssertSqlSafe(sql))
                .bind(micros(now))
                .execute(&mut *tx)
                .await?;
        }
        for (seq, attempts) in failed {
            let backoff = chrono::Duration::milliseconds(500 * (1 << (*attempts).clamp(0, 6)));
            sqlx::query("UPDATE outbox SET lease_until = $1 WHERE seq = $2")
                .bind(micros(now + backoff))
                .bind(*seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    async fn delete_old(&self) -> Result<(), sqlx::Error> {
        let cutoff = self.clock.now()
            - chrono::Duration::from_std(self.config.retention).unwrap_or_default();
        sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(micros(cutoff))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// How often [`Relay::run`] refreshes the backlog gauges.
const BACKLOG_INTERVAL: Duration = Duration::from_secs(1);

/// Refreshes `kokeilu_outbox_backlog` and `kokeilu_outbox_oldest_age_seconds` until `stop`.
async fn refresh_backlog(db: Db, clock: SharedClock, stop: CancellationToken) {
    let rows = metrics::gauge!(OUTBOX_BACKLOG);
    let age = metrics::gauge!(OUTBOX_OLDEST_AGE);
    let mut tick = tokio::time::interval(BACKLOG_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match backlog(&db).await {
            Ok(b) => {
                rows.set(b.rows as f64);
                let oldest = b
                    .oldest
                    .map(|created| (clock.now() - created).num_milliseconds().max(0) as f64 / 1e3);
                age.set(oldest.unwrap_or(0.0));
            }
            Err(e) => tracing::debug!(error = %e, "outbox backlog not read"),
        }
    }
}

/// The unsent part of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Rows not yet acknowledged by JetStream.
    pub rows: i64,
    /// When the oldest of them was enqueued.
    pub oldest: Option<DateTime<Utc>>,
}

/// The outbox's unsent rows and the oldest one's age, in one query.
pub async fn backlog(db: &Db) -> Result<Backlog, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE sent_at IS NULL",
    )
    .fetch_one(db.pool())
    .await?;
    let oldest: Option<i64> = row.try_get("oldest")?;
    Ok(Backlog {
        rows: row.try_get("n")?,
        oldest: oldest
            .map(|us| crate::stored::instant("outbox.created_at", us))
            .transpose()?,
    })
}

/// Number of rows not yet acknowledged by JetStream (for tests and status output).
pub async fn pending(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
        .fetch_one(db.pool())
        .await?
        .try_get("n")
}
