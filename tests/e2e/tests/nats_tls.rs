//! The services reach NATS over TLS verified against `KOKEILU_NATS_CA`, and refuse a server
//! their CA did not sign.

// Test scenarios: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use kokeilu_bus::nats::{Login, connect};
use kokeilu_devtools::nats_server::{NatsOptions, NatsProcess};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A CA and a server certificate for 127.0.0.1 signed by it, as PEM files in `dir`; returns the
/// CA's path.
fn certificates(dir: &Path, name: &str) -> std::path::PathBuf {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let ca_path = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}-server.pem")), server.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{name}-server.key")),
        server_key.serialize_pem(),
    )
    .unwrap();
    ca_path
}

/// nats-server requiring TLS with the `name` server certificate from `dir`.
fn start_tls_server(dir: &Path, name: &str) -> NatsProcess {
    kokeilu_test_support::nats_unprovisioned_with(&NatsOptions {
        extra_config: format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n}}",
            dir.join(format!("{name}-server.pem")),
            dir.join(format!("{name}-server.key")),
        ),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_tls_is_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certificates(dir.path(), "kokeilu");
    let other_ca = certificates(dir.path(), "stranger");
    let server = start_tls_server(dir.path(), "kokeilu");
    let url = format!("tls://127.0.0.1:{}", server.port());

    let trusted = Login {
        urls: url.clone(),
        user: None,
        ca: Some(ca),
    };
    let client = connect(&trusted, "tls-test", Duration::ZERO).await.unwrap();
    let mut sub = client.subscribe("kokeilu.tls.check").await.unwrap();
    client
        .publish("kokeilu.tls.check", "over TLS".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut sub))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.payload, "over TLS");

    // A CA that did not sign the server's certificate: no connection.
    let stranger = Login {
        urls: url,
        user: None,
        ca: Some(other_ca),
    };
    assert!(
        connect(&stranger, "tls-test", Duration::ZERO)
            .await
            .is_err(),
        "connected to a server its CA did not sign"
    );
}
