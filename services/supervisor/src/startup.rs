//! Building and running the supervisor: the same code in `main` and in tests.

use std::future::Future;
use std::sync::Arc;

use kokeilu_bus::{Consumer, Db, Migrations, Node, Task};
use kokeilu_platform::SharedClock;
use kokeilu_proto::supervisor::supervisor_service_server::SupervisorServiceServer;
use tokio::net::TcpListener;

use crate::config::SupervisorConfig;
use crate::events::{Answers, Facts, answers_consumer, facts_consumer};
use crate::grpc::Api;
use crate::ledger::Ledger;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// Runs the deadline sweep on demand (the periodic task uses the same).
#[derive(Clone)]
pub struct Sweeper {
    ledger: Ledger,
}

impl Sweeper {
    /// Marks deadlines passed by the service clock's today as missed; returns how many.
    pub async fn run_now(&self) -> Result<usize, sqlx::Error> {
        self.ledger.sweep(self.ledger.clock.today()).await
    }
}

pub struct Application {
    node: Node,
    listener: TcpListener,
    stats: TcpListener,
    ledger: Ledger,
    config: SupervisorConfig,
}

impl Application {
    pub async fn build(config: &SupervisorConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let node = Node::connect(&config.service, "supervisor", &MIGRATIONS, clock.clone()).await?;
        let listener = TcpListener::bind(config.service.grpc_listen).await?;
        let stats = TcpListener::bind(config.stats_listen).await?;
        let ledger = Ledger::new(
            node.db.clone(),
            node.outbox.clone(),
            clock,
            config.ack_working_days,
        );
        Ok(Self {
            node,
            listener,
            stats,
            ledger,
            config: config.clone(),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
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
        let node = &self.node;
        let facts = Consumer::new(
            node.db.clone(),
            node.js.clone(),
            facts_consumer(self.config.service.consumer_workers),
            Arc::new(Facts {
                ledger: self.ledger.clone(),
            }),
            node.outbox.clone(),
            node.clock.clone(),
        );
        let answers = Consumer::new(
            node.db.clone(),
            node.js.clone(),
            answers_consumer(),
            Arc::new(Answers {
                ledger: self.ledger.clone(),
            }),
            node.outbox.clone(),
            node.clock.clone(),
        );
        let sweeper = self.sweeper();
        let interval = self.config.sweep_interval;
        let stats = self.stats;
        let stats_ledger = self.ledger.clone();
        let consumers: Vec<Task> = vec![
            Box::new(move |cancel| Box::pin(facts.run(cancel))),
            Box::new(move |cancel| Box::pin(answers.run(cancel))),
            Box::new(move |cancel| {
                Box::pin(async move {
                    loop {
                        if let Err(e) = sweeper.run_now().await {
                            tracing::warn!(error = %e, "deadline sweep failed");
                        }
                        tokio::select! {
                            () = cancel.cancelled() => return Ok(()),
                            () = tokio::time::sleep(interval) => {}
                        }
                    }
                })
            }),
            Box::new(move |cancel| {
                Box::pin(async move {
                    crate::stats_http::serve(stats, stats_ledger, async move {
                        cancel.cancelled().await
                    })
                    .await
                    .map_err(anyhow::Error::from)
                })
            }),
        ];
        tracing::info!(
            port = self.listener.local_addr()?.port(),
            "supervisor serving"
        );
        let api = SupervisorServiceServer::new(Api::new(self.ledger, self.node.closing.clone()));
        self.node.run(self.listener, api, consumers, shutdown).await
    }
}
