//! The service's own database: SQLite (embedded default) or PostgreSQL, one handle for both.
//!
//! Services write SQL that both backends accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`)
//! and branch on [`Backend`] only where the dialects differ (row locking, feed ordering). Times
//! are stored as microseconds since the epoch (`BIGINT`), dates as ISO `TEXT`.
//!
//! The bus's own tables (outbox, inbox) ship with this crate (`crates/bus/migrations/`) and are
//! tracked in their own ledger, `_kokeilu_bus_migrations`: [`Db::connect`] runs them before the
//! service's migrations, so a service never copies them and the two version sequences never
//! collide. To change the bus's schema, add `crates/bus/migrations/{sqlite,postgres}/NNNN_*.sql`
//! (the next number, both backends); a service adds its own to `services/<name>/migrations/`.
//!
//! SQLite runs in WAL mode with a busy timeout, and write transactions start with
//! `BEGIN IMMEDIATE` so concurrent writers queue instead of failing on a stale snapshot.

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor};

/// A write transaction on the service's database.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which SQL database a service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// Picks the statement written for this backend.
    pub fn pick(self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Self::Sqlite => sqlite,
            Self::Postgres => postgres,
        }
    }
}

/// The ledger table of the bus's own migrations (the service's stay in `_sqlx_migrations`).
pub const BUS_MIGRATIONS_TABLE: &str = "_kokeilu_bus_migrations";

fn bus_migrator(mut migrator: Migrator) -> Migrator {
    migrator.dangerous_set_table_name(BUS_MIGRATIONS_TABLE);
    migrator
}

static BUS_SQLITE: LazyLock<Migrator> =
    LazyLock::new(|| bus_migrator(sqlx::migrate!("./migrations/sqlite")));
static BUS_POSTGRES: LazyLock<Migrator> =
    LazyLock::new(|| bus_migrator(sqlx::migrate!("./migrations/postgres")));
static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

/// A service's migrations, one set per backend.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

impl Migrations {
    /// No schema of one's own: only the bus's tables (tools and the bus's tests).
    pub const NONE: Migrations = Migrations {
        sqlite: &NO_MIGRATIONS,
        postgres: &NO_MIGRATIONS,
    };
}

/// Pool and backend of one service's database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects (creating a SQLite file if needed) and runs the bus's migrations, then the
    /// service's.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        migrations: &Migrations,
    ) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            sqlx::Error::Configuration("database URL must start with sqlite: or postgres:".into())
        })?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30));
        let options = match backend {
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(&url).await?;
        if backend == Backend::Sqlite {
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        let (bus, own) = match backend {
            Backend::Sqlite => (&*BUS_SQLITE, migrations.sqlite),
            Backend::Postgres => (&*BUS_POSTGRES, migrations.postgres),
        };
        bus.run(&pool).await?;
        own.run(&pool).await?;
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Serialises writers of an ordered feed until `tx` ends, so that a feed's sequence numbers
    /// become visible in order and a reader resuming from a cursor never skips a row. SQLite
    /// already has a single writer.
    pub async fn lock_feed(&self, tx: &mut Tx, feed: i64) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(feed)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn prepare_sqlite_url(url: &str) -> Result<String, sqlx::Error> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename();
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
    }
    Ok(if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    })
}
