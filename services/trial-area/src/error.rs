//! trial-area's one error type and its mapping to gRPC status codes.

use kokeilu_platform::grpc::{FieldViolation, failed_precondition, invalid_argument};
use tonic::Status;

use crate::domain::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("request for another area")]
    WrongArea,
    #[error("referral not found")]
    NotFound,
    #[error("not an acknowledged client")]
    NotAClient,
    #[error("referral already decided")]
    AlreadyDecided { status: &'static str },
    #[error("client transferred")]
    Transferred { destination: String },
    #[error("suspended by AVI")]
    Suspended {
        action_id: String,
        since: chrono::NaiveDate,
    },
    #[error("idempotency key reused")]
    KeyConflict,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// One invalid field.
    pub fn field(field: &str, description: &str) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::AlreadyDecided(status) => Self::AlreadyDecided { status },
            Refusal::NotAClient => Self::NotAClient,
            Refusal::Transferred(destination) => Self::Transferred { destination },
            Refusal::Field(field, description) => Self::field(field, description),
            Refusal::Suspended { action_id, since } => Self::Suspended { action_id, since },
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(v) => invalid_argument(&v),
            // No hint of the right value: the caller's certificate decides the area.
            Error::WrongArea => Status::permission_denied(
                "the caller's certificate does not act for the trial area this request names",
            ),
            Error::NotFound => Status::not_found("referral not found in this area"),
            Error::NotAClient => failed_precondition(
                "NOT_A_CLIENT",
                "referral",
                "service events and statements are recorded for acknowledged clients only",
            ),
            Error::AlreadyDecided { status } => failed_precondition(
                "ALREADY_DECIDED",
                "referral",
                &format!("the referral is already {status}"),
            ),
            Error::Transferred { destination } => failed_precondition(
                "TRANSFERRED",
                "referral",
                &format!("the client was transferred to {destination}"),
            ),
            Error::Suspended { action_id, since } => failed_precondition(
                "SUSPENDED",
                "referral",
                &format!(
                    "AVI's suspension {action_id} (in force from {since}, 1269/2020 22 §) ended the \
                     area's competence for this: the TE office keeps the client"
                ),
            ),
            Error::KeyConflict => failed_precondition(
                "IDEMPOTENCY_KEY_REUSED",
                "idempotency_key",
                "this idempotency key was used for a different request",
            ),
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                Status::internal("internal error")
            }
        }
    }
}
