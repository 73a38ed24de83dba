//! The supervisor's one error type and its mapping to gRPC status codes.

use kokeilu_platform::grpc::{FieldViolation, failed_precondition, invalid_argument};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("{0}")]
    NotFound(&'static str),
    /// The request is well formed but the state (or the law on the day) does not allow it:
    /// `kind` is a machine-readable reason, `subject` what it is about, `description` the reason.
    #[error("{description}")]
    Precondition {
        kind: &'static str,
        subject: String,
        description: String,
    },
    /// An idempotency key reused for a different request.
    #[error("idempotency key reused with a different request")]
    KeyReused,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    pub fn field(field: &str, description: &str) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }

    pub fn precondition(
        kind: &'static str,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self::Precondition {
            kind,
            subject: subject.into(),
            description: description.into(),
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(v) => invalid_argument(&v),
            Error::NotFound(what) => Status::not_found(what),
            Error::Precondition {
                kind,
                subject,
                description,
            } => failed_precondition(kind, &subject, &description),
            Error::KeyReused => failed_precondition(
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
