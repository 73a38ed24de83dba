//! A local PKI for running Kokeilu on one machine: `kokeilu up` and the tests.
//!
//! [`Pki::ensure`] makes, in one folder, a CA (`ca.pem`, `ca-key.pem`) and for each identity
//! `<name>.pem` and `<name>-key.pem` (names and URIs: `kokeilu_platform::identity`). A
//! certificate names its identity as a `kokeilu://` URI SAN, is valid for server and client
//! authentication, and for `localhost`, `127.0.0.1`, `::1` and its own name as host names, so one
//! file serves a service's port and the same party's CLI calls. Key files are mode 0600. What
//! exists is kept: a second run issues only missing certificates, with the same CA.
//!
//! Production uses the agencies' own PKI: the services read the same three files from configured
//! paths (`--tls-cert`, `--tls-key`, `--tls-ca`).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Datelike;
use kokeilu_platform::identity::Identity;
use kokeilu_platform::tls::TlsFiles;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// How long a local certificate is valid, in days.
pub const VALIDITY_DAYS: u64 = 730;

/// A PKI folder.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
}

fn write_file(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    let temp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .with_context(|| format!("cannot create {}", temp.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// rcgen's validity date for a calendar day.
macro_rules! ymd {
    ($d:expr) => {{
        let d: chrono::NaiveDate = $d;
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    }};
}

impl Pki {
    /// The folder of `kokeilu up`'s PKI under a data folder.
    pub fn dir_in(data_dir: &Path) -> PathBuf {
        data_dir.join("pki")
    }

    /// Makes the CA if missing, and a certificate for each identity that has none.
    pub fn ensure(dir: &Path, identities: &[Identity]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let pki = Self {
            dir: dir.to_owned(),
        };
        let issuer = pki.ca()?;
        for identity in identities {
            let files = pki.files(identity);
            if files.cert.exists() && files.key.exists() {
                continue;
            }
            pki.issue(&issuer, identity)?;
        }
        Ok(pki)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The certificate, key and CA of one identity.
    pub fn files(&self, identity: &Identity) -> TlsFiles {
        TlsFiles::in_dir(&self.dir, &identity.name())
    }

    fn ca(&self) -> anyhow::Result<Issuer<'static, KeyPair>> {
        let cert_path = self.dir.join("ca.pem");
        let key_path = self.dir.join("ca-key.pem");
        if cert_path.exists() && key_path.exists() {
            let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?)
                .with_context(|| format!("{}: not a key", key_path.display()))?;
            return Issuer::from_ca_cert_pem(&std::fs::read_to_string(&cert_path)?, key)
                .with_context(|| format!("{}: not a CA certificate", cert_path.display()));
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Kokeilu (local)");
        name.push(DnType::CommonName, "Kokeilu local CA");
        params.distinguished_name = name;
        let today = chrono::Utc::now().date_naive();
        params.not_before = ymd!(today - chrono::Days::new(1));
        params.not_after = ymd!(today + chrono::Days::new(VALIDITY_DAYS * 2));
        let cert = params.self_signed(&key)?;
        write_file(&key_path, &key.serialize_pem(), 0o600)?;
        write_file(&cert_path, &cert.pem(), 0o644)?;
        Ok(Issuer::new(params, key))
    }

    fn issue(&self, issuer: &Issuer<'static, KeyPair>, identity: &Identity) -> anyhow::Result<()> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Kokeilu (local)");
        name.push(DnType::CommonName, identity.name());
        params.distinguished_name = name;
        params.subject_alt_names = vec![
            SanType::URI(identity.uri().try_into()?),
            SanType::DnsName("localhost".try_into()?),
            SanType::DnsName(identity.name().try_into()?),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let today = chrono::Utc::now().date_naive();
        params.not_before = ymd!(today - chrono::Days::new(1));
        params.not_after = ymd!(today + chrono::Days::new(VALIDITY_DAYS));
        let cert = params.signed_by(&key, issuer)?;
        let files = self.files(identity);
        write_file(&files.key, &key.serialize_pem(), 0o600)?;
        write_file(&files.cert, &cert.pem(), 0o644)?;
        Ok(())
    }
}
