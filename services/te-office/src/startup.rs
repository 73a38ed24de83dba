//! Building and running the te-office application: the same code in `main`, `kokeilu serve` and
//! tests.

use std::future::Future;
use std::net::SocketAddr;

use kokeilu_bus::{Db, Migrations};
use kokeilu_platform::SharedClock;
use kokeilu_platform::authz::Deployment;
use kokeilu_platform::config::ServiceConfig;
use kokeilu_platform::limits::StreamCap;
use kokeilu_proto::teoffice::te_office_service_server::TeOfficeServiceServer;
use kokeilu_runtime::{Listeners, Node};

use crate::config::Settings;
use crate::events::{Answers, consumer_config};
use crate::grpc::Api;
use crate::referrals::Desk;
use crate::store::Store;

// te-office's own schema. The outbox and inbox come from kokeilu-bus, which runs its migrations
// first: add a te-office migration as `migrations/{sqlite,postgres}/NNNN_*.sql` (next number,
// both backends).
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// te-office's migrations for both backends.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// The te-office process: telemetry, then the application until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    kokeilu_runtime::run_process(&settings.common, "te-office", |shutdown| async {
        Application::build(&settings.service_config(), settings.common.clock())
            .await?
            .run_until(shutdown)
            .await
    })
    .await
}

/// A built, not yet running, te-office.
pub struct Application {
    node: Node,
    listeners: Listeners,
    desk: Desk,
    workers: usize,
}

impl Application {
    /// Connects to the database and NATS and binds the gRPC and admin ports.
    pub async fn build(config: &ServiceConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let node = Node::connect(config, "te-office", &MIGRATIONS, clock.clone()).await?;
        let listeners = Listeners::bind(config, Deployment::TeOffice).await?;
        let desk = Desk::new(
            Store::new(node.db.clone()),
            node.outbox.clone(),
            clock,
            config.pseudonymizer()?,
        );
        Ok(Self {
            node,
            listeners,
            desk,
            workers: config.consumer_workers,
        })
    }

    pub fn port(&self) -> u16 {
        self.listeners.grpc_addr().port()
    }

    /// Where `/metrics` and `/healthz` are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.listeners.admin_addr()
    }

    pub fn db(&self) -> &Db {
        &self.node.db
    }

    /// Runs until `shutdown` resolves, then stops in order.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let tasks = vec![
            self.node.consumer(
                consumer_config(self.workers),
                Answers {
                    desk: self.desk.clone(),
                },
            ),
            self.node.consumer(
                crate::supervision::actions_consumer(),
                crate::supervision::Suspensions {
                    desk: self.desk.clone(),
                },
            ),
        ];
        tracing::info!(
            port = self.port(),
            admin = %self.admin_addr(),
            "te-office serving"
        );
        let limits = self.listeners.limits();
        let api = TeOfficeServiceServer::new(Api::new(
            self.desk,
            self.node.closing.clone(),
            StreamCap::new(limits.max_streams_per_identity),
        ))
        .max_decoding_message_size(limits.max_message_bytes);
        self.node.run(self.listeners, api, tasks, shutdown).await
    }
}
