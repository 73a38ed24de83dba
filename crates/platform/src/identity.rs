//! Who is calling: the one identity a Kokeilu certificate names.
//!
//! Every certificate issued for Kokeilu (service, system or person) carries exactly one URI in its
//! subject alternative names, in this scheme:
//!
//! | URI                          | identity                                   | file name (`pki/`) |
//! |------------------------------|--------------------------------------------|--------------------|
//! | `kokeilu://te-office`        | the TE office's systems                    | `te-office`        |
//! | `kokeilu://area/<slug>`      | one trial area's systems (`kainuu`, …)     | `area-<slug>`      |
//! | `kokeilu://avi`              | AVI's supervision system                   | `avi`              |
//! | `kokeilu://avi/staff/<id>`   | one named AVI inspector (`<id>`: `[a-z0-9-]`) | `avi-staff-<id>` |
//! | `kokeilu://operator`         | the operators running the system           | `operator`         |
//!
//! A certificate with no such URI, with two, or with an unknown one names nobody, and its calls are
//! refused. Which RPC each identity may call is [`crate::authz`]'s table.

use std::fmt;

/// The scheme of every Kokeilu identity URI.
pub const SCHEME: &str = "kokeilu://";

/// One caller, as its certificate names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    TeOffice,
    /// A trial area's systems; the slug of the area (`kainuu`).
    Area(String),
    /// AVI's supervision system.
    Avi,
    /// A named AVI inspector.
    AviStaff(String),
    Operator,
}

/// A string that is not a Kokeilu identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Kokeilu identity: {0}")]
pub struct NotAnIdentity(pub String);

fn valid_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl Identity {
    /// Parses `kokeilu://…` (see the module table).
    pub fn from_uri(uri: &str) -> Result<Self, NotAnIdentity> {
        let bad = || NotAnIdentity(uri.chars().take(80).collect());
        let rest = uri.strip_prefix(SCHEME).ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["te-office"] => Ok(Self::TeOffice),
            ["avi"] => Ok(Self::Avi),
            ["operator"] => Ok(Self::Operator),
            ["area", slug] if valid_token(slug) && *slug != "avi" => {
                Ok(Self::Area((*slug).to_owned()))
            }
            ["avi", "staff", id] if valid_token(id) => Ok(Self::AviStaff((*id).to_owned())),
            _ => Err(bad()),
        }
    }

    /// Parses a PKI file name (`te-office`, `area-kainuu`, `avi`, `avi-staff-<id>`, `operator`).
    pub fn from_name(name: &str) -> Result<Self, NotAnIdentity> {
        let bad = || NotAnIdentity(name.chars().take(80).collect());
        match name {
            "te-office" => Ok(Self::TeOffice),
            "avi" => Ok(Self::Avi),
            "operator" => Ok(Self::Operator),
            _ => {
                if let Some(id) = name.strip_prefix("avi-staff-") {
                    valid_token(id)
                        .then(|| Self::AviStaff(id.to_owned()))
                        .ok_or_else(bad)
                } else if let Some(slug) = name.strip_prefix("area-") {
                    (valid_token(slug) && slug != "avi")
                        .then(|| Self::Area(slug.to_owned()))
                        .ok_or_else(bad)
                } else {
                    Err(bad())
                }
            }
        }
    }

    /// The URI a certificate carries for this identity.
    pub fn uri(&self) -> String {
        match self {
            Self::TeOffice => format!("{SCHEME}te-office"),
            Self::Area(slug) => format!("{SCHEME}area/{slug}"),
            Self::Avi => format!("{SCHEME}avi"),
            Self::AviStaff(id) => format!("{SCHEME}avi/staff/{id}"),
            Self::Operator => format!("{SCHEME}operator"),
        }
    }

    /// The name of its files under `pki/` and of the CLI's `--as`.
    pub fn name(&self) -> String {
        match self {
            Self::TeOffice => "te-office".to_owned(),
            Self::Area(slug) => format!("area-{slug}"),
            Self::Avi => "avi".to_owned(),
            Self::AviStaff(id) => format!("avi-staff-{id}"),
            Self::Operator => "operator".to_owned(),
        }
    }

    /// The trial area this identity acts for, if it is an area's.
    pub fn area(&self) -> Option<&str> {
        match self {
            Self::Area(slug) => Some(slug),
            _ => None,
        }
    }

    /// The identity named by a DER certificate's URI SANs: exactly one `kokeilu://` URI.
    pub fn from_certificate(der: &[u8]) -> Result<Self, NotAnIdentity> {
        use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|_| NotAnIdentity("unreadable certificate".into()))?;
        let san = cert
            .subject_alternative_name()
            .map_err(|_| NotAnIdentity("unreadable subject alternative names".into()))?
            .ok_or_else(|| NotAnIdentity("certificate has no subject alternative names".into()))?;
        let mut uris = san.value.general_names.iter().filter_map(|n| match n {
            GeneralName::URI(uri) if uri.starts_with(SCHEME) => Some(*uri),
            _ => None,
        });
        match (uris.next(), uris.next()) {
            (Some(uri), None) => Self::from_uri(uri),
            (None, _) => Err(NotAnIdentity(
                "certificate names no kokeilu:// identity".into(),
            )),
            (Some(_), Some(_)) => Err(NotAnIdentity(
                "certificate names more than one kokeilu:// identity".into(),
            )),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

/// The authenticated caller of a gRPC request (the authorisation layer puts it there), or
/// `UNAUTHENTICATED` when the request did not pass through it.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<&Identity, tonic::Status> {
    request
        .extensions()
        .get::<Identity>()
        .ok_or_else(|| tonic::Status::unauthenticated("no authenticated caller"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identity_round_trips_through_its_uri_and_name() {
        for id in [
            Identity::TeOffice,
            Identity::Area("kainuu".into()),
            Identity::Area("etela-pohjanmaa".into()),
            Identity::Avi,
            Identity::AviStaff("inspector-7".into()),
            Identity::Operator,
        ] {
            assert_eq!(Identity::from_uri(&id.uri()), Ok(id.clone()));
            assert_eq!(Identity::from_name(&id.name()), Ok(id.clone()));
        }
    }

    #[test]
    fn malformed_identities_are_refused() {
        for uri in [
            "",
            "kokeilu://",
            "kokeilu://area",
            "kokeilu://area/",
            "kokeilu://area/Kainuu",
            "kokeilu://area/avi",
            "kokeilu://area/kainuu/extra",
            "kokeilu://avi/staff",
            "kokeilu://avi/staff/",
            "kokeilu://avi/other/x",
            "https://te-office",
            "kokeilu://te-office/",
            "kokeilu://area/-x",
        ] {
            assert!(Identity::from_uri(uri).is_err(), "{uri:?} accepted");
        }
        for name in ["", "area-", "area-avi", "avi-staff-", "te_office", "kainuu"] {
            assert!(Identity::from_name(name).is_err(), "{name:?} accepted");
        }
    }
}
