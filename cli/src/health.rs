//! `kokeilu health`: asks a service's admin port for its plaintext `grpc.health.v1` status and
//! exits 0 only when it is SERVING. For health checks where no other client exists: the image is
//! distroless (no shell, no curl), so compose's health checks run this; a Kubernetes exec probe
//! could too (the manifests use the kubelet's own gRPC probe on the same port).

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The admin port (KOKEILU_ADMIN_LISTEN) to ask: plaintext, never the mutual-TLS gRPC port.
    #[arg(default_value = "http://127.0.0.1:9464")]
    pub url: String,
    /// The service to ask about (e.g. kokeilu.teoffice.v1.TeOfficeService); empty: the server.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3)]
    pub timeout_secs: u64,
}

pub async fn run(args: HealthArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.timeout_secs);
    let channel = tonic::transport::Endpoint::from_shared(args.url.clone())
        .with_context(|| format!("not a URL: {}", args.url))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .with_context(|| format!("cannot reach {}", args.url))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: args.service.clone(),
        })
        .await
        .with_context(|| format!("{} did not answer the health check", args.url))?;
    let status = response.into_inner().status;
    if status != ServingStatus::Serving as i32 {
        let name = ServingStatus::try_from(status).map_or("UNKNOWN", |s| s.as_str_name());
        bail!("{} is {name}", args.url);
    }
    println!("SERVING");
    Ok(())
}
