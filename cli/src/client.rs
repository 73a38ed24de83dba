//! gRPC clients for the CLI: mutual TLS as one identity of the PKI, trace context on every call.
//!
//! Each command calls as the party that does that work: `refer`, `status`, `list` and `watch`
//! as `te-office`; `ack` and `reject` as `area-<slug>`; `avi …` and `compliance …` as `avi`;
//! readiness checks as `operator`. `--as NAME` (env `KOKEILU_AS`) makes every call of the
//! command use that identity instead; the demo load plays each party with its own. The files
//! come from `--pki-dir` (env `KOKEILU_PKI_DIR`), by default `<data-dir>/pki` of `kokeilu up`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use kokeilu_platform::grpc::TraceContextInterceptor;
use kokeilu_platform::identity::Identity;
use kokeilu_platform::tls::TlsFiles;
use kokeilu_proto::teoffice::te_office_service_client::TeOfficeServiceClient;
use kokeilu_proto::trialarea::trial_area_service_client::TrialAreaServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub type TeOffice = TeOfficeServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;
pub type TrialArea = TrialAreaServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;
pub type Supervisor = kokeilu_proto::supervisor::supervisor_service_client::SupervisorServiceClient<
    InterceptedService<Channel, TraceContextInterceptor>,
>;

/// The identity and PKI folder chosen on the command line.
#[derive(Debug, Default)]
struct Credentials {
    pki_dir: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    as_name: Option<Identity>,
}

fn credentials() -> &'static Mutex<Credentials> {
    static CREDENTIALS: OnceLock<Mutex<Credentials>> = OnceLock::new();
    CREDENTIALS.get_or_init(Mutex::default)
}

/// Sets the global `--pki-dir` and `--as` choices.
pub fn configure(pki_dir: Option<PathBuf>, as_name: Option<&str>) -> anyhow::Result<()> {
    let as_name = as_name
        .map(|n| {
            Identity::from_name(n).map_err(|_| {
                anyhow::anyhow!(
                    "--as {n:?}: expected te-office, area-<slug>, avi, avi-staff-<id> or operator"
                )
            })
        })
        .transpose()?;
    let mut c = credentials()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    c.pki_dir = pki_dir;
    c.as_name = as_name;
    Ok(())
}

/// The data folder of the stack the command talks to (for the default PKI folder).
pub fn use_data_dir(dir: &Path) {
    let mut c = credentials()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if c.data_dir.is_none() {
        c.data_dir = Some(dir.to_owned());
    }
}

/// The PKI folder when `--pki-dir` is not given (`kokeilu up` sets its own).
pub fn configure_default_pki(dir: &Path) {
    let mut c = credentials()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if c.pki_dir.is_none() {
        c.pki_dir = Some(dir.to_owned());
    }
}

/// The PKI folder the CLI reads.
pub fn pki_dir() -> PathBuf {
    let c = credentials()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    c.pki_dir.clone().unwrap_or_else(|| {
        kokeilu_devtools::pki::Pki::dir_in(
            c.data_dir
                .as_deref()
                .unwrap_or_else(|| Path::new(".kokeilu")),
        )
    })
}

/// `--as` if given, else `default`.
fn chosen(default: Identity) -> Identity {
    credentials()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_name
        .clone()
        .unwrap_or(default)
}

/// The TLS files of `identity` in the PKI folder.
pub fn files(identity: &Identity) -> TlsFiles {
    TlsFiles::in_dir(&pki_dir(), &identity.name())
}

async fn channel(url: &str, identity: &Identity) -> anyhow::Result<Channel> {
    kokeilu_platform::tls::install_crypto_provider();
    let files = files(identity);
    let tls = files.client_config().map_err(|e| {
        anyhow::anyhow!(
            "no credentials for {identity} in {}: {e:#} (run `kokeilu up` once, or pass --pki-dir)",
            pki_dir().display()
        )
    })?;
    Endpoint::from_shared(url.to_owned())?
        .tls_config(tls)?
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| {
            crate::error::ServiceError::unavailable(format!("cannot reach {url}: {e}")).into()
        })
}

/// te-office as `--as` or the TE office.
pub async fn te_office(url: &str) -> anyhow::Result<TeOffice> {
    te_office_as(url, &chosen(Identity::TeOffice)).await
}

pub async fn te_office_as(url: &str, identity: &Identity) -> anyhow::Result<TeOffice> {
    Ok(TeOfficeServiceClient::with_interceptor(
        channel(url, identity).await?,
        TraceContextInterceptor,
    ))
}

/// An area's service as `--as` or that area's own systems.
pub async fn trial_area(url: &str, area: &str) -> anyhow::Result<TrialArea> {
    trial_area_as(url, &chosen(Identity::Area(area.to_owned()))).await
}

pub async fn trial_area_as(url: &str, identity: &Identity) -> anyhow::Result<TrialArea> {
    Ok(TrialAreaServiceClient::with_interceptor(
        channel(url, identity).await?,
        TraceContextInterceptor,
    ))
}

/// The supervisor as `--as` or AVI's system identity.
pub async fn supervisor(url: &str) -> anyhow::Result<Supervisor> {
    Ok(
        kokeilu_proto::supervisor::supervisor_service_client::SupervisorServiceClient::with_interceptor(
            channel(url, &chosen(Identity::Avi)).await?,
            TraceContextInterceptor,
        ),
    )
}

/// Whether the service at `url` answers `grpc.health.v1` as serving (over mutual TLS, as the
/// operator).
pub async fn healthy(url: &str) -> bool {
    let Ok(ch) = channel(url, &Identity::Operator).await else {
        return false;
    };
    let mut client = tonic_health::pb::health_client::HealthClient::new(ch);
    matches!(
        client
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await,
        Ok(r) if r.get_ref().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    )
}
