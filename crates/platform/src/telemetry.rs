//! Logs and traces.
//!
//! Every service installs one `tracing` subscriber: an `EnvFilter`, a fmt layer (pretty or JSON)
//! and an OpenTelemetry layer. The OpenTelemetry layer is always on, so trace context is created
//! and propagated across gRPC and NATS even when nothing is exported; spans leave the process only
//! when an OTLP endpoint is configured. Tests install an in-memory exporter instead
//! ([`install_test_exporter`], feature `testing`).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{CommonArgs, LogFormat};

/// Flushes and stops the trace pipeline when dropped (at the very end of shutdown).
#[must_use = "dropping the guard stops tracing"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("trace pipeline did not shut down cleanly: {e}");
        }
    }
}

/// Installs the global subscriber for a service process.
pub fn init(args: &CommonArgs, service_name: &str) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &args.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("kokeilu");
    opentelemetry::global::set_tracer_provider(provider.clone());

    let filter = EnvFilter::try_new(&args.log)?;
    let otel = tracing_opentelemetry::layer().with_tracer(tracer);
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    match args.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()?,
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init()?,
    }
    Ok(TelemetryGuard { provider })
}

/// Installs (once per test process) a subscriber that records every span in memory, and returns
/// the exporter to read them from. Logs go to the test output when `TEST_LOG` is set.
#[cfg(feature = "testing")]
pub fn install_test_exporter() -> opentelemetry_sdk::trace::InMemorySpanExporter {
    use std::sync::OnceLock;

    use opentelemetry_sdk::trace::InMemorySpanExporter;

    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER
        .get_or_init(|| {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            let tracer = provider.tracer("kokeilu-test");
            opentelemetry::global::set_tracer_provider(provider);
            let filter = EnvFilter::try_from_env("TEST_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,h2=warn,tower=warn"));
            let fmt = std::env::var_os("TEST_LOG")
                .map(|_| tracing_subscriber::fmt::layer().with_test_writer());
            let _ = tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(tracer))
                .with(fmt.map(|f| f.with_filter(filter)))
                .try_init();
            exporter
        })
        .clone()
}

#[cfg(feature = "testing")]
use tracing_subscriber::Layer as _;
