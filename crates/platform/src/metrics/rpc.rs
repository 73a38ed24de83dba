//! `rpc_server_call_duration_seconds`: a tower layer timing every gRPC call until its final
//! status.
//!
//! A failed unary call is usually answered "trailers-only": the status is in the response
//! headers and the call is recorded there. Otherwise the status comes in the trailers at the end
//! of the body, so the body is wrapped and the call recorded when the trailers pass through
//! (for a server stream: when it ends). A body dropped before its trailers (the client went
//! away) is recorded as `CANCELLED`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};

use super::RPC_SERVER_CALL_DURATION;

/// Adds [`RpcMetrics`] to a tonic server.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

/// Records `rpc_server_call_duration_seconds` for every call to `inner`.
#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let call = Call::new(req.uri().path());
        let future = self.inner.call(req);
        Box::pin(async move {
            match future.await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let call = match parts.headers.get("grpc-status") {
                        Some(code) => {
                            call.finish(code.as_bytes());
                            None
                        }
                        None => Some(call),
                    };
                    Ok(http::Response::from_parts(
                        parts,
                        MeteredBody { inner: body, call },
                    ))
                }
                Err(e) => {
                    call.finish(b"2");
                    Err(e)
                }
            }
        })
    }
}

/// A response body that records its call when the trailers carrying the status pass through.
#[derive(Debug)]
pub struct MeteredBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B> Body for MeteredBody<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(call) = this.call.take()
                {
                    let code = trailers
                        .get("grpc-status")
                        .map_or(&b"2"[..], |v| v.as_bytes());
                    call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_)) | None) => {
                if let Some(call) = this.call.take() {
                    call.finish(b"2");
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One call being timed.
#[derive(Debug)]
pub struct Call {
    service: String,
    method: String,
    start: Instant,
    finished: bool,
}

impl Call {
    fn new(path: &str) -> Self {
        let (service, method) = match path.trim_start_matches('/').split_once('/') {
            Some((s, m)) if !s.is_empty() && !m.is_empty() && !m.contains('/') => (s, m),
            _ => (OTHER, OTHER),
        };
        Self {
            service: service.to_owned(),
            method: method.to_owned(),
            start: Instant::now(),
            finished: false,
        }
    }

    fn finish(mut self, code: &[u8]) {
        self.record(status_code(code));
    }

    fn record(&mut self, code: &'static str) {
        self.finished = true;
        // A method the service does not have keeps the client's path out of the labels.
        let (service, method) = if code == UNIMPLEMENTED {
            (OTHER.to_owned(), OTHER.to_owned())
        } else {
            (
                std::mem::take(&mut self.service),
                std::mem::take(&mut self.method),
            )
        };
        metrics::histogram!(
            RPC_SERVER_CALL_DURATION,
            "rpc_system" => "grpc",
            "rpc_service" => service,
            "rpc_method" => method,
            "rpc_grpc_status_code" => code,
        )
        .record(self.start.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.finished {
            self.record(CANCELLED);
        }
    }
}

const OTHER: &str = "_OTHER";
const CANCELLED: &str = "1";
const UNIMPLEMENTED: &str = "12";

/// The numeric gRPC status codes, as label values.
const CODES: [&str; 17] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
];

/// A `grpc-status` value as a label; anything that is not a known code is `UNKNOWN` (2).
fn status_code(value: &[u8]) -> &'static str {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .and_then(|n| CODES.get(n).copied())
        .unwrap_or(CODES[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_bounded() {
        assert_eq!(status_code(b"0"), "0");
        assert_eq!(status_code(b"3"), "3");
        assert_eq!(status_code(b"16"), "16");
        assert_eq!(status_code(b"17"), "2");
        assert_eq!(status_code(b"x"), "2");
    }

    #[test]
    fn paths_split_into_service_and_method() {
        let c = Call::new("/teoffice.v1.TeOfficeService/SubmitReferral");
        assert_eq!(c.service, "teoffice.v1.TeOfficeService");
        assert_eq!(c.method, "SubmitReferral");
        let mut other = Call::new("/not/a/grpc/path");
        assert_eq!(other.service, OTHER);
        other.finished = true;
    }
}
