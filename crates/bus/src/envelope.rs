//! Sealing payloads into envelopes and opening them again.

use chrono::{DateTime, Utc};
use kokeilu_proto::Payload;
use kokeilu_proto::common::{Agency, AgencyKind, Envelope};
use prost::Message;

/// Schema version of the `.v1` packages.
pub const SCHEMA_VERSION: u32 = 1;

/// Agency helpers.
pub fn te_office() -> Agency {
    Agency {
        kind: AgencyKind::TeOffice as i32,
        id: "te-office".into(),
    }
}

pub fn trial_area(slug: &str) -> Agency {
    Agency {
        kind: AgencyKind::TrialArea as i32,
        id: slug.into(),
    }
}

pub fn supervisor() -> Agency {
    Agency {
        kind: AgencyKind::Supervisor as i32,
        id: "avi".into(),
    }
}

/// Wraps `payload` in a new envelope with a fresh UUIDv7 message id.
pub fn seal<P: Payload>(
    sender: Agency,
    recipient: Agency,
    correlation_id: &str,
    causation_id: Option<&str>,
    payload: &P,
    now: DateTime<Utc>,
) -> Envelope {
    Envelope {
        message_id: uuid::Uuid::now_v7().to_string(),
        correlation_id: correlation_id.to_owned(),
        causation_id: causation_id.unwrap_or_default().to_owned(),
        sender: Some(sender),
        recipient: Some(recipient),
        created_at: Some(kokeilu_proto::timestamp_from(now)),
        schema_version: SCHEMA_VERSION,
        payload_type: P::TYPE.to_owned(),
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
        key_id: String::new(),
    }
}

/// Why an envelope could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not an envelope: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("expected payload {expected}, got {found}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("unsupported schema version {0}")]
    Version(u32),
}

/// Decodes an envelope from message bytes.
pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    let env = Envelope::decode(bytes)?;
    if env.schema_version != SCHEMA_VERSION {
        return Err(EnvelopeError::Version(env.schema_version));
    }
    Ok(env)
}

/// The payload of `env`, which must be a `P`.
pub fn open<P: Payload>(env: &Envelope) -> Result<P, EnvelopeError> {
    if env.payload_type != P::TYPE {
        return Err(EnvelopeError::WrongType {
            expected: P::TYPE,
            found: env.payload_type.clone(),
        });
    }
    Ok(P::decode(env.payload.as_slice())?)
}
