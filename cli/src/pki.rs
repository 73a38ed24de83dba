//! `kokeilu pki issue`: certificates of the local PKI (the one `kokeilu up` makes).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use kokeilu_devtools::pki::Pki;
use kokeilu_platform::identity::Identity;

use crate::output::{self, say};

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make the local CA if missing and a certificate for each NAME that has none (te-office,
    /// area-<slug>, avi, avi-staff-<id>, operator). For local runs and training only: production
    /// certificates come from the agencies' own PKI.
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Data folder of the stack; the PKI is its `pki/` (or --pki-dir).
    #[arg(long, env = "KOKEILU_DATA_DIR", default_value = ".kokeilu")]
    data_dir: PathBuf,
    /// Identity names.
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn run(cmd: PkiCommand) -> anyhow::Result<()> {
    match cmd {
        PkiCommand::Issue(args) => {
            crate::client::use_data_dir(&args.data_dir);
            let identities = args
                .names
                .iter()
                .map(|n| {
                    Identity::from_name(n).map_err(|_| {
                        anyhow::anyhow!(
                            "{n:?} is not an identity name: te-office, area-<slug>, avi, \
                             avi-staff-<id> or operator"
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let dir = crate::client::pki_dir();
            let pki = Pki::ensure(&dir, &identities)?;
            let issued: Vec<serde_json::Value> = identities
                .iter()
                .map(|id| {
                    let files = pki.files(id);
                    serde_json::json!({
                        "identity": id.uri(),
                        "cert": files.cert,
                        "key": files.key,
                        "ca": files.ca,
                    })
                })
                .collect();
            if output::json() {
                output::document(&serde_json::json!({ "issued": issued }));
            } else {
                for id in &identities {
                    say!("{}: {}", id.uri(), pki.files(id).cert.display());
                }
            }
            Ok(())
        }
    }
}
