//! How a failed command ends: the error kinds that scripts can tell apart by exit code.
//!
//! Every gRPC status and every failure to reach a service becomes a [`ServiceError`] here, carried
//! through `anyhow`; `main` finds it in the error chain with [`exit_code`].

use std::fmt;

/// Exit codes, as `kokeilu --help` documents them.
pub const EXIT_OTHER: u8 = 1;
pub const EXIT_REFUSED: u8 = 3;
pub const EXIT_UNAVAILABLE: u8 = 4;

/// The exit-code table for `kokeilu --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  any other failure
  2  usage error (unknown command, missing or invalid argument)
  3  refused by a service (INVALID_ARGUMENT, FAILED_PRECONDITION, PERMISSION_DENIED, NOT_FOUND,
     ALREADY_EXISTS, OUT_OF_RANGE, UNAUTHENTICATED, RESOURCE_EXHAUSTED)
  4  a service unavailable (connection refused, UNAVAILABLE, DEADLINE_EXCEEDED)

With --json, results go to stdout as JSON (JSON lines for `watch` commands); errors and notes go
to stderr.";

/// What kind of failure a service call ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The service answered and said no.
    Refused,
    /// The service could not be reached or did not answer in time.
    Unavailable,
    /// Anything else (an internal error, a cancelled call, …).
    Other,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Refused => EXIT_REFUSED,
            Self::Unavailable => EXIT_UNAVAILABLE,
            Self::Other => EXIT_OTHER,
        }
    }

    /// The kind of a gRPC status code.
    pub fn of_code(code: tonic::Code) -> Self {
        use tonic::Code as C;
        match code {
            C::InvalidArgument
            | C::FailedPrecondition
            | C::PermissionDenied
            | C::NotFound
            | C::AlreadyExists
            | C::OutOfRange
            | C::Unauthenticated
            | C::ResourceExhausted => Self::Refused,
            C::Unavailable | C::DeadlineExceeded => Self::Unavailable,
            _ => Self::Other,
        }
    }
}

/// A failed call to a service, with a readable message.
#[derive(Debug)]
pub struct ServiceError {
    pub kind: Kind,
    pub message: String,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServiceError {}

impl ServiceError {
    /// A service that cannot be reached.
    pub fn unavailable(message: String) -> Self {
        Self {
            kind: Kind::Unavailable,
            message,
        }
    }
}

/// A gRPC status as an error: its code, its message and its details (field violations and
/// failed preconditions), one per line.
pub fn grpc(status: tonic::Status) -> anyhow::Error {
    ServiceError {
        kind: Kind::of_code(status.code()),
        message: describe(&status),
    }
    .into()
}

/// A readable message from a gRPC status, including field violations.
pub fn describe(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let mut out = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            out.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    if let Some(pre) = status.get_details_precondition_failure() {
        for v in pre.violations {
            out.push_str(&format!(
                "\n  {} {}: {}",
                v.r#type, v.subject, v.description
            ));
        }
    }
    out
}

/// The exit code for an error: the first kind found in its chain.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    kind_of(err).exit_code()
}

fn kind_of(err: &anyhow::Error) -> Kind {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ServiceError>() {
            return e.kind;
        }
        if let Some(s) = cause.downcast_ref::<tonic::Status>() {
            return Kind::of_code(s.code());
        }
        if cause.downcast_ref::<tonic::transport::Error>().is_some() {
            return Kind::Unavailable;
        }
        if cause.downcast_ref::<async_nats::ConnectError>().is_some() {
            return Kind::Unavailable;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::TimedOut
            )
        {
            return Kind::Unavailable;
        }
    }
    Kind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_refused_unavailable_or_other() {
        let code = |c| exit_code(&grpc(tonic::Status::new(c, "x")));
        for c in [
            tonic::Code::InvalidArgument,
            tonic::Code::FailedPrecondition,
            tonic::Code::PermissionDenied,
            tonic::Code::NotFound,
            tonic::Code::AlreadyExists,
            tonic::Code::OutOfRange,
            tonic::Code::Unauthenticated,
            tonic::Code::ResourceExhausted,
        ] {
            assert_eq!(code(c), EXIT_REFUSED, "{c:?}");
        }
        assert_eq!(code(tonic::Code::Unavailable), EXIT_UNAVAILABLE);
        assert_eq!(code(tonic::Code::DeadlineExceeded), EXIT_UNAVAILABLE);
        assert_eq!(code(tonic::Code::Internal), EXIT_OTHER);
        assert_eq!(code(tonic::Code::Cancelled), EXIT_OTHER);
        assert_eq!(exit_code(&anyhow::anyhow!("plain")), EXIT_OTHER);
    }

    #[test]
    fn a_kind_survives_added_context() {
        use anyhow::Context;
        let err: anyhow::Result<()> = Err(grpc(tonic::Status::not_found("gone")));
        let err = err.context("looking up").unwrap_err();
        assert_eq!(exit_code(&err), EXIT_REFUSED);
        let io = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(exit_code(&io), EXIT_UNAVAILABLE);
    }

    #[test]
    fn field_violations_are_one_per_line() {
        use tonic_types::{ErrorDetails, StatusExt};
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("jobseeker.henkilotunnus", "check character");
        details.add_bad_request_violation("jobseeker.grounds", "empty");
        let status =
            tonic::Status::with_error_details(tonic::Code::InvalidArgument, "bad", details);
        let text = describe(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[1], "  jobseeker.henkilotunnus: check character");
    }
}
