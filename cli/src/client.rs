//! gRPC clients for the CLI, with trace context on every call.

use kokeilu_platform::grpc::TraceContextInterceptor;
use kokeilu_proto::teoffice::te_office_service_client::TeOfficeServiceClient;
use kokeilu_proto::trialarea::trial_area_service_client::TrialAreaServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub type TeOffice = TeOfficeServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;
pub type TrialArea = TrialAreaServiceClient<InterceptedService<Channel, TraceContextInterceptor>>;

async fn channel(url: &str) -> anyhow::Result<Channel> {
    Endpoint::from_shared(url.to_owned())?
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| {
            crate::error::ServiceError::unavailable(format!("cannot reach {url}: {e}")).into()
        })
}

pub async fn te_office(url: &str) -> anyhow::Result<TeOffice> {
    Ok(TeOfficeServiceClient::with_interceptor(
        channel(url).await?,
        TraceContextInterceptor,
    ))
}

pub async fn trial_area(url: &str) -> anyhow::Result<TrialArea> {
    Ok(TrialAreaServiceClient::with_interceptor(
        channel(url).await?,
        TraceContextInterceptor,
    ))
}

/// Whether the service at `url` answers `grpc.health.v1` as serving.
pub async fn healthy(url: &str) -> bool {
    let Ok(ch) = channel(url).await else {
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

pub type Supervisor = kokeilu_proto::supervisor::supervisor_service_client::SupervisorServiceClient<
    InterceptedService<Channel, TraceContextInterceptor>,
>;

pub async fn supervisor(url: &str) -> anyhow::Result<Supervisor> {
    Ok(
        kokeilu_proto::supervisor::supervisor_service_client::SupervisorServiceClient::with_interceptor(
            channel(url).await?,
            TraceContextInterceptor,
        ),
    )
}
