//! The PostgreSQL administration a local stack needs: one database per service, created when
//! missing and dropped by prefix (benchmarks clean up after themselves). The only SQL in the CLI.

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Executor, Row};
use std::str::FromStr;

/// Whether `name` is safe to splice into DDL (database names cannot be bound as parameters).
fn plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Creates database `db` on the server at `admin_url` if it is missing; the URL of `db`.
pub async fn ensure_database(admin_url: &str, db: &str) -> anyhow::Result<String> {
    anyhow::ensure!(plain_identifier(db), "unusable database name {db:?}");
    let options = PgConnectOptions::from_str(admin_url)?;
    let mut conn = options
        .connect()
        .await
        .context("cannot connect to PostgreSQL")?;
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(db)
        .fetch_optional(&mut conn)
        .await?
        .is_some();
    if !exists {
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .await?;
    }
    Ok(options.database(db).to_url_lossy().to_string())
}

/// Drops every database whose name starts with `prefix`.
pub async fn drop_databases(admin_url: &str, prefix: &str) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(admin_url)?;
    let mut conn = options.connect().await?;
    let rows = sqlx::query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
        .bind(prefix)
        .fetch_all(&mut conn)
        .await?;
    for row in rows {
        let name: String = row.try_get("datname")?;
        if !plain_identifier(&name) {
            continue;
        }
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_reach_ddl() {
        assert!(plain_identifier("kokeilu_area_kainuu"));
        assert!(!plain_identifier("x; DROP DATABASE postgres"));
        assert!(!plain_identifier("Upper"));
        assert!(!plain_identifier(""));
    }
}
