//! te-office's one error type and its mapping to gRPC status codes.
//!
//! Internal causes (database, NATS) are logged with the call's span and reach the caller only as
//! `INTERNAL` with no detail.

use kokeilu_platform::grpc::{FieldViolation, failed_precondition, invalid_argument};
use tonic::Status;

use crate::domain::NotReferable;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("not referable: {0:?}")]
    NotReferable(NotReferable),
    #[error("idempotency key reused with different content")]
    KeyReused,
    #[error("the person already has a live referral {0}")]
    AlreadyReferred(String),
    #[error("area {area} suspended since {since} by {action_id}")]
    Suspended {
        area: String,
        action_id: String,
        since: chrono::NaiveDate,
        partial: bool,
    },
    #[error("referral not found")]
    NotFound,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(v) => invalid_argument(&v),
            Error::NotReferable(NotReferable::OutsideTrialAreas { municipality, date }) => {
                failed_precondition(
                    "OUTSIDE_TRIAL_AREAS",
                    &format!("municipality/{municipality}"),
                    &format!(
                        "municipality {municipality} belongs to no trial area on {date}: \
                         the TE office keeps the client"
                    ),
                )
            }
            Error::NotReferable(NotReferable::NoTrialInForce { date }) => failed_precondition(
                "NO_TRIAL_IN_FORCE",
                &format!("date/{date}"),
                &format!(
                    "no employment trial is in force on {date}: the TE office keeps the client"
                ),
            ),
            Error::NotReferable(NotReferable::Stays {
                reason,
                detail,
                rule,
            }) => failed_precondition(
                &reason.to_uppercase(),
                "jobseeker",
                &format!("stays with the TE office: {detail} ({rule})"),
            ),
            Error::KeyReused => failed_precondition(
                "IDEMPOTENCY_KEY_REUSED",
                "idempotency_key",
                "this idempotency key was used for a different referral",
            ),
            Error::AlreadyReferred(id) => {
                Status::already_exists(format!("the jobseeker already has a live referral {id}"))
            }
            Error::Suspended {
                area,
                action_id,
                since,
                partial,
            } => failed_precondition(
                "AREA_SUSPENDED",
                &format!("area/{area}"),
                &format!(
                    "the TE office keeps the client under AVI's suspension {action_id}: AVI \
                     suspended {extent} in {area} from {since} (1269/2020 22 §)",
                    extent = if partial {
                        "part of the trial, covering this client,"
                    } else {
                        "the whole trial"
                    }
                ),
            ),
            Error::NotFound => Status::not_found("referral not found"),
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                Status::internal("internal error")
            }
        }
    }
}
