//! Building and running one trial area's service: the same code in `main`, `kokeilu serve` and
//! tests.

use std::future::Future;
use std::net::SocketAddr;

use kokeilu_bus::{Db, Migrations};
use kokeilu_platform::SharedClock;
use kokeilu_platform::authz::Deployment;
use kokeilu_platform::config::ServiceConfig;
use kokeilu_platform::limits::StreamCap;
use kokeilu_proto::trialarea::trial_area_service_server::TrialAreaServiceServer;
use kokeilu_runtime::{Listeners, Node};

use crate::config::Settings;
use crate::desk::Desk;
use crate::events::{Referrals, consumer_config};
use crate::grpc::Api;
use crate::store::Store;
use crate::units::Units;

// trial-area's own schema. The outbox and inbox come from kokeilu-bus, which runs its
// migrations first: add a trial-area migration as `migrations/{sqlite,postgres}/NNNN_*.sql`
// (next number, both backends).
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// trial-area's migrations for both backends.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// One trial area's process: telemetry, then the application until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let name = format!("trial-area-{}", settings.area);
    kokeilu_runtime::run_process(&settings.common, &name, |shutdown| async {
        let units = match &settings.units_file {
            Some(path) => Units::load(
                path,
                &settings.area,
                kokeilu_rules::registry::Registry::builtin(),
            )?,
            None => Units::default(),
        };
        Application::build(
            &settings.service_config(),
            &settings.area,
            settings.common.clock(),
        )
        .await?
        .with_units(units)
        .run_until(shutdown)
        .await
    })
    .await
}

/// A built, not yet running, trial area service.
pub struct Application {
    node: Node,
    listeners: Listeners,
    desk: Desk,
    workers: usize,
}

impl Application {
    /// Checks the area against the trial registry, connects and binds the gRPC and admin ports.
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
        let listeners = Listeners::bind(config, Deployment::TrialArea(area.to_owned())).await?;
        let desk = Desk::new(
            area.to_owned(),
            Store::new(node.db.clone()),
            node.outbox.clone(),
            clock,
        );
        Ok(Self {
            node,
            listeners,
            desk,
            workers: config.consumer_workers,
        })
    }

    /// Serves with the area's internal units (`--units-file`).
    pub fn with_units(self, units: Units) -> Self {
        Self {
            desk: self.desk.with_units(units),
            ..self
        }
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
                consumer_config(&self.desk.area, self.workers),
                Referrals {
                    desk: self.desk.clone(),
                },
            ),
            self.node.consumer(
                crate::supervision::actions_consumer(&self.desk.area, 1),
                crate::supervision::Actions {
                    desk: self.desk.clone(),
                },
            ),
        ];
        tracing::info!(
            area = %self.desk.area,
            port = self.port(),
            admin = %self.admin_addr(),
            "trial area serving"
        );
        let limits = self.listeners.limits();
        let api = TrialAreaServiceServer::new(Api::new(
            self.desk,
            self.node.closing.clone(),
            StreamCap::new(limits.max_streams_per_identity),
        ))
        .max_decoding_message_size(limits.max_message_bytes);
        self.node.run(self.listeners, api, tasks, shutdown).await
    }
}
