//! One service process's connection to the world (database, NATS, outbox) and the supervised,
//! ordered, bounded run of its tasks.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use kokeilu_bus::{Consumer, ConsumerConfig, Db, Handler, Migrations, Outbox, Relay, RelayConfig};
use kokeilu_platform::SharedClock;
use kokeilu_platform::authz::Deployment;
use kokeilu_platform::config::ServiceConfig;
use kokeilu_platform::identity::Identity;
use kokeilu_platform::limits::Limits;
use kokeilu_platform::tls::ServerTls;
use tokio::net::TcpListener;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;

use crate::task::Task;

/// Database, NATS and outbox of one service process.
#[derive(Clone)]
pub struct Node {
    /// The service's name (logs, NATS connection name, the metrics label).
    pub name: String,
    pub db: Db,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub outbox: Outbox,
    pub clock: SharedClock,
    /// Cancelled when the gRPC server starts to stop: long-lived server streams end on it, so a
    /// connected subscriber cannot hold the shutdown open.
    pub closing: CancellationToken,
    /// Bound of the whole ordered shutdown.
    pub shutdown_timeout: Duration,
}

/// The gRPC and admin ports of a service, bound before it runs (port 0: the OS chooses), with
/// how the gRPC port is served: mutual TLS with the service's own certificate, the deployment
/// the authorisation table judges callers against, and the limits.
#[derive(Debug)]
pub struct Listeners {
    pub grpc: TcpListener,
    pub admin: TcpListener,
    tls: tonic::transport::ServerTlsConfig,
    deployment: Deployment,
    limits: Limits,
}

impl Listeners {
    /// Loads the TLS files (the certificate must name the deployment's own identity) and binds
    /// both ports.
    pub async fn bind(config: &ServiceConfig, deployment: Deployment) -> anyhow::Result<Self> {
        let own = match &deployment {
            Deployment::TeOffice => Identity::TeOffice,
            Deployment::TrialArea(area) => Identity::Area(area.clone()),
            Deployment::Supervisor => Identity::Avi,
        };
        kokeilu_platform::tls::install_crypto_provider();
        let tls = ServerTls::load(&config.tls, &own)?;
        let grpc = TcpListener::bind(config.grpc_listen)
            .await
            .map_err(|e| anyhow::anyhow!("gRPC listen address {}: {e}", config.grpc_listen))?;
        let admin = TcpListener::bind(config.admin_listen)
            .await
            .map_err(|e| anyhow::anyhow!("admin listen address {}: {e}", config.admin_listen))?;
        Ok(Self {
            grpc,
            admin,
            tls: tls.config,
            deployment,
            limits: config.limits,
        })
    }

    /// The limits the service applies (message size and stream caps are set per service).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl Node {
    /// Installs the metrics recorder, connects to the database (running the bus's migrations,
    /// then `migrations`) and NATS, and checks that every stream exists exactly as
    /// `kokeilu nats provision` makes it (with `--stream-replicas` replicas): a service never
    /// creates or changes a stream, and refuses to run on a missing or misconfigured one.
    pub async fn connect(
        config: &ServiceConfig,
        name: &str,
        migrations: &Migrations,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        kokeilu_platform::metrics::install(name);
        let db = Db::connect(
            &config.database_url,
            config.database_max_connections,
            migrations,
        )
        .await
        .map_err(|e| anyhow::anyhow!("database: {e}"))?;
        if let Some(latest) = db
            .latest_recorded()
            .await
            .map_err(|e| anyhow::anyhow!("database: {e}"))?
            && clock.continue_from(latest)
        {
            tracing::warn!(
                %latest,
                "the simulated clock read earlier than this service's latest record; it continues from that record"
            );
        }
        let login = kokeilu_bus::nats::Login {
            urls: config.nats_url.clone(),
            user: config.nats_user.clone(),
            ca: config.nats_ca.clone(),
        };
        let nats = kokeilu_bus::nats::connect(&login, name, Duration::from_secs(30)).await?;
        let js = kokeilu_bus::nats::jetstream(nats.clone());
        kokeilu_bus::streams::check(&js, config.stream_replicas).await?;
        Ok(Self {
            name: name.to_owned(),
            db,
            nats,
            js,
            outbox: Outbox::new(),
            clock,
            closing: CancellationToken::new(),
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    /// A durable consumer running `handler` on this node's database, NATS and outbox, as a task
    /// for [`Node::run`].
    pub fn consumer<H: Handler>(&self, config: ConsumerConfig, handler: H) -> Task {
        let name = format!("consumer {}", config.durable);
        let consumer = Consumer::new(
            self.db.clone(),
            self.js.clone(),
            config,
            Arc::new(handler),
            self.outbox.clone(),
            self.clock.clone(),
        );
        Task::new(name, move |cancel| consumer.run(cancel))
    }

    /// Serves `service` on the gRPC listener and metrics on the admin listener, and runs the
    /// relay and `tasks`, until `shutdown` resolves or any of them ends; then stops them in
    /// order (see the crate docs), within [`Node::shutdown_timeout`]. A task that failed or
    /// ended early makes this return its error.
    pub async fn run<S>(
        self,
        listeners: Listeners,
        service: S,
        tasks: Vec<Task>,
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
        let stop_tasks = CancellationToken::new();
        let stop_relay = CancellationToken::new();
        let stop_admin = CancellationToken::new();

        let relay = Relay::new(
            self.db.clone(),
            self.js.clone(),
            self.outbox.clone(),
            self.clock.clone(),
            RelayConfig::default(),
        );
        let mut relay_task: Option<JoinHandle<()>> =
            Some(tokio::spawn(relay.run(stop_relay.clone())));
        let mut workers = JoinSet::new();
        for task in tasks {
            let (name, body) = task.start(stop_tasks.clone());
            workers.spawn(async move { (name, body.await) });
        }
        let grpc_stop = self.closing.clone();
        let health = tonic_health::server::HealthReporter::new();
        let options = kokeilu_platform::grpc::ServeOptions {
            tls: listeners.tls,
            deployment: listeners.deployment,
            limits: listeners.limits,
            health: health.clone(),
        };
        let mut grpc: Option<JoinHandle<anyhow::Result<()>>> = Some(tokio::spawn(async move {
            kokeilu_platform::grpc::serve(listeners.grpc, service, options, async move {
                grpc_stop.cancelled().await;
            })
            .await
            .map_err(anyhow::Error::from)
        }));
        let admin_stop = stop_admin.clone();
        let mut admin: Option<JoinHandle<anyhow::Result<()>>> = Some(tokio::spawn(
            kokeilu_platform::metrics::serve_admin(listeners.admin, health, async move {
                admin_stop.cancelled().await;
            }),
        ));

        tokio::pin!(shutdown);
        let (failure, ended_server) = tokio::select! {
            () = &mut shutdown => (None, None),
            Some(joined) = workers.join_next() => (Some(ended(joined)), None),
            joined = join_some(&mut grpc) => {
                (Some(ended(joined.map(|r| ("gRPC server".to_owned(), r)))), Some(Server::Grpc))
            }
            joined = join_some(&mut admin) => {
                (Some(ended(joined.map(|r| ("admin port".to_owned(), r)))), Some(Server::Admin))
            }
            joined = join_some(&mut relay_task) => {
                let joined = joined.map(|()| ("outbox relay".to_owned(), Ok(())));
                (Some(ended(joined)), Some(Server::Relay))
            }
        };
        match ended_server {
            Some(Server::Grpc) => grpc = None,
            Some(Server::Admin) => admin = None,
            Some(Server::Relay) => relay_task = None,
            None => {}
        }
        let bound = self.shutdown_timeout;
        match &failure {
            None => tracing::info!(bound_secs = bound.as_secs(), "shutting down"),
            Some(e) => tracing::error!(
                error = format!("{e:#}"),
                bound_secs = bound.as_secs(),
                "a task failed; shutting down"
            ),
        }
        let deadline = Instant::now() + bound;

        // 1. Consumers and jobs stop taking work and finish what they hold.
        stop_tasks.cancel();
        let drained = timeout_at(deadline, async {
            while let Some(joined) = workers.join_next().await {
                match joined {
                    Ok((name, Err(e))) => {
                        tracing::warn!(task = %name, error = format!("{e:#}"), "task ended with an error");
                    }
                    Err(e) if e.is_panic() => tracing::warn!(error = %e, "a task panicked"),
                    _ => {}
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("tasks still running at the shutdown bound; abandoning them");
            workers.abort_all();
        }
        // 2. gRPC stops: streams end on `closing`, in-flight calls finish.
        self.closing.cancel();
        if let Some(handle) = grpc {
            bounded("gRPC server", deadline, handle).await;
        }
        // 3. The relay publishes what the handlers left in the outbox.
        stop_relay.cancel();
        if let Some(mut handle) = relay_task
            && timeout_at(deadline, &mut handle).await.is_err()
        {
            tracing::warn!("outbox relay still running at the shutdown bound; abandoning it");
            handle.abort();
        }
        // 4. Admin port, database, NATS.
        stop_admin.cancel();
        if let Some(handle) = admin {
            bounded("admin port", deadline, handle).await;
        }
        if timeout_at(deadline, self.db.close()).await.is_err() {
            tracing::warn!("database not closed within the shutdown bound");
        }
        match timeout_at(deadline, self.nats.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "NATS flush failed"),
            Err(_) => tracing::warn!("NATS not flushed within the shutdown bound"),
        }
        tracing::info!("stopped");
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A long-running part of the node that ended before the shutdown asked it to.
enum Server {
    Grpc,
    Admin,
    Relay,
}

/// Waits for the handle if there is one; pending forever otherwise (a disabled `select!` arm).
async fn join_some<T>(handle: &mut Option<JoinHandle<T>>) -> Result<T, JoinError> {
    match handle {
        Some(h) => h.await,
        None => std::future::pending().await,
    }
}

/// Why a task's ending (before shutdown was asked for) is a failure.
fn ended(joined: Result<(String, anyhow::Result<()>), JoinError>) -> anyhow::Error {
    match joined {
        Ok((name, Ok(()))) => anyhow::anyhow!("{name} stopped unexpectedly"),
        Ok((name, Err(e))) => e.context(format!("{name} failed")),
        Err(e) => anyhow::anyhow!("a task panicked: {e}"),
    }
}

/// Awaits a server task until `deadline`, aborting it then.
async fn bounded(what: &str, deadline: Instant, mut handle: JoinHandle<anyhow::Result<()>>) {
    match timeout_at(deadline, &mut handle).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = format!("{e:#}"), "{what} ended with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "{what} task failed"),
        Err(_) => {
            tracing::warn!("{what} still running at the shutdown bound; abandoning it");
            handle.abort();
        }
    }
}
