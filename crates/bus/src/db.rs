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
//! PostgreSQL connections use TLS (rustls with ring) as the URL's `sslmode` and `sslrootcert`
//! ask: production URLs carry `sslmode=verify-full&sslrootcert=/path/to/ca.pem`, so the
//! connection is encrypted and the server proven to be the named host. A URL that lets the
//! connection to a host other than loopback run in plaintext (`disable`, `allow`, `prefer`, the
//! default) or unauthenticated (`require` without a root certificate) is accepted, so that
//! development and CI databases keep working, but logged at start as a warning that names the
//! risk, the host and the mode (never the password): see [`tls_risk`].
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
            Backend::Postgres => {
                let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
                if let Some(risk) = tls_risk(url, &options) {
                    tracing::warn!(
                        host = options.get_host(),
                        sslmode = ?options.get_ssl_mode(),
                        "{risk}; set sslmode=verify-full and sslrootcert in the database URL"
                    );
                }
                url.to_owned()
            }
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
        let pool = options.connect(&url).await.map_err(refused_certificate)?;
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

    /// The latest instant this database recorded: its newest outbox or inbox row. A simulated
    /// clock continues from it after a restart (`Clock::continue_from`).
    pub async fn latest_recorded(
        &self,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, sqlx::Error> {
        let (outbox, inbox): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT MAX(created_at) FROM outbox), (SELECT MAX(received_at) FROM inbox)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(outbox
            .max(inbox)
            .and_then(chrono::DateTime::from_timestamp_micros))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A connection refused because the server's certificate did not verify (rustls reports it as
/// invalid data on the socket) becomes a TLS error that says so and what to check.
fn refused_certificate(e: sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::Io(io)
            if io.kind() == std::io::ErrorKind::InvalidData
                && io.to_string().contains("certificate") =>
        {
            sqlx::Error::Tls(
                format!(
                    "the database server's TLS certificate was refused ({io}): check that \
                     sslrootcert is the CA that signed it and that it names the host"
                )
                .into(),
            )
        }
        other => other,
    }
}

/// Whether a hostname names this machine (or a Unix socket): traffic that never leaves it.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What a PostgreSQL connection of these options risks, if its traffic leaves the machine: the
/// password and the personal data in plaintext (`disable`, `allow`, and `prefer`, which an
/// attacker on the path downgrades by refusing TLS), or an unauthenticated server (`require`
/// without `sslrootcert`: encrypted, but to whoever answers). `None` for loopback and for
/// `verify-ca`/`verify-full` (and `require` with a root certificate, which verifies the CA).
/// `options` are those parsed from `url`.
pub fn tls_risk(url: &str, options: &sqlx::postgres::PgConnectOptions) -> Option<&'static str> {
    use sqlx::postgres::PgSslMode;
    if options.get_socket().is_some() || is_loopback(options.get_host()) {
        return None;
    }
    match options.get_ssl_mode() {
        PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer => Some(
            "the database connection may run without TLS: the password and personal data could \
             cross the network in plaintext",
        ),
        PgSslMode::Require if !has_root_cert(url) => Some(
            "the database connection is encrypted but the server's certificate is not verified: \
             anyone on the path can pose as the database",
        ),
        _ => None,
    }
}

/// Whether the URL (or the environment, as libpq's `PGSSLROOTCERT`) names a root certificate.
fn has_root_cert(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query.split('&').any(|kv| {
        kv.split_once('=').is_some_and(|(k, v)| {
            matches!(k, "sslrootcert" | "ssl-root-cert" | "ssl-ca") && !v.is_empty()
        })
    }) || std::env::var_os("PGSSLROOTCERT").is_some_and(|v| !v.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn risk(url: &str) -> Option<&'static str> {
        let options = sqlx::postgres::PgConnectOptions::from_str(url).expect("url");
        tls_risk(url, &options)
    }

    #[test]
    fn plaintext_or_unverified_connections_off_the_machine_are_a_risk() {
        for url in [
            "postgres://u:secret@db.example:5432/k",
            "postgres://u:secret@db.example:5432/k?sslmode=disable",
            "postgres://u:secret@db.example:5432/k?sslmode=prefer",
            "postgres://u:secret@10.0.0.7/k?sslmode=allow",
        ] {
            assert!(
                risk(url).is_some_and(|r| r.contains("without TLS")),
                "{url}"
            );
        }
        let unverified = risk("postgres://u@db.example/k?sslmode=require").expect("risk");
        assert!(unverified.contains("not verified"));
        for url in [
            "postgres://u@db.example/k?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            "postgres://u@db.example/k?sslmode=verify-ca&sslrootcert=/etc/ca.pem",
            "postgres://u@db.example/k?sslmode=require&sslrootcert=/etc/ca.pem",
            "postgres://u@127.0.0.1/k?sslmode=disable",
            "postgres://u@localhost/k",
            "postgres://u@[::1]:5432/k?sslmode=disable",
        ] {
            assert_eq!(risk(url), None, "{url}");
        }
        // The warning names the risk, never the password.
        assert!(
            !risk("postgres://u:secret@db.example/k")
                .unwrap_or_default()
                .contains("secret")
        );
    }
}
