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
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                Status::internal("internal error")
            }
        }
    }
}
