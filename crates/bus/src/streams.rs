//! The JetStream streams Kokeilu uses, created on service start when missing.
//!
//! File storage; messages are kept for audit and replay (limits retention), and the duplicate
//! window is longer than any outbox retry horizon so a republished message is dropped by the
//! server. Production NATS configs add `sync_interval: always` and three replicas (deploy/nats).

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use kokeilu_proto::subjects;

/// How long JetStream remembers message ids for deduplication.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

fn specs(replicas: usize) -> Vec<stream::Config> {
    let day = Duration::from_secs(24 * 3600);
    [
        (subjects::REFERRAL_STREAM, subjects::REFERRAL_ALL),
        (subjects::SUPERVISION_STREAM, subjects::SUPERVISION_ALL),
        (subjects::COMPLIANCE_STREAM, subjects::COMPLIANCE_ALL),
        (subjects::AVI_STREAM, subjects::AVI_ALL),
        (subjects::DEAD_LETTER_STREAM, subjects::DEAD_LETTER_ALL),
    ]
    .into_iter()
    .map(|(name, subject)| stream::Config {
        name: name.into(),
        subjects: vec![subject.into()],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: 400 * day,
        ..Default::default()
    })
    .collect()
}

/// Creates every Kokeilu stream that does not exist yet.
pub async fn ensure(js: &jetstream::Context, replicas: usize) -> anyhow::Result<()> {
    for spec in specs(replicas.max(1)) {
        let name = spec.name.clone();
        let mut attempt = 0;
        loop {
            match js.get_or_create_stream(spec.clone()).await {
                Ok(_) => break,
                // Another service may be creating it at the same moment.
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(stream = %name, error = %e, "retrying stream creation");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(anyhow::anyhow!("cannot create stream {name}: {e}")),
            }
        }
    }
    Ok(())
}
