//! The JetStream streams Kokeilu uses and their exact configuration: one definition, applied by
//! the operator (`kokeilu nats provision`, [`provision`]) and checked by every service at start
//! ([`check`]), which refuses to run against a stream that is missing or configured otherwise.
//! Services never create streams: their NATS users have no `$JS.API.STREAM.CREATE` right
//! (deploy/nats/accounts.conf).
//!
//! # What every stream is
//!
//! - **File storage**, with the replicas the deployment asks for (1 on one machine, 3 in the
//!   cluster; production NATS adds `sync_interval: always`, deploy/nats).
//! - **Limits retention** with a **duplicate window** longer than any outbox retry horizon, so a
//!   republished message is dropped by the server.
//! - **`deny_delete`, `deny_purge`, no rollup**: nobody, the operator included, removes a message
//!   before its time through the JetStream API; a stream forgets only by its limits.
//! - **Bounded**: a maximum age, a maximum size and a maximum message size. When a stream is full
//!   it refuses new messages (`discard: new`) rather than dropping the oldest, which may not have
//!   been delivered yet: the senders' outboxes keep the refused messages and retry, and the
//!   backlog shows in their metrics.
//!
//! # Retention: transport, not the record
//!
//! The record is each service's database (the TE office's referrals, the areas' clients, AVI's
//! facts and actions). A stream only carries messages between them, and every stream holds
//! personal data: referrals carry the client's henkilötunnus, facts and compliance events carry
//! pseudonyms (still personal data under the GDPR), AVI's stream carries the areas' answers to
//! information requests, and the dead-letter stream holds copies of any of these. So each stream
//! keeps a message only as long as delivery needs it:
//!
//! - [`TRANSPORT_MAX_AGE`] (30 days) for the four message streams: a consumer may be down over a
//!   long holiday closure (two weeks) and still find every message waiting, with another two
//!   weeks to notice, fix and catch up, or to replay a consumer from an earlier sequence.
//! - [`DEAD_LETTER_MAX_AGE`] (60 days) for the dead-letter stream: the operator investigates and
//!   replays (`kokeilu dlq replay`) within it; a dead letter is counted from the moment it was
//!   dead-lettered, and once handled it simply ages out (it cannot be deleted).
//!
//! A message older than its stream's maximum age is gone from NATS whether or not it was
//! delivered; the service databases still hold what was sent.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use kokeilu_proto::subjects;

/// How long JetStream remembers message ids for deduplication.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

const MIB: i64 = 1024 * 1024;
const GIB: i64 = 1024 * MIB;

/// How long the referral, supervision, compliance and AVI streams keep a message.
pub const TRANSPORT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long the dead-letter stream keeps a dead letter.
pub const DEAD_LETTER_MAX_AGE: Duration = Duration::from_secs(60 * 24 * 3600);

/// Largest message of the streams that may carry attachments (referrals, AVI's requests and
/// the areas' answers, and dead-lettered copies of them): the servers' `max_payload`.
pub const LARGE_MESSAGE: i32 = 8 * 1024 * 1024;
/// Largest message of the fact and compliance streams (small, pseudonymised records).
pub const SMALL_MESSAGE: i32 = 1024 * 1024;

/// One Kokeilu stream: name, subjects and limits (the rest is common to all streams).
struct Spec {
    name: &'static str,
    subject: &'static str,
    max_age: Duration,
    max_bytes: i64,
    max_message_size: i32,
}

/// Every Kokeilu stream. The sizes are per replica; their sum times the replicas fits the
/// account's `max_file` in deploy/nats/accounts.conf (3 × 4.25 GiB ≤ 15G).
const SPECS: [Spec; 5] = [
    // Referrals, with the client's henkilötunnus, and the areas' answers to them.
    Spec {
        name: subjects::REFERRAL_STREAM,
        subject: subjects::REFERRAL_ALL,
        max_age: TRANSPORT_MAX_AGE,
        max_bytes: GIB,
        max_message_size: LARGE_MESSAGE,
    },
    // Pseudonymised service facts for AVI.
    Spec {
        name: subjects::SUPERVISION_STREAM,
        subject: subjects::SUPERVISION_ALL,
        max_age: TRANSPORT_MAX_AGE,
        max_bytes: GIB,
        max_message_size: SMALL_MESSAGE,
    },
    // AVI's compliance events (pseudonyms).
    Spec {
        name: subjects::COMPLIANCE_STREAM,
        subject: subjects::COMPLIANCE_ALL,
        max_age: TRANSPORT_MAX_AGE,
        max_bytes: 256 * MIB,
        max_message_size: SMALL_MESSAGE,
    },
    // AVI's supervisory actions and the areas' answers to information requests.
    Spec {
        name: subjects::AVI_STREAM,
        subject: subjects::AVI_ALL,
        max_age: TRANSPORT_MAX_AGE,
        max_bytes: GIB,
        max_message_size: LARGE_MESSAGE,
    },
    // Copies of every other stream's poison messages.
    Spec {
        name: subjects::DEAD_LETTER_STREAM,
        subject: subjects::DEAD_LETTER_ALL,
        max_age: DEAD_LETTER_MAX_AGE,
        max_bytes: GIB,
        max_message_size: LARGE_MESSAGE,
    },
];

/// The names of every Kokeilu stream.
pub fn names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

/// The exact configuration of every Kokeilu stream with `replicas` replicas (at least 1).
pub fn configs(replicas: usize) -> Vec<stream::Config> {
    SPECS
        .iter()
        .map(|s| stream::Config {
            name: s.name.into(),
            subjects: vec![s.subject.into()],
            storage: stream::StorageType::File,
            num_replicas: replicas.max(1),
            retention: stream::RetentionPolicy::Limits,
            discard: stream::DiscardPolicy::New,
            duplicate_window: DUPLICATE_WINDOW,
            max_age: s.max_age,
            max_bytes: s.max_bytes,
            max_message_size: s.max_message_size,
            max_messages: -1,
            max_messages_per_subject: -1,
            deny_delete: true,
            deny_purge: true,
            allow_rollup: false,
            ..Default::default()
        })
        .collect()
}

/// One setting of a stream that differs from Kokeilu's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub stream: String,
    /// The JetStream configuration field (`deny_delete`, `duplicate_window`, …).
    pub field: &'static str,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream {}: {} is {}, expected {}",
            self.stream, self.field, self.actual, self.expected
        )
    }
}

/// Fields NATS refuses to change on an existing stream.
const IMMUTABLE: &[&str] = &["storage"];

fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_nanos() != 0 || s == 0 {
        format!("{d:?}")
    } else if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn bytes(n: i64) -> String {
    if n < 0 {
        "unlimited".into()
    } else if n >= GIB && n % GIB == 0 {
        format!("{} GiB", n / GIB)
    } else if n >= MIB && n % MIB == 0 {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

fn count(n: i64) -> String {
    if n < 0 {
        "unlimited".into()
    } else {
        n.to_string()
    }
}

/// The settings of `actual` that differ from `expected`.
pub fn differences(expected: &stream::Config, actual: &stream::Config) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut field = |name: &'static str, want: String, got: String| {
        if want != got {
            out.push(Mismatch {
                stream: expected.name.clone(),
                field: name,
                expected: want,
                actual: got,
            });
        }
    };
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        format!("{v:?}")
    };
    field(
        "subjects",
        sorted(&expected.subjects),
        sorted(&actual.subjects),
    );
    field(
        "storage",
        format!("{:?}", expected.storage).to_lowercase(),
        format!("{:?}", actual.storage).to_lowercase(),
    );
    field(
        "num_replicas",
        expected.num_replicas.to_string(),
        actual.num_replicas.to_string(),
    );
    field(
        "retention",
        format!("{:?}", expected.retention).to_lowercase(),
        format!("{:?}", actual.retention).to_lowercase(),
    );
    field(
        "discard",
        format!("{:?}", expected.discard).to_lowercase(),
        format!("{:?}", actual.discard).to_lowercase(),
    );
    field(
        "duplicate_window",
        duration(expected.duplicate_window),
        duration(actual.duplicate_window),
    );
    field(
        "max_age",
        duration(expected.max_age),
        duration(actual.max_age),
    );
    field(
        "max_bytes",
        bytes(expected.max_bytes),
        bytes(actual.max_bytes),
    );
    field(
        "max_msg_size",
        bytes(expected.max_message_size.into()),
        bytes(actual.max_message_size.into()),
    );
    field(
        "max_msgs",
        count(expected.max_messages),
        count(actual.max_messages),
    );
    field(
        "max_msgs_per_subject",
        count(expected.max_messages_per_subject),
        count(actual.max_messages_per_subject),
    );
    field(
        "deny_delete",
        expected.deny_delete.to_string(),
        actual.deny_delete.to_string(),
    );
    field(
        "deny_purge",
        expected.deny_purge.to_string(),
        actual.deny_purge.to_string(),
    );
    field(
        "allow_rollup_hdrs",
        expected.allow_rollup.to_string(),
        actual.allow_rollup.to_string(),
    );
    field(
        "sealed",
        expected.sealed.to_string(),
        actual.sealed.to_string(),
    );
    field(
        "no_ack",
        expected.no_ack.to_string(),
        actual.no_ack.to_string(),
    );
    // Republishing would copy personal data to plain subjects outside the stream.
    field(
        "republish",
        republish(expected.republish.as_ref()),
        republish(actual.republish.as_ref()),
    );
    out
}

fn republish(r: Option<&stream::Republish>) -> String {
    match r {
        None => "none".into(),
        Some(r) => format!("{} -> {}", r.source, r.destination),
    }
}

/// What `kokeilu nats provision` tells the operator to run.
pub const PROVISION_HINT: &str =
    "run `kokeilu nats provision` as the NATS operator user (deploy/nats/accounts.conf)";

/// Why a service refuses to run on the live streams.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Streams that do not exist, and settings of existing ones that differ.
    #[error("{}; {}", problems(.missing, .mismatches), PROVISION_HINT)]
    Invalid {
        missing: Vec<String>,
        mismatches: Vec<Mismatch>,
    },
    #[error("cannot read the configuration of JetStream stream {stream}: {reason}")]
    Unavailable { stream: String, reason: String },
}

fn problems(missing: &[String], mismatches: &[Mismatch]) -> String {
    let mut parts = Vec::new();
    match missing {
        [] => {}
        [one] => parts.push(format!("JetStream stream {one} does not exist")),
        many => parts.push(format!(
            "JetStream streams {} do not exist",
            many.join(", ")
        )),
    }
    if !mismatches.is_empty() {
        parts.push(format!(
            "JetStream streams are not configured as Kokeilu requires ({})",
            list(mismatches)
        ));
    }
    parts.join("; ")
}

fn list(mismatches: &[Mismatch]) -> String {
    mismatches
        .iter()
        .map(Mismatch::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads the configuration of stream `name`; `None` when it does not exist. Errors other than
/// "not found" (JetStream electing a leader, a slow cluster) are retried for a few seconds.
async fn live(js: &jetstream::Context, name: &str) -> Result<Option<stream::Config>, String> {
    let mut attempt = 0;
    loop {
        match js.get_stream(name).await {
            Ok(s) => return Ok(Some(s.cached_info().config.clone())),
            Err(e) => {
                if let jetstream::context::GetStreamErrorKind::JetStream(error) = e.kind()
                    && error.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                {
                    return Ok(None);
                }
                if attempt >= 5 {
                    return Err(e.to_string());
                }
            }
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Checks that every Kokeilu stream exists with exactly Kokeilu's configuration and `replicas`
/// replicas. Services call this at start in place of creating streams, and refuse to run on an
/// error, which names each stream, field, expected and actual value.
pub async fn check(js: &jetstream::Context, replicas: usize) -> Result<(), CheckError> {
    let mut missing = Vec::new();
    let mut mismatches = Vec::new();
    for expected in configs(replicas) {
        match live(js, &expected.name).await {
            Ok(Some(actual)) => mismatches.extend(differences(&expected, &actual)),
            Ok(None) => missing.push(expected.name),
            Err(reason) => {
                return Err(CheckError::Unavailable {
                    stream: expected.name,
                    reason,
                });
            }
        }
    }
    if missing.is_empty() && mismatches.is_empty() {
        Ok(())
    } else {
        Err(CheckError::Invalid {
            missing,
            mismatches,
        })
    }
}

/// What [`provision`] did to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Unchanged,
    /// Updated; the settings that had drifted, with their old (`actual`) values.
    Updated(Vec<Mismatch>),
}

/// Why [`provision`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(
        "{}: NATS cannot change this on an existing stream. The stream's messages are transport \
         (the services' databases are the record): let its consumers catch up, back it up if \
         needed (`nats stream backup`), delete it (`nats stream rm`) and run `kokeilu nats \
         provision` again",
        list(.0)
    )]
    Immutable(Vec<Mismatch>),
    #[error("NATS refused to update stream {stream} ({}): {reason}", list(.changes))]
    Refused {
        stream: String,
        changes: Vec<Mismatch>,
        reason: String,
    },
    #[error("cannot create stream {stream}: {reason}")]
    Create { stream: String, reason: String },
    #[error("cannot read the configuration of stream {stream}: {reason}")]
    Unavailable { stream: String, reason: String },
}

/// Creates every Kokeilu stream that is missing and brings every existing one to Kokeilu's exact
/// configuration with `replicas` replicas. Idempotent: run it again and every stream is
/// [`Outcome::Unchanged`]. Stops at the first stream NATS cannot bring into line; the streams
/// before it are provisioned.
pub async fn provision(
    js: &jetstream::Context,
    replicas: usize,
) -> Result<Vec<(String, Outcome)>, ProvisionError> {
    let mut done = Vec::new();
    for expected in configs(replicas) {
        let name = expected.name.clone();
        let actual = live(js, &name)
            .await
            .map_err(|reason| ProvisionError::Unavailable {
                stream: name.clone(),
                reason,
            })?;
        let outcome = match actual {
            None => {
                js.create_stream(expected)
                    .await
                    .map_err(|e| ProvisionError::Create {
                        stream: name.clone(),
                        reason: e.to_string(),
                    })?;
                Outcome::Created
            }
            Some(actual) => {
                let changes = differences(&expected, &actual);
                if changes.is_empty() {
                    Outcome::Unchanged
                } else {
                    let immutable: Vec<Mismatch> = changes
                        .iter()
                        .filter(|m| IMMUTABLE.contains(&m.field))
                        .cloned()
                        .collect();
                    if !immutable.is_empty() {
                        return Err(ProvisionError::Immutable(immutable));
                    }
                    // Only Kokeilu's settings change; anything else set on the stream stays.
                    let update = stream::Config {
                        subjects: expected.subjects,
                        num_replicas: expected.num_replicas,
                        retention: expected.retention,
                        discard: expected.discard,
                        duplicate_window: expected.duplicate_window,
                        max_age: expected.max_age,
                        max_bytes: expected.max_bytes,
                        max_message_size: expected.max_message_size,
                        max_messages: expected.max_messages,
                        max_messages_per_subject: expected.max_messages_per_subject,
                        deny_delete: expected.deny_delete,
                        deny_purge: expected.deny_purge,
                        allow_rollup: expected.allow_rollup,
                        sealed: expected.sealed,
                        no_ack: expected.no_ack,
                        republish: expected.republish,
                        ..actual
                    };
                    js.update_stream(update)
                        .await
                        .map_err(|e| ProvisionError::Refused {
                            stream: name.clone(),
                            changes: changes.clone(),
                            reason: e.to_string(),
                        })?;
                    Outcome::Updated(changes)
                }
            }
        };
        done.push((name, outcome));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_is_defined_once_and_bounded() {
        let configs = configs(3);
        let mut names: Vec<_> = configs.iter().map(|c| c.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 5);
        for c in &configs {
            assert_eq!(c.num_replicas, 3);
            assert!(c.deny_delete && c.deny_purge && !c.allow_rollup);
            assert!(c.max_age > c.duplicate_window, "{}", c.name);
            assert!(c.max_bytes > 0 && c.max_message_size > 0, "{}", c.name);
            assert!(differences(c, c).is_empty());
        }
        // The account's file limit holds every stream at three replicas.
        let total: i64 = configs.iter().map(|c| c.max_bytes).sum();
        assert!(3 * total <= 15 * GIB, "{}", bytes(3 * total));
    }

    #[test]
    fn a_difference_names_the_field_and_both_values() {
        let expected = configs(1).remove(0);
        let actual = stream::Config {
            duplicate_window: Duration::from_secs(120),
            deny_delete: false,
            ..expected.clone()
        };
        let found = differences(&expected, &actual);
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "stream KOKEILU_REFERRAL: duplicate_window is 2m, expected 1d",
                "stream KOKEILU_REFERRAL: deny_delete is false, expected true",
            ]
        );
    }
}
