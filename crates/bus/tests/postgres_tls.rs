//! PostgreSQL over TLS, through `Db::connect` as a service connects: with `sslmode=require` every
//! connection of the service's pool is encrypted (PostgreSQL's own `pg_stat_ssl` says so), and
//! with `sslmode=verify-full` a server whose certificate the service's CA did not sign is refused.
//!
//! The server is the test PostgreSQL (`KOKEILU_TEST_POSTGRES_URL`), which on the development
//! machines serves TLS with a self-signed certificate. A server with `ssl = off` skips the test
//! with a message (as an unreachable one does), unless `KOKEILU_REQUIRE_POSTGRES_TLS=1`.

use kokeilu_bus::{Db, Migrations};
use kokeilu_test_support::TestDb;

/// `url` with these query parameters set (replacing any of the same name).
fn with_params(url: &str, params: &[(&str, &str)]) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or_default();
            !params.iter().any(|(k, _)| *k == key)
        })
        .map(str::to_owned)
        .collect();
    kept.extend(params.iter().map(|(k, v)| format!("{k}={v}")));
    format!("{base}?{}", kept.join("&"))
}

/// A fresh database on a server that serves TLS, or `None` (with the reason) to skip.
async fn tls_database() -> Option<TestDb> {
    let db = TestDb::postgres().await?;
    let probe = Db::connect(
        &with_params(db.url(), &[("sslmode", "disable")]),
        1,
        &Migrations::NONE,
    )
    .await
    .expect("connect without TLS to ask whether the server has TLS");
    let (ssl,): (String,) = sqlx::query_as("SELECT current_setting('ssl') AS ssl")
        .fetch_one(probe.pool())
        .await
        .expect("show ssl");
    probe.close().await;
    if ssl != "on" {
        let required = std::env::var("KOKEILU_REQUIRE_POSTGRES_TLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "KOKEILU_REQUIRE_POSTGRES_TLS=1 but the test PostgreSQL has ssl = {ssl}"
        );
        eprintln!(
            "SKIPPED: the test PostgreSQL does not serve TLS (ssl = {ssl}); \
             turn ssl on with a certificate to run the PostgreSQL TLS test"
        );
        return None;
    }
    Some(db)
}

/// `(pid, ssl)` of every connection of this test's pool, as the server sees them.
async fn connections(db: &Db, application: &str) -> Vec<(i32, bool)> {
    sqlx::query_as(
        "SELECT a.pid, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid \
         WHERE a.application_name = $1 ORDER BY a.pid",
    )
    .bind(application)
    .fetch_all(db.pool())
    .await
    .expect("pg_stat_ssl")
}

#[tokio::test]
async fn sslmode_require_encrypts_every_connection_of_the_service() {
    let Some(test_db) = tls_database().await else {
        return;
    };
    let application = format!("kokeilu-tls-{}", uuid::Uuid::new_v4().simple());
    let url = with_params(
        test_db.url(),
        &[("sslmode", "require"), ("application_name", &application)],
    );
    let db = Db::connect(&url, 3, &Migrations::NONE)
        .await
        .expect("connect with sslmode=require");
    // Hold three connections at once, so the pool has opened more than the one that migrated.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(db.pool().acquire().await.expect("acquire"));
    }
    drop(held);
    let seen = connections(&db, &application).await;
    assert!(seen.len() >= 3, "the service's connections: {seen:?}");
    assert!(
        seen.iter().all(|(_, ssl)| *ssl),
        "every connection encrypted: {seen:?}"
    );
    db.close().await;

    // The same check tells a plaintext connection apart, so the assertion above means something.
    let plain_app = format!("{application}-plain");
    let plain = Db::connect(
        &with_params(
            test_db.url(),
            &[("sslmode", "disable"), ("application_name", &plain_app)],
        ),
        1,
        &Migrations::NONE,
    )
    .await
    .expect("connect with sslmode=disable");
    let seen = connections(&plain, &plain_app).await;
    assert!(
        !seen.is_empty() && seen.iter().all(|(_, ssl)| !*ssl),
        "{seen:?}"
    );
    plain.close().await;
}

#[tokio::test]
async fn sslmode_verify_full_refuses_a_server_the_ca_did_not_sign() {
    let Some(test_db) = tls_database().await else {
        return;
    };
    // A CA of the service's own: the server's certificate is not signed by it.
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Kokeilu test CA");
    let ca = params.self_signed(&key).expect("self-signed CA");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write CA");

    let url = with_params(
        test_db.url(),
        &[
            ("sslmode", "verify-full"),
            ("sslrootcert", ca_path.to_str().expect("utf-8 path")),
        ],
    );
    let err = Db::connect(&url, 1, &Migrations::NONE)
        .await
        .expect_err("a server certificate from another CA must be refused");
    let text = err.to_string();
    assert!(
        matches!(err, sqlx::Error::Tls(_)),
        "refused in the TLS handshake, not later: {err:?}"
    );
    assert!(
        text.to_lowercase().contains("certificate"),
        "the error names the certificate: {text}"
    );
    // The error does not carry the URL's secrets.
    assert!(!text.contains("password"), "{text}");
}
