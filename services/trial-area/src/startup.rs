//! Building and running one trial area's service: the same code in `main` and in tests.

use std::future::Future;
use std::sync::Arc;

use kokeilu_bus::{Consumer, Db, Migrations, Node, Task};
use kokeilu_platform::SharedClock;
use kokeilu_platform::config::ServiceConfig;
use kokeilu_proto::trialarea::trial_area_service_server::TrialAreaServiceServer;
use tokio::net::TcpListener;

use crate::desk::Desk;
use crate::events::{Referrals, consumer_config};
use crate::grpc::Api;
use crate::store::Store;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// trial-area's migrations for both backends.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// A built, not yet running, trial area service.
pub struct Application {
    node: Node,
    listener: TcpListener,
    desk: Desk,
    workers: usize,
}

impl Application {
    /// Checks the area against the trial registry, connects and binds the gRPC port.
    pub async fn build(
        config: &ServiceConfig,
        area: &str,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        if kokeilu_rules::registry::Registry::builtin()
            .current_area(area)
            .is_none()
        {
            anyhow::bail!(
                "{area:?} is not a trial area of the 2021–2024 trial (see `kokeilu areas`)"
            );
        }
        let name = format!("trial-area-{area}");
        let node = Node::connect(config, &name, &MIGRATIONS, clock.clone()).await?;
        let listener = TcpListener::bind(config.grpc_listen).await?;
        let pseudonyms = config.pseudonymizer()?;
        let desk = Desk::new(
            area.to_owned(),
            Store::new(node.db.clone()),
            node.outbox.clone(),
            clock,
            pseudonyms,
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
            consumer_config(&self.desk.area, self.workers),
            Arc::new(Referrals {
                desk: self.desk.clone(),
            }),
            self.node.outbox.clone(),
            self.node.clock.clone(),
        );
        let actions = Consumer::new(
            self.node.db.clone(),
            self.node.js.clone(),
            crate::supervision::actions_consumer(&self.desk.area, 1),
            Arc::new(crate::supervision::Actions {
                desk: self.desk.clone(),
            }),
            self.node.outbox.clone(),
            self.node.clock.clone(),
        );
        let consumers: Vec<Task> = vec![
            Box::new(move |cancel| Box::pin(consumer.run(cancel))),
            Box::new(move |cancel| Box::pin(actions.run(cancel))),
        ];
        tracing::info!(area = %self.desk.area, port = self.listener.local_addr()?.port(), "trial area serving");
        let api = TrialAreaServiceServer::new(Api::new(self.desk, self.node.closing.clone()));
        self.node.run(self.listener, api, consumers, shutdown).await
    }
}
