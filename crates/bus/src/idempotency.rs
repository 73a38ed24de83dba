//! Idempotent RPCs. A mutating call carries a key its caller chose; the call claims the key in
//! the same transaction as its effect and stores its response with it. A retry with the same key
//! and the same request gets the first response back and changes nothing; the same key with a
//! different request is refused. A call that fails rolls its claim back with everything else, so
//! a refused request leaves no key behind and may be corrected and sent again under it.
//!
//! Two concurrent calls with one key serialise on the key's row: SQLite's writers queue
//! (`BEGIN IMMEDIATE`), PostgreSQL's second insert waits for the first transaction and then sees
//! its row. Keys are scoped by the RPC's full method name and kept as long as the database.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::db::Tx;
use crate::stored::micros;

/// The longest key accepted.
pub const MAX_KEY_CHARS: usize = 128;

/// What a claimed key says about a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: do the work, then [`complete`] in the same transaction.
    New,
    /// The same request was answered before: return this response (the encoded message).
    Replay(Vec<u8>),
    /// The key was used for a different request.
    Conflict,
}

/// A usable key, trimmed: 1–128 characters without control characters. `Err` says why not.
pub fn check_key(key: &str) -> Result<&str, &'static str> {
    let key = key.trim();
    if key.is_empty() {
        Err("required: a key chosen by the caller, unique per intended change (1–128 characters)")
    } else if key.chars().count() > MAX_KEY_CHARS {
        Err("at most 128 characters")
    } else if key.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else {
        Ok(key)
    }
}

/// The fingerprint of a request: SHA-256 of its encoded bytes (hex).
pub fn fingerprint(request: &[u8]) -> String {
    hex::encode(Sha256::digest(request))
}

/// Claims `key` for `method` with the request's `fingerprint`.
pub async fn claim(
    tx: &mut Tx,
    method: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency (method, key, fingerprint, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (method, key) DO NOTHING",
    )
    .bind(method)
    .bind(key)
    .bind(fingerprint)
    .bind(micros(now))
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let (stored, response): (String, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT fingerprint, response FROM idempotency WHERE method = $1 AND key = $2",
    )
    .bind(method)
    .bind(key)
    .fetch_one(&mut **tx)
    .await?;
    Ok(match response {
        Some(response) if stored == fingerprint => Claim::Replay(response),
        _ => Claim::Conflict,
    })
}

/// Stores the response of a call that claimed `key` ([`Claim::New`]) in the same transaction.
pub async fn complete(
    tx: &mut Tx,
    method: &str,
    key: &str,
    response: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE idempotency SET response = $1 WHERE method = $2 AND key = $3")
        .bind(response)
        .bind(method)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert_eq!(check_key("  k-1 "), Ok("k-1"));
        assert!(check_key("").is_err());
        assert!(check_key("   ").is_err());
        assert!(check_key(&"x".repeat(129)).is_err());
        assert!(check_key(&"ä".repeat(128)).is_ok());
        assert!(check_key("a\nb").is_err());
    }

    #[test]
    fn fingerprints_differ_by_content() {
        assert_eq!(fingerprint(b"a"), fingerprint(b"a"));
        assert_ne!(fingerprint(b"a"), fingerprint(b"b"));
        assert_eq!(fingerprint(b"a").len(), 64);
    }
}
