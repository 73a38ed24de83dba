//! One service process's connection to the world: its database, NATS, the outbox relay, and the
//! ordered shutdown every service follows.
//!
//! Shutdown order: stop consumers taking messages (in-flight ones finish and ack), stop the gRPC
//! server (in-flight calls finish), let the relay publish what those left in the outbox, close
//! the database. Telemetry is flushed last, by the caller dropping its guard.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use futures::future::BoxFuture;
use kokeilu_platform::SharedClock;
use kokeilu_platform::config::ServiceConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::db::{Db, Migrations};
use crate::outbox::{Outbox, Relay, RelayConfig};

/// A consumer task: runs until its token is cancelled.
pub type Task = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// Database, NATS and outbox of one service process.
#[derive(Clone)]
pub struct Node {
    pub db: Db,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub outbox: Outbox,
    pub clock: SharedClock,
    /// Cancelled when the gRPC server starts to stop: long-lived server streams end on it, so a
    /// connected subscriber cannot hold the shutdown open.
    pub closing: CancellationToken,
}

impl Node {
    /// Connects to the database (running migrations) and NATS, and creates missing streams.
    pub async fn connect(
        config: &ServiceConfig,
        name: &str,
        migrations: &Migrations,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let db = Db::connect(
            &config.database_url,
            config.database_max_connections,
            migrations,
        )
        .await
        .map_err(|e| anyhow::anyhow!("database: {e}"))?;
        let login = crate::nats::Login {
            urls: config.nats_url.clone(),
            user: config.nats_user.clone(),
            ca: config.nats_ca.clone(),
        };
        let nats = crate::nats::connect(&login, name, Duration::from_secs(30)).await?;
        let js = crate::nats::jetstream(nats.clone());
        crate::streams::ensure(&js, config.stream_replicas).await?;
        Ok(Self {
            db,
            nats,
            js,
            outbox: Outbox::new(),
            clock,
            closing: CancellationToken::new(),
        })
    }

    /// Serves `service` and runs `consumers` and the relay until `shutdown`, then stops them in
    /// order.
    pub async fn run<S>(
        self,
        listener: TcpListener,
        service: S,
        consumers: Vec<Task>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()>
    where
        S: tower_service::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let stop_consumers = CancellationToken::new();
        let stop_grpc = self.closing.clone();
        let stop_relay = CancellationToken::new();

        let relay = Relay::new(
            self.db.clone(),
            self.js.clone(),
            self.outbox.clone(),
            self.clock.clone(),
            RelayConfig::default(),
        );
        let relay_task = tokio::spawn(relay.run(stop_relay.clone()));
        let consumer_tasks: Vec<_> = consumers
            .into_iter()
            .map(|c| tokio::spawn(c(stop_consumers.clone())))
            .collect();
        let grpc_stop = stop_grpc.clone();
        let grpc_task = tokio::spawn(kokeilu_platform::grpc::serve(
            listener,
            service,
            async move { grpc_stop.cancelled().await },
        ));

        let mut failure = None;
        tokio::pin!(shutdown);
        let mut consumer_watch = futures::future::select_all(consumer_tasks);
        let remaining = tokio::select! {
            () = &mut shutdown => None,
            (done, _, rest) = &mut consumer_watch => {
                failure = Some(match done {
                    Ok(Ok(())) => anyhow::anyhow!("a consumer stopped unexpectedly"),
                    Ok(Err(e)) => e.context("consumer failed"),
                    Err(e) => anyhow::anyhow!("consumer task panicked: {e}"),
                });
                Some(rest)
            }
        };
        stop_consumers.cancel();
        let rest = match remaining {
            Some(rest) => rest,
            None => consumer_watch.into_inner(),
        };
        for t in rest {
            if let Ok(Err(e)) = t.await {
                tracing::warn!(error = %e, "consumer ended with an error");
            }
        }
        stop_grpc.cancel();
        match grpc_task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "gRPC server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "gRPC server task failed"),
            Ok(Ok(())) => {}
        }
        stop_relay.cancel();
        let _ = relay_task.await;
        self.db.close().await;
        let _ = self.nats.flush().await;
        tracing::info!("stopped");
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
