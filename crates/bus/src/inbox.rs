//! Consumer-side deduplication: a message id is recorded in the same transaction as its effect.

use chrono::{DateTime, Utc};

use crate::db::Tx;
use crate::stored::micros;

/// Records `message_id`; `false` when it was recorded before (a redelivery: skip it).
pub async fn record(
    tx: &mut Tx,
    message_id: &str,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO inbox (message_id, subject, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message_id)
    .bind(subject)
    .bind(micros(now))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
