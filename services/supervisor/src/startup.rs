//! Building and running the supervisor: the same code in `main`, `kokeilu serve` and tests.

use std::future::Future;
use std::net::SocketAddr;

use kokeilu_bus::{Db, Migrations};
use kokeilu_platform::SharedClock;
use kokeilu_platform::authz::Deployment;
use kokeilu_platform::limits::StreamCap;
use kokeilu_proto::supervisor::supervisor_service_server::SupervisorServiceServer;
use kokeilu_runtime::{Listeners, Node, Task};
use tokio::net::TcpListener;

use crate::config::{Settings, SupervisorConfig};
use crate::events::{Answers, Facts, answers_consumer, facts_consumer};
use crate::grpc::Api;
use crate::ledger::Ledger;

// The supervisor's own schema. The outbox and inbox come from kokeilu-bus, which runs its
// migrations first: add a supervisor migration as `migrations/{sqlite,postgres}/NNNN_*.sql`
// (next number, both backends).
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// The supervisor process: telemetry, then the application until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    kokeilu_runtime::run_process(&settings.common, "supervisor", |shutdown| async {
        Application::build(&settings.config(), settings.common.clock())
            .await?
            .run_until(shutdown)
            .await
    })
    .await
}

/// Runs the deadline sweep on demand (the periodic task uses the same).
#[derive(Clone)]
pub struct Sweeper {
    ledger: Ledger,
}

impl Sweeper {
    /// Marks deadlines whose due day ended more than the watermark ago by the service clock as
    /// missed; returns how many.
    pub async fn run_now(&self) -> Result<usize, sqlx::Error> {
        self.ledger.sweep_now().await
    }
}

pub struct Application {
    node: Node,
    listeners: Listeners,
    stats: TcpListener,
    ledger: Ledger,
    config: SupervisorConfig,
}

impl Application {
    pub async fn build(config: &SupervisorConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let node = Node::connect(&config.service, "supervisor", &MIGRATIONS, clock.clone()).await?;
        let listeners = Listeners::bind(&config.service, Deployment::Supervisor).await?;
        let stats = TcpListener::bind(config.stats_listen).await?;
        let ledger = Ledger::new(
            node.db.clone(),
            node.outbox.clone(),
            clock,
            config.ack_working_days,
        )
        .with_watermark(config.sweep_watermark);
        Ok(Self {
            node,
            listeners,
            stats,
            ledger,
            config: config.clone(),
        })
    }

    pub fn port(&self) -> u16 {
        self.listeners.grpc_addr().port()
    }

    /// Where `/metrics` and `/healthz` are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.listeners.admin_addr()
    }

    pub fn stats_port(&self) -> u16 {
        self.stats.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn db(&self) -> &Db {
        &self.node.db
    }

    pub fn sweeper(&self) -> Sweeper {
        Sweeper {
            ledger: self.ledger.clone(),
        }
    }

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(
            port = self.port(),
            admin = %self.admin_addr(),
            "supervisor serving"
        );
        let facts = self.node.consumer(
            facts_consumer(self.config.service.consumer_workers),
            Facts {
                ledger: self.ledger.clone(),
            },
        );
        let answers = self.node.consumer(
            answers_consumer(),
            Answers {
                ledger: self.ledger.clone(),
            },
        );
        let sweeper = self.sweeper();
        let interval = self.config.sweep_interval;
        let stats = self.stats;
        let stats_ledger = self.ledger.clone();
        let tasks =
            vec![
                facts,
                answers,
                Task::new("deadline sweep", move |cancel| async move {
                    loop {
                        if let Err(e) = sweeper.run_now().await {
                            tracing::warn!(error = %e, "deadline sweep failed");
                        }
                        tokio::select! {
                            () = cancel.cancelled() => return Ok(()),
                            () = tokio::time::sleep(interval) => {}
                        }
                    }
                }),
                Task::new("statistics HTTP", move |cancel| async move {
                    crate::stats_http::serve(stats, stats_ledger, async move {
                        cancel.cancelled().await
                    })
                    .await
                    .map_err(anyhow::Error::from)
                }),
            ];
        let limits = self.listeners.limits();
        let api = SupervisorServiceServer::new(Api::new(
            self.ledger,
            self.node.closing.clone(),
            StreamCap::new(limits.max_streams_per_identity),
        ))
        .max_decoding_message_size(limits.max_message_bytes);
        self.node.run(self.listeners, api, tasks, shutdown).await
    }
}
