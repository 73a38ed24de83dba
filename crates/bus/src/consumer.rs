//! Durable JetStream consumers that apply each message exactly once.
//!
//! For every message: open a transaction, record its id in the inbox (a redelivery is acked and
//! skipped), let the [`Handler`] apply it (it may enqueue outgoing messages in the same
//! transaction), commit, and only then ack. Messages of one correlation id (one referral) are
//! handled in order by the same worker; different referrals run in parallel.
//!
//! A handler error is either permanent (the message can never succeed: bad payload, wrong
//! recipient) and the message is dead-lettered at once, or transient (database busy, …) and the
//! message is redelivered with backoff until `max_deliveries`, then dead-lettered. Dead letters go
//! to `kokeilu.v1.dlq.<consumer>` with the reason in headers, and can be listed and replayed.
//! A [`HandlerError::Security`] refusal (the message is not bound to the party that NATS
//! authenticated: its subject, sender and payload disagree) is dead-lettered at once too, marked
//! as a security event in the [`DLQ_SECURITY_EVENT`] header with its reason (which names parties,
//! subjects and ids, never personal data), logged as a security event, and counted in
//! `kokeilu_security_events_total`.
//!
//! Metrics ([`kokeilu_platform::metrics`]), labelled with the durable's name:
//! `messaging_client_consumed_messages_total` per outcome, `messaging_process_duration_seconds`,
//! `kokeilu_consumer_redeliveries_total`, `kokeilu_dead_letters_total`, and
//! `kokeilu_consumer_lag` from the consumer's `num_pending`, read every few seconds.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::StreamExt;
use kokeilu_platform::SharedClock;
use kokeilu_platform::metrics::{
    CONSUMER_GROUP, CONSUMER_LAG, CONSUMER_REDELIVERIES, DEAD_LETTERS, MESSAGING_CONSUMED,
    MESSAGING_PROCESS_DURATION, SECURITY_EVENTS,
};
use kokeilu_platform::propagation::{NatsHeadersRef, set_parent_from};
use kokeilu_proto::common::Envelope;
use kokeilu_proto::subjects;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::db::{Db, Tx};
use crate::envelope;
use crate::inbox;
use crate::outbox::Outbox;

/// How far ahead of a simulated clock a received message's send time may be for the clock to
/// follow it.
const MAX_CLOCK_CATCH_UP_MINUTES: i64 = 10;
/// Header naming why a message was dead-lettered.
pub const DLQ_REASON: &str = "Kokeilu-Dead-Reason";
/// Header naming the subject a dead letter was first published on.
pub const DLQ_SUBJECT: &str = "Kokeilu-Original-Subject";
/// Header with the delivery count when a message was dead-lettered.
pub const DLQ_DELIVERIES: &str = "Kokeilu-Deliveries";
/// Header naming the consumer that gave up.
pub const DLQ_CONSUMER: &str = "Kokeilu-Consumer";
/// Header `true` when the dead letter is a security event (`false` otherwise): a message refused
/// because it is not bound to the party that NATS authenticated. [`DLQ_REASON`] says why.
pub const DLQ_SECURITY_EVENT: &str = "Kokeilu-Security-Event";

/// The largest message a consumer decodes (the largest any stream accepts); a larger one, from a
/// stream configured otherwise, is dead-lettered unread.
pub const MAX_MESSAGE_BYTES: usize = crate::streams::LARGE_MESSAGE as usize;

/// One decoded message handed to a [`Handler`].
#[derive(Debug, Clone)]
pub struct Incoming {
    pub subject: String,
    pub envelope: Envelope,
    /// How many times JetStream has delivered it (1 on first delivery).
    pub delivered: i64,
    /// Trace context the message arrived with.
    pub trace_context: Vec<(String, String)>,
}

/// What went wrong in a handler.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message can never be applied: dead-letter it now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Try again later.
    #[error("transient: {0}")]
    Transient(String),
    /// Refused on security grounds: the sender or recipient is not one that the subject (which
    /// NATS authorised) allows. Dead-lettered now, and counted with outcome `security`.
    #[error("refused: {0}")]
    Security(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        Self::Transient(e.to_string())
    }
}

impl From<envelope::EnvelopeError> for HandlerError {
    fn from(e: envelope::EnvelopeError) -> Self {
        Self::Permanent(e.to_string())
    }
}

/// Applies one message inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        tx: &mut Tx,
        msg: &Incoming,
    ) -> impl std::future::Future<Output = Result<(), HandlerError>> + Send;

    /// Called after a successful commit (e.g. to wake watchers).
    fn committed(&self, _msg: &Incoming) {}
}

/// A durable consumer's settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub stream: String,
    pub durable: String,
    pub filter_subjects: Vec<String>,
    /// Deliveries before a message is dead-lettered.
    pub max_deliveries: i64,
    /// Redelivery delays after the 1st, 2nd, … failed delivery (the last repeats).
    pub backoff: Vec<Duration>,
    /// Parallel workers (messages of one correlation id always go to the same worker).
    pub workers: usize,
    pub ack_wait: Duration,
}

impl ConsumerConfig {
    pub fn new(stream: &str, durable: &str, filter_subjects: Vec<String>) -> Self {
        Self {
            stream: stream.into(),
            durable: durable.into(),
            filter_subjects,
            max_deliveries: 5,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(120),
            ],
            workers: 4,
            ack_wait: Duration::from_secs(30),
        }
    }

    fn delay_after(&self, delivered: i64) -> Duration {
        let i = usize::try_from(delivered.saturating_sub(1)).unwrap_or(0);
        self.backoff
            .get(i)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::from_secs(5))
    }
}

/// Runs a [`Handler`] over a durable consumer.
pub struct Consumer<H> {
    db: Db,
    js: jetstream::Context,
    config: ConsumerConfig,
    handler: Arc<H>,
    outbox: Outbox,
    clock: SharedClock,
}

struct Work {
    message: jetstream::Message,
    envelope: Envelope,
}

/// How [`Consumer::apply`] went.
enum Applied {
    Fresh,
    Duplicate,
}

/// The consumer's metric handles, made once when it starts (after the recorder is installed).
struct Meters {
    ok: metrics::Counter,
    duplicate: metrics::Counter,
    retry: metrics::Counter,
    dead_letter: metrics::Counter,
    security: metrics::Counter,
    process: metrics::Histogram,
    redeliveries: metrics::Counter,
    dead_letters: metrics::Counter,
    security_events: metrics::Counter,
    lag: metrics::Gauge,
}

impl Meters {
    fn new(durable: &str) -> Self {
        let consumed = |outcome: &'static str| {
            metrics::counter!(
                MESSAGING_CONSUMED,
                CONSUMER_GROUP => durable.to_owned(),
                "outcome" => outcome,
            )
        };
        Self {
            ok: consumed("ok"),
            duplicate: consumed("duplicate"),
            retry: consumed("retry"),
            dead_letter: consumed("dead_letter"),
            security: consumed("security"),
            process: metrics::histogram!(
                MESSAGING_PROCESS_DURATION,
                CONSUMER_GROUP => durable.to_owned(),
            ),
            redeliveries: metrics::counter!(
                CONSUMER_REDELIVERIES,
                CONSUMER_GROUP => durable.to_owned(),
            ),
            dead_letters: metrics::counter!(DEAD_LETTERS, CONSUMER_GROUP => durable.to_owned()),
            security_events: metrics::counter!(
                SECURITY_EVENTS,
                "kind" => "message_refused",
                CONSUMER_GROUP => durable.to_owned(),
            ),
            lag: metrics::gauge!(CONSUMER_LAG, CONSUMER_GROUP => durable.to_owned()),
        }
    }
}

/// How often the consumer's lag is read from JetStream.
const LAG_INTERVAL: Duration = Duration::from_secs(2);

/// Sets `kokeilu_consumer_lag` from the consumer's `num_pending` every [`LAG_INTERVAL`] until
/// `stop`.
async fn refresh_lag(
    consumer: jetstream::consumer::PullConsumer,
    lag: metrics::Gauge,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(LAG_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let info = tokio::select! {
            () = stop.cancelled() => return,
            info = tokio::time::timeout(LAG_INTERVAL, consumer.get_info()) => info,
        };
        match info {
            Ok(Ok(info)) => lag.set(info.num_pending as f64),
            Ok(Err(e)) => tracing::debug!(error = %e, "consumer lag not read"),
            Err(_) => tracing::debug!("consumer lag not read in time"),
        }
    }
}

impl<H: Handler> Consumer<H> {
    pub fn new(
        db: Db,
        js: jetstream::Context,
        config: ConsumerConfig,
        handler: Arc<H>,
        outbox: Outbox,
        clock: SharedClock,
    ) -> Self {
        Self {
            db,
            js,
            config,
            handler,
            outbox,
            clock,
        }
    }

    /// Creates the durable consumer if missing; returns it.
    pub async fn ensure(&self) -> anyhow::Result<jetstream::consumer::PullConsumer> {
        let stream = self.js.get_stream(&self.config.stream).await?;
        let consumer = stream
            .get_or_create_consumer(
                &self.config.durable,
                pull::Config {
                    durable_name: Some(self.config.durable.clone()),
                    // One filter goes as `filter_subject`: the client then names it in the API subject
                    // ($JS.API.CONSUMER.CREATE.<stream>.<durable>.<filter>), where NATS permissions
                    // can pin it.
                    filter_subject: match self.config.filter_subjects.as_slice() {
                        [one] => one.clone(),
                        _ => String::new(),
                    },
                    filter_subjects: match self.config.filter_subjects.as_slice() {
                        [_] => Vec::new(),
                        many => many.to_vec(),
                    },
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.config.ack_wait,
                    max_deliver: -1,
                    max_ack_pending: 10_000,
                    ..Default::default()
                },
            )
            .await?;
        Ok(consumer)
    }

    /// Consumes until `cancel`; then stops fetching and lets in-flight messages finish.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        // NATS may be unreachable when the consumer starts (a restart of the cluster, a slow
        // start): wait for it, as the relay does, rather than stopping the service.
        let mut backoff = Duration::from_millis(200);
        let (consumer, mut messages) = loop {
            let attempt = async {
                let consumer = self.ensure().await?;
                let messages = consumer.messages().await?;
                anyhow::Ok((consumer, messages))
            };
            match attempt.await {
                Ok(started) => break started,
                Err(e) => {
                    tracing::warn!(
                        consumer = %self.config.durable,
                        error = format!("{e:#}"),
                        retry_in_ms = backoff.as_millis() as u64,
                        "cannot start consuming; retrying"
                    );
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        let meters = Arc::new(Meters::new(&self.config.durable));
        let lag = CancellationToken::new();
        let _stop_lag = lag.clone().drop_guard();
        tokio::spawn(refresh_lag(consumer, meters.lag.clone(), lag));
        let this = Arc::new(self);
        let workers = this.config.workers.max(1);
        let mut senders = Vec::with_capacity(workers);
        let mut tasks = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, mut rx) = mpsc::channel::<Work>(256);
            senders.push(tx);
            let worker = this.clone();
            let meters = meters.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(work) = rx.recv().await {
                    worker.process(work, &meters).await;
                }
            }));
        }
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => break,
                next = messages.next() => next,
            };
            let message = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::warn!(consumer = %this.config.durable, error = %e, "consumer stream error");
                    continue;
                }
                None => break,
            };
            let decoded = if message.payload.len() > MAX_MESSAGE_BYTES {
                Err(format!(
                    "message of {} bytes is larger than the {MAX_MESSAGE_BYTES} a consumer accepts",
                    message.payload.len()
                ))
            } else {
                envelope::decode(&message.payload).map_err(|e| format!("undecodable envelope: {e}"))
            };
            match decoded {
                Ok(env) => {
                    let slot = partition(&env.correlation_id, workers);
                    if senders[slot]
                        .send(Work {
                            message,
                            envelope: env,
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    let started = Instant::now();
                    let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
                    if delivered > 1 {
                        meters.redeliveries.increment(1);
                    }
                    let reason = e;
                    if this
                        .dead_letter(&message, &reason, delivered, &meters)
                        .await
                    {
                        meters.dead_letter.increment(1);
                    } else {
                        meters.retry.increment(1);
                    }
                    meters.process.record(started.elapsed().as_secs_f64());
                }
            }
        }
        drop(senders);
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    }

    async fn process(&self, work: Work, meters: &Meters) {
        let started = Instant::now();
        let Work { message, envelope } = work;
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        if delivered > 1 {
            meters.redeliveries.increment(1);
        }
        let span = tracing::info_span!(
            "consumer.process",
            otel.name = %format!("{} process", message.subject),
            otel.kind = "consumer",
            consumer = %self.config.durable,
            messaging.message.id = %envelope.message_id,
            correlation_id = %envelope.correlation_id,
            delivered,
        );
        let trace_context = message
            .headers
            .as_ref()
            .map(trace_pairs)
            .unwrap_or_default();
        if let Some(h) = &message.headers {
            set_parent_from(&span, &NatsHeadersRef(h));
        }
        let incoming = Incoming {
            subject: message.subject.to_string(),
            envelope,
            delivered,
            trace_context,
        };
        let outcome = async {
            if delivered > self.config.max_deliveries {
                return self
                    .dead_letter(&message, "too many deliveries", delivered, meters)
                    .await
                    .then_some(&meters.dead_letter);
            }
            match self.apply(&incoming).await {
                Ok(applied) => {
                    if let Err(e) = message.ack().await {
                        tracing::warn!(error = %e, "ack failed; the redelivery will be skipped");
                    }
                    Some(match applied {
                        Applied::Fresh => &meters.ok,
                        Applied::Duplicate => &meters.duplicate,
                    })
                }
                Err(HandlerError::Security(reason)) => {
                    let reason = without_identity_codes(&reason);
                    tracing::error!(
                        security_event = true,
                        subject = %message.subject,
                        reason = %reason,
                        "message refused: not bound to the party NATS authenticated; dead-lettering"
                    );
                    let sent = self
                        .dead_letter_as(&message, &reason, delivered, meters, true)
                        .await;
                    if sent {
                        meters.security_events.increment(1);
                    }
                    sent.then_some(&meters.security)
                }
                Err(HandlerError::Permanent(reason)) => {
                    tracing::error!(reason = %reason, "message can never be applied; dead-lettering");
                    self.dead_letter(&message, &reason, delivered, meters)
                        .await
                        .then_some(&meters.dead_letter)
                }
                Err(HandlerError::Transient(reason)) if delivered >= self.config.max_deliveries => {
                    tracing::error!(reason = %reason, "giving up after {delivered} deliveries");
                    self.dead_letter(&message, &reason, delivered, meters)
                        .await
                        .then_some(&meters.dead_letter)
                }
                Err(HandlerError::Transient(reason)) => {
                    let delay = self.config.delay_after(delivered);
                    tracing::warn!(reason = %reason, ?delay, "will retry");
                    let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
                    None
                }
            }
        }
        .instrument(span)
        .await;
        // `None`: the message comes again (a retry, or a dead letter that could not be sent yet).
        outcome.unwrap_or(&meters.retry).increment(1);
        meters.process.record(started.elapsed().as_secs_f64());
    }

    async fn apply(&self, incoming: &Incoming) -> Result<Applied, HandlerError> {
        // A simulated clock never reads earlier than a message it receives was sent: what is
        // recorded on receipt comes after the sending (a no-op for the machine's clock). A send
        // time far ahead is not followed: one message must not move a clock by hours.
        if let Some(sent) = incoming
            .envelope
            .created_at
            .as_ref()
            .and_then(kokeilu_proto::timestamp_to)
            && sent - self.clock.now() < chrono::Duration::minutes(MAX_CLOCK_CATCH_UP_MINUTES)
        {
            self.clock.continue_from(sent);
        }
        let mut tx = self.db.begin().await?;
        let fresh = inbox::record(
            &mut tx,
            &incoming.envelope.message_id,
            &incoming.subject,
            self.clock.now(),
        )
        .await?;
        if !fresh {
            tx.rollback().await?;
            tracing::debug!("duplicate delivery skipped");
            return Ok(Applied::Duplicate);
        }
        self.handler.handle(&mut tx, incoming).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.handler.committed(incoming);
        Ok(Applied::Fresh)
    }

    /// Publishes `message` to the dead-letter subject and terminates it; `false` when that
    /// failed and the message is to come again.
    async fn dead_letter(
        &self,
        message: &jetstream::Message,
        reason: &str,
        delivered: i64,
        meters: &Meters,
    ) -> bool {
        self.dead_letter_as(message, reason, delivered, meters, false)
            .await
    }

    /// [`Self::dead_letter`], marked as a security event when `security`.
    async fn dead_letter_as(
        &self,
        message: &jetstream::Message,
        reason: &str,
        delivered: i64,
        meters: &Meters,
        security: bool,
    ) -> bool {
        let mut headers = message.headers.clone().unwrap_or_default();
        let reason = without_identity_codes(reason);
        headers.insert(DLQ_REASON, truncate(&reason, 500).as_str());
        // Always set, so a header the publisher added cannot pass for ours.
        headers.insert(DLQ_SECURITY_EVENT, if security { "true" } else { "false" });
        headers.insert(DLQ_SUBJECT, message.subject.as_str());
        headers.insert(DLQ_DELIVERIES, delivered.to_string().as_str());
        headers.insert(DLQ_CONSUMER, self.config.durable.as_str());
        let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        let id = format!("dlq:{}:{}:{seq}", self.config.durable, self.config.stream);
        let publish = PublishMessage::build()
            .payload(message.payload.clone())
            .headers(headers)
            .message_id(id);
        let sent = async {
            self.js
                .send_publish(subjects::dead_letter(&self.config.durable), publish)
                .await?
                .await
        };
        match sent.await {
            Ok(_) => {
                meters.dead_letters.increment(1);
                let _ = message.ack_with(AckKind::Term).await;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot dead-letter; will retry");
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                    .await;
                false
            }
        }
    }
}

fn partition(key: &str, n: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % n as u64) as usize
}

fn trace_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    ["traceparent", "tracestate"]
        .iter()
        .filter_map(|k| {
            headers
                .get(*k)
                .map(|v| ((*k).to_owned(), v.as_str().to_owned()))
        })
        .collect()
}

/// `reason`, unless something in it has the shape of a henkilötunnus (a reason may quote what a
/// message said): personal data never goes into a dead letter's headers or the log.
fn without_identity_codes(reason: &str) -> String {
    if kokeilu_platform::privacy::contains_identity_code(reason.as_bytes()) {
        "(reason withheld: it quoted something shaped like an identity code)".to_owned()
    } else {
        reason.to_owned()
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
