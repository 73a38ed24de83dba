//! Mutual TLS for gRPC: the files a party holds and the tonic configurations made from them.
//!
//! Each party holds three PEM files: its certificate (naming one identity, [`crate::identity`]),
//! its private key and the CA certificate that every Kokeilu certificate chains to. A service
//! presents its certificate and admits only clients whose certificate chains to that CA; a client
//! presents its own and checks the service's against the same CA. rustls does the handshake with
//! the `ring` provider.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tonic::transport::{Certificate, ClientTlsConfig, ServerTlsConfig};

use crate::identity::Identity;

/// Makes `ring` the process's rustls provider (idempotent). Every binary calls this first.
pub fn install_crypto_provider() {
    // An error means a provider is installed already: the same one, as only ring is linked.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One party's certificate, key and the CA (PEM file paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// Warns when a private key file is readable by others than its owner.
fn check_key_mode(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            target: "kokeilu::security",
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "private key file is readable by group or others; make it 0600"
        );
    }
}

impl TlsFiles {
    /// The files `<dir>/<name>.pem`, `<dir>/<name>-key.pem` and `<dir>/ca.pem` (the layout of
    /// `kokeilu up`'s PKI).
    pub fn in_dir(dir: &Path, name: &str) -> Self {
        Self {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}-key.pem")),
            ca: dir.join("ca.pem"),
        }
    }

    /// The identity the certificate names.
    pub fn identity(&self) -> anyhow::Result<Identity> {
        let pem = read(&self.cert, "certificate")?;
        let (_, parsed) = x509_parser::pem::parse_x509_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate: {e}", self.cert.display()))?;
        Identity::from_certificate(&parsed.contents)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.cert.display()))
    }

    /// Server side: present the certificate, require a client certificate from the CA.
    pub fn server_config(&self) -> anyhow::Result<ServerTlsConfig> {
        check_key_mode(&self.key);
        let identity = tonic::transport::Identity::from_pem(
            read(&self.cert, "certificate")?,
            read(&self.key, "private key")?,
        );
        Ok(ServerTlsConfig::new()
            .identity(identity)
            .client_ca_root(Certificate::from_pem(read(&self.ca, "CA certificate")?))
            .client_auth_optional(false))
    }

    /// Client side: present the certificate, verify the server against the CA.
    pub fn client_config(&self) -> anyhow::Result<ClientTlsConfig> {
        check_key_mode(&self.key);
        let identity = tonic::transport::Identity::from_pem(
            read(&self.cert, "certificate")?,
            read(&self.key, "private key")?,
        );
        Ok(ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&self.ca, "CA certificate")?))
            .identity(identity))
    }
}

/// A checked service TLS configuration: the files, and the identity they name.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub files: TlsFiles,
    pub config: ServerTlsConfig,
}

impl ServerTls {
    /// Loads the files and checks that the certificate names `expected` (a te-office service must
    /// not run with an area's certificate).
    pub fn load(files: &TlsFiles, expected: &Identity) -> anyhow::Result<Self> {
        let named = files.identity()?;
        if &named != expected {
            anyhow::bail!(
                "{} names {named}, but this service is {expected}: use its own certificate",
                files.cert.display()
            );
        }
        Ok(Self {
            files: files.clone(),
            config: files.server_config()?,
        })
    }
}
