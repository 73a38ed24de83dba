//! te-office's command-line flags, each with an environment variable.

use std::path::PathBuf;

use clap::Parser;
use kokeilu_platform::config::{CommonArgs, ConnectionArgs, ServiceConfig};
use kokeilu_platform::privacy::{PseudonymKey, check_key_id};

/// te-office: issues referrals to the trial areas and tracks them.
#[derive(Debug, Clone, Parser)]
#[command(name = "te-office", version)]
pub struct Settings {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Parallel handlers of the areas' answers.
    #[arg(long, env = "KOKEILU_CONSUMER_WORKERS", default_value_t = 4)]
    pub consumer_workers: usize,
    /// File holding the pseudonym key: 32 random bytes written as 64 hex characters (e.g.
    /// `openssl rand -hex 32`), readable by te-office only. The TE office alone holds it: it
    /// pseudonymises clients for AVI and sends each pseudonym to the area with the referral.
    #[arg(long, env = "KOKEILU_PSEUDONYM_KEY_FILE", value_parser = key_file)]
    pub pseudonym_key_file: KeyFile,
    /// Id of that key, carried on every fact (e.g. "2025-01"). To rotate, give a new key under a
    /// new id: new referrals use it, existing referrals keep their pseudonym.
    #[arg(long, env = "KOKEILU_PSEUDONYM_KEY_ID", value_parser = key_id)]
    pub pseudonym_key_id: String,
}

/// The pseudonym key file's path and its content, read and checked when the flags are parsed.
#[derive(Clone)]
pub struct KeyFile {
    pub path: PathBuf,
    key: PseudonymKey,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyFile({}, key hidden)", self.path.display())
    }
}

fn key_file(path: &str) -> Result<KeyFile, String> {
    let path = PathBuf::from(path);
    // The id is attached in `service_config`; "file" stands in while reading.
    let key = PseudonymKey::from_file("file", &path).map_err(|e| e.to_string())?;
    Ok(KeyFile { path, key })
}

fn key_id(id: &str) -> Result<String, String> {
    check_key_id(id).map_err(|e| e.to_string())?;
    Ok(id.to_owned())
}

impl Settings {
    pub fn service_config(&self) -> ServiceConfig {
        let mut config = self.connection.to_config(self.consumer_workers);
        config.pseudonym_key = PseudonymKey::from_bytes(
            &self.pseudonym_key_id,
            self.pseudonym_key_file.key.expose_bytes(),
        )
        .ok();
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        Settings::try_parse_from(
            [
                "te-office",
                "--database-url",
                "sqlite://x.db",
                "--tls-cert",
                "te-office.pem",
                "--tls-key",
                "te-office-key.pem",
                "--tls-ca",
                "ca.pem",
            ]
            .iter()
            .chain(args),
        )
    }

    #[test]
    fn the_key_comes_from_a_file_of_32_hex_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.key");
        std::fs::write(&good, format!("{}\n", "5a".repeat(32))).unwrap();
        let short = dir.path().join("short.key");
        std::fs::write(&short, "5a".repeat(16)).unwrap();
        let good = good.to_str().unwrap();

        let s = parse(&[
            "--pseudonym-key-file",
            good,
            "--pseudonym-key-id",
            "2025-01",
        ])
        .unwrap();
        let key = s.service_config().pseudonym_key.unwrap();
        assert_eq!(key.id(), "2025-01");
        assert_eq!(key.expose_bytes(), &[0x5a; 32]);
        assert!(!format!("{s:?}").contains("5a5a"));

        let e = parse(&[
            "--pseudonym-key-file",
            short.to_str().unwrap(),
            "--pseudonym-key-id",
            "1",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("exactly 32 random bytes"), "{e}");
        let e = parse(&["--pseudonym-key-file", good, "--pseudonym-key-id", "a b"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("key id"), "{e}");
        assert!(parse(&["--pseudonym-key-file", good]).is_err());
    }
}
