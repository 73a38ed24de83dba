//! Bounds on what one caller can make a service do.
//!
//! - Message size: requests larger than [`Limits::max_message_bytes`] are refused by the codec
//!   (`OUT_OF_RANGE`/`RESOURCE_EXHAUSTED`, set on each service with `max_decoding_message_size`),
//!   and HTTP/2 headers larger than [`Limits::max_header_bytes`] by the transport.
//! - Concurrency: at most [`Limits::max_concurrent_requests`] calls run at once per service;
//!   the next one is answered `RESOURCE_EXHAUSTED` at once rather than queued without bound.
//! - Deadline: a call still running after [`Limits::request_timeout`] is cancelled (its
//!   transaction rolls back) and answered `DEADLINE_EXCEEDED`. Server streams are not cut: the
//!   deadline covers the call until its stream starts.
//! - Open streams: at most [`Limits::max_streams_per_identity`] watch/subscribe streams per
//!   authenticated identity ([`StreamCap`]), `RESOURCE_EXHAUSTED` beyond.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;

use crate::identity::Identity;

/// The limits of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_header_bytes: u32,
    pub max_concurrent_requests: usize,
    pub request_timeout: Duration,
    pub max_streams_per_identity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 256 * 1024,
            max_header_bytes: 16 * 1024,
            max_concurrent_requests: 256,
            request_timeout: Duration::from_secs(30),
            max_streams_per_identity: 16,
        }
    }
}

/// Adds the concurrency limit and the server deadline to a tonic server.
#[derive(Debug, Clone)]
pub struct LimitsLayer {
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl LimitsLayer {
    pub fn new(limits: &Limits) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
            timeout: limits.request_timeout,
        }
    }
}

impl<S> tower::Layer<S> for LimitsLayer {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Limited {
            inner,
            permits: self.permits.clone(),
            timeout: self.timeout,
        }
    }
}

/// `inner` with a shared concurrency limit and a deadline per call.
#[derive(Debug, Clone)]
pub struct Limited<S> {
    inner: S,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for Limited<S>
where
    S: tower::Service<
            http::Request<ReqBody>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            metrics::counter!(crate::metrics::REQUESTS_SHED).increment(1);
            return Box::pin(async {
                Ok(tonic::Status::resource_exhausted(
                    "the service is at its concurrency limit; retry with backoff",
                )
                .into_http())
            });
        };
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let timeout = self.timeout;
        Box::pin(async move {
            let answer = tokio::time::timeout(timeout, ready.call(req)).await;
            drop(permit);
            match answer {
                Ok(response) => response,
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "the service's deadline of {} s passed",
                    timeout.as_secs()
                ))
                .into_http()),
            }
        })
    }
}

/// Counts open server streams per identity.
#[derive(Debug, Clone)]
pub struct StreamCap {
    max: usize,
    open: Arc<Mutex<HashMap<Identity, usize>>>,
}

/// One open stream; dropping it (the stream ends or the client goes) frees its place.
#[derive(Debug)]
pub struct StreamPermit {
    identity: Identity,
    open: Arc<Mutex<HashMap<Identity, usize>>>,
}

impl StreamCap {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Arc::default(),
        }
    }

    /// A place for one more stream of `identity`, or `RESOURCE_EXHAUSTED`.
    pub fn open(&self, identity: &Identity) -> Result<StreamPermit, tonic::Status> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(identity.clone()).or_default();
        if *count >= self.max {
            metrics::counter!(crate::metrics::REQUESTS_SHED).increment(1);
            return Err(tonic::Status::resource_exhausted(format!(
                "{identity} already has {} open streams, the most allowed",
                self.max
            )));
        }
        *count += 1;
        Ok(StreamPermit {
            identity: identity.clone(),
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.identity) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.identity);
            }
        }
    }
}

/// A boxed stream that keeps `permit` until it ends or is dropped.
pub fn holding<T: Send + 'static>(
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = T> + Send>>,
    permit: StreamPermit,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = T> + Send>> {
    use futures::StreamExt;
    Box::pin(futures::stream::unfold(
        (stream, permit),
        |(mut stream, permit)| async move { stream.next().await.map(|item| (item, (stream, permit))) },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service, ServiceExt};

    /// A service answering OK once `release` is notified.
    fn held(
        release: Arc<tokio::sync::Notify>,
    ) -> impl tower::Service<
        http::Request<()>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
        Future = BoxFuture<'static, Result<http::Response<tonic::body::Body>, Infallible>>,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(move |_req: http::Request<()>| {
            let release = release.clone();
            Box::pin(async move {
                release.notified().await;
                Ok::<_, Infallible>(http::Response::new(tonic::body::Body::empty()))
            }) as BoxFuture<'static, _>
        })
    }

    fn grpc_status(response: &http::Response<tonic::body::Body>) -> Option<tonic::Code> {
        tonic::Status::from_header_map(response.headers()).map(|s| s.code())
    }

    #[tokio::test]
    async fn calls_beyond_the_concurrency_limit_are_refused_at_once() {
        let release = Arc::new(tokio::sync::Notify::new());
        let limits = Limits {
            max_concurrent_requests: 1,
            ..Limits::default()
        };
        let mut service = LimitsLayer::new(&limits).layer(held(release.clone()));
        let first = service.ready().await.unwrap().call(http::Request::new(()));
        let first = tokio::spawn(first);
        tokio::task::yield_now().await;
        let second = service
            .ready()
            .await
            .unwrap()
            .call(http::Request::new(()))
            .await
            .unwrap();
        assert_eq!(grpc_status(&second), Some(tonic::Code::ResourceExhausted));
        release.notify_one();
        let first = first.await.unwrap().unwrap();
        assert_eq!(grpc_status(&first), None, "the first call is answered");
        // The place is free again.
        let third = service.ready().await.unwrap().call(http::Request::new(()));
        release.notify_one();
        assert_eq!(grpc_status(&third.await.unwrap()), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_past_the_deadline_is_cancelled_with_deadline_exceeded() {
        let release = Arc::new(tokio::sync::Notify::new());
        let limits = Limits {
            request_timeout: Duration::from_secs(5),
            ..Limits::default()
        };
        let mut service = LimitsLayer::new(&limits).layer(held(release));
        let answer = service
            .ready()
            .await
            .unwrap()
            .call(http::Request::new(()))
            .await
            .unwrap();
        assert_eq!(grpc_status(&answer), Some(tonic::Code::DeadlineExceeded));
    }

    #[test]
    fn a_stream_cap_admits_up_to_its_limit_per_identity_and_frees_on_drop() {
        let cap = StreamCap::new(2);
        let kainuu = Identity::Area("kainuu".into());
        let a = cap.open(&kainuu).expect("first");
        let _b = cap.open(&kainuu).expect("second");
        let refused = cap.open(&kainuu).expect_err("third refused");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        // Another identity has its own count.
        let _c = cap.open(&Identity::Avi).expect("avi's first");
        drop(a);
        let _d = cap.open(&kainuu).expect("a freed place is reusable");
    }
}
