//! The runtime supervises its tasks: a failed task shuts the node down with its error, a task
//! that ignores cancellation cannot hold the shutdown past its bound, and the admin port serves
//! `/healthz` and `/metrics` while the node runs.

// Test harness code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::task::{Context, Poll};
use std::time::Duration;

use kokeilu_bus::Migrations;
use kokeilu_platform::SystemClock;
use kokeilu_platform::config::ServiceConfig;
use kokeilu_runtime::{Listeners, Node, Task};
use kokeilu_test_support::{TestDb, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Long enough for any healthy outcome on a loaded machine; an unbounded wait never ends.
const PATIENCE: Duration = Duration::from_secs(60);

async fn node(nats_url: &str, db: &TestDb) -> (Node, Listeners) {
    let mut config = ServiceConfig::local(
        db.url(),
        nats_url,
        kokeilu_test_support::pki().files(&kokeilu_platform::identity::Identity::TeOffice),
    );
    config.shutdown_timeout = Duration::from_secs(2);
    let node = Node::connect(
        &config,
        "runtime-test",
        &Migrations::NONE,
        SystemClock::new().shared(),
    )
    .await
    .unwrap();
    let listeners = Listeners::bind(&config, kokeilu_platform::authz::Deployment::TeOffice)
        .await
        .unwrap();
    (node, listeners)
}

/// A gRPC service of its own name for the node to serve (health and reflection are the
/// runtime's own, so a test must not hand it another health service); it answers UNIMPLEMENTED.
#[derive(Clone)]
struct Probe;

impl tonic::server::NamedService for Probe {
    const NAME: &'static str = "kokeilu.test.v1.Probe";
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Probe {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
        std::future::ready(Ok(tonic::Status::unimplemented("a probe").into_http()))
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    Some(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_shuts_the_node_down_with_its_error() {
    let nats = kokeilu_test_support::nats();
    let db = TestDb::sqlite();
    let (node, listeners) = node(&nats.url(), &db).await;
    let failing = Task::new("broken job", |_cancel| async {
        Err(anyhow::anyhow!("cannot go on"))
    });
    let result = tokio::time::timeout(
        PATIENCE,
        node.run(listeners, Probe, vec![failing], std::future::pending()),
    )
    .await
    .expect("the node shuts down after a task fails");
    let error = format!("{:#}", result.unwrap_err());
    assert!(
        error.contains("broken job failed") && error.contains("cannot go on"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_ending_early_is_a_failure() {
    let nats = kokeilu_test_support::nats();
    let db = TestDb::sqlite();
    let (node, listeners) = node(&nats.url(), &db).await;
    let quitter = Task::new("quitter", |_cancel| async { Ok(()) });
    let result = tokio::time::timeout(
        PATIENCE,
        node.run(listeners, Probe, vec![quitter], std::future::pending()),
    )
    .await
    .expect("the node shuts down after a task ends");
    let error = format!("{:#}", result.unwrap_err());
    assert!(error.contains("quitter stopped unexpectedly"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_port_serves_while_running_and_shutdown_is_bounded() {
    let nats = kokeilu_test_support::nats();
    let db = TestDb::sqlite();
    let (node, listeners) = node(&nats.url(), &db).await;
    let admin = listeners.admin_addr();
    // Ignores its cancellation token: only the shutdown bound can end it.
    let stubborn = Task::new("stubborn", |_cancel| std::future::pending());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(node.run(listeners, Probe, vec![stubborn], async move {
        let _ = stopped.await;
    }));

    let healthz = wait_for("the admin port", PATIENCE, || async {
        get(admin, "/healthz").await
    })
    .await;
    assert!(healthz.starts_with("HTTP/1.1 200"), "{healthz}");
    assert!(healthz.ends_with("ok"), "{healthz}");
    let metrics = get(admin, "/metrics").await.unwrap();
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");

    stop.send(()).unwrap();
    let result = tokio::time::timeout(PATIENCE, running)
        .await
        .expect("shutdown ends at its bound although a task ignores it")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(
        get(admin, "/healthz").await.is_none(),
        "the admin port is closed"
    );
}
