//! Building and running the te-office application: the same code in `main` and in tests.

use std::future::Future;
use std::sync::Arc;

use kokeilu_bus::{Consumer, Db, Migrations, Node, Task};
use kokeilu_platform::SharedClock;
use kokeilu_platform::config::ServiceConfig;
use kokeilu_proto::teoffice::te_office_service_server::TeOfficeServiceServer;
use tokio::net::TcpListener;

use crate::events::{Answers, consumer_config};
use crate::grpc::Api;
use crate::referrals::Desk;
use crate::store::Store;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// te-office's migrations for both backends.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// A built, not yet running, te-office.
pub struct Application {
    node: Node,
    listener: TcpListener,
    desk: Desk,
    workers: usize,
}

impl Application {
    /// Connects to the database and NATS and binds the gRPC port.
    pub async fn build(config: &ServiceConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let node = Node::connect(config, "te-office", &MIGRATIONS, clock.clone()).await?;
        let listener = TcpListener::bind(config.grpc_listen).await?;
        let desk = Desk::new(
            Store::new(node.db.clone()),
            node.outbox.clone(),
            clock,
            config.pseudonymizer()?,
        );
        Ok(Self {
            node,
            listener,
            desk,
            workers: config.consumer_workers,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn db(&self) -> &Db {
        &self.node.db
    }

    /// Runs until `shutdown` resolves, then stops in order.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let consumer = Consumer::new(
            self.node.db.clone(),
            self.node.js.clone(),
            consumer_config(self.workers),
            Arc::new(Answers {
                desk: self.desk.clone(),
            }),
            self.node.outbox.clone(),
            self.node.clock.clone(),
        );
        let suspensions = Consumer::new(
            self.node.db.clone(),
            self.node.js.clone(),
            crate::supervision::actions_consumer(),
            Arc::new(crate::supervision::Suspensions {
                desk: self.desk.clone(),
            }),
            self.node.outbox.clone(),
            self.node.clock.clone(),
        );
        let consumers: Vec<Task> = vec![
            Box::new(move |cancel| Box::pin(consumer.run(cancel))),
            Box::new(move |cancel| Box::pin(suspensions.run(cancel))),
        ];
        let api = TeOfficeServiceServer::new(Api::new(self.desk, self.node.closing.clone()));
        tracing::info!(
            port = self.listener.local_addr()?.port(),
            "te-office serving"
        );
        self.node.run(self.listener, api, consumers, shutdown).await
    }
}
