//! Serving and calling gRPC the same way in every service.
//!
//! [`serve`] runs one tonic service over mutual TLS, authorised per call by [`crate::authz`] and
//! bounded by [`crate::limits`], with `grpc.health.v1`, server reflection (v1 and v1alpha, so
//! `grpcurl` works without proto files) and a tracing span per call whose parent is the caller's
//! `traceparent`. [`invalid_argument`] builds the field-level `INVALID_ARGUMENT` status every
//! service returns for bad input. [`TraceContextInterceptor`] adds the current trace context to
//! outgoing calls.

use std::convert::Infallible;
use std::future::Future;

use tokio::net::TcpListener;
use tonic::Status;
use tonic::server::NamedService;
use tonic_types::{ErrorDetails, StatusExt};

use crate::propagation::{HttpHeadersRef, set_parent_from};

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// `INVALID_ARGUMENT` with a `BadRequest` detail naming every offending field.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let mut details = ErrorDetails::new();
    for v in violations {
        details.add_bad_request_violation(v.field.clone(), v.description.clone());
    }
    let summary = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        format!("invalid request: {summary}"),
        details,
    )
}

/// `FAILED_PRECONDITION` with a `PreconditionFailure` detail.
pub fn failed_precondition(kind: &str, subject: &str, description: &str) -> Status {
    let mut details = ErrorDetails::new();
    details.add_precondition_failure_violation(kind, subject, description);
    Status::with_error_details(tonic::Code::FailedPrecondition, description, details)
}

/// Reflection over Kokeilu's services and messages, health, and the `google.rpc` error details
/// (`BadRequest`, `PreconditionFailure`, … in `grpc-status-details-bin`), so that grpcurl and
/// other generic clients decode an error's details instead of printing bytes.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kokeilu_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(kokeilu_proto::GOOGLE_RPC_FILE_DESCRIPTOR_SET)
}

/// How a service's gRPC port is served: mutual TLS, who the deployment is (for the
/// authorisation table) and the limits.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub tls: tonic::transport::ServerTlsConfig,
    pub deployment: crate::authz::Deployment,
    pub limits: crate::limits::Limits,
    /// Shared with the plaintext health endpoint on the admin port.
    pub health: tonic_health::server::HealthReporter,
}

/// Runs `service` on `listener` until `shutdown` resolves; in-flight calls finish before it
/// returns. Every connection is mutual TLS; every call passes, in order, the metrics layer, the
/// authorisation table ([`crate::authz`]), the concurrency limit and the server deadline
/// ([`crate::limits`]). Health and reflection are served beside `service`, behind the same TLS.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let health_reporter = options.health.clone();
    health_reporter.set_serving::<S>().await;
    let health_service = health_server(&health_reporter);
    let reflection_v1 = reflection().build_v1().map_err(|e| {
        tracing::error!(error = %e, "reflection v1 unavailable");
        e
    });
    let reflection_v1alpha = reflection().build_v1alpha().map_err(|e| {
        tracing::error!(error = %e, "reflection v1alpha unavailable");
        e
    });
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let limits = options.limits;
    let mut router = tonic::transport::Server::builder()
        .tls_config(options.tls)?
        .http2_max_header_list_size(limits.max_header_bytes)
        .max_concurrent_streams(limits.max_concurrent_requests as u32)
        .trace_fn(call_span)
        .layer(crate::metrics::RpcMetricsLayer)
        .layer(crate::authz::AuthzLayer::new(options.deployment))
        .layer(crate::limits::LimitsLayer::new(&limits))
        .add_service(health_service)
        .add_service(service);
    if let Ok(r) = reflection_v1 {
        router = router.add_service(r);
    }
    if let Ok(r) = reflection_v1alpha {
        router = router.add_service(r);
    }
    let health = health_reporter.clone();
    router
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            health.set_not_serving::<S>().await;
        })
        .await
}

/// A `grpc.health.v1` server reporting what `reporter` is told.
pub fn health_server(
    reporter: &tonic_health::server::HealthReporter,
) -> tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService> {
    tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
    )
}

/// The span of one incoming call: named after the method, child of the caller's trace.
fn call_span(req: &http::Request<()>) -> tracing::Span {
    let path = req.uri().path();
    let method = path.rsplit('/').next().unwrap_or(path);
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %method,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = %path,
    );
    set_parent_from(&span, &HttpHeadersRef(req.headers()));
    span
}

/// Adds the current trace context to every outgoing call.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let mut headers = http::HeaderMap::new();
        crate::propagation::inject_into_http(&mut headers);
        for (name, value) in &headers {
            if let (Ok(key), Ok(val)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                value.to_str().map(tonic::metadata::MetadataValue::try_from),
            ) && let Ok(val) = val
            {
                req.metadata_mut().insert(key, val);
            }
        }
        Ok(req)
    }
}
