//! Tracing set up once per process: JSON lines in production, readable lines locally,
//! and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported over OTLP/HTTP with
//! their W3C trace context carried across the job queue, so one trace runs from the
//! HTTP request through the relay and the queue to the worker's sandbox steps.

use std::collections::HashMap;

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Env, url_with_scheme};

/// The W3C header that carries a span's trace context between processes.
const TRACEPARENT: &str = "traceparent";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
    /// Whether each span's end is logged with how long it took (`LOG_SPANS=close`):
    /// where a run's time goes, step by step.
    pub span_ends: bool,
    /// Where spans go, if anywhere.
    pub traces: Option<TraceExport>,
}

/// OTLP over HTTP, with the standard variables' meaning: `OTEL_EXPORTER_OTLP_ENDPOINT`
/// is the collector's base URL (spans go to `<base>/v1/traces`) and
/// `OTEL_EXPORTER_OTLP_PROTOCOL` is `http/protobuf` (the default) or `http/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceExport {
    pub endpoint: String,
    pub json: bool,
}

impl LogSettings {
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let format = env.optional_with("LOG_FORMAT", LogFormat::Json, |v| match v {
            "json" => Ok(LogFormat::Json),
            "pretty" => Ok(LogFormat::Pretty),
            _ => Err(format!("{v:?} is not one of json, pretty")),
        });
        let filter = env.optional_with("RUST_LOG", "info".to_owned(), |v| {
            EnvFilter::try_new(v)
                .map(|_| v.to_owned())
                .map_err(|e| format!("is not a valid filter: {e}"))
        });
        let span_ends = env.optional_with("LOG_SPANS", false, |v| match v {
            "none" => Ok(false),
            "close" => Ok(true),
            _ => Err(format!("{v:?} is not one of none, close")),
        });
        let endpoint = env.optional_with("OTEL_EXPORTER_OTLP_ENDPOINT", None, |v| {
            url_with_scheme(v.trim_end_matches('/'), &["http", "https"]).map(Some)
        });
        let json = env.optional_with("OTEL_EXPORTER_OTLP_PROTOCOL", false, |v| match v {
            "http/protobuf" => Ok(false),
            "http/json" => Ok(true),
            _ => Err(format!("{v:?} is not one of http/protobuf, http/json")),
        });
        let json = json?;
        Some(Self {
            format: format?,
            filter: filter?,
            span_ends: span_ends?,
            traces: endpoint?.map(|endpoint| TraceExport { endpoint, json }),
        })
    }
}

/// The process's span export, to flush before it exits.
#[must_use = "dropping it skips the last spans' export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans that ended so far.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "spans could not be exported");
        }
    }

    /// Sends what is left and stops exporting.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber. Safe to call more than once (tests do): later calls
/// keep the first subscriber.
pub fn init(settings: &LogSettings, service: &'static str) -> Telemetry {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (spans, provider) = match settings.traces.as_ref().map(|t| exporter(t, service)) {
        Some(Ok(provider)) => {
            global::set_text_map_propagator(TraceContextPropagator::new());
            let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
            (Some(layer), Some(provider))
        }
        Some(Err(error)) => {
            eprintln!("{service}: spans are not exported: {error}");
            (None, None)
        }
        None => (None, None),
    };
    let _already_set = tracing_subscriber::registry()
        .with(filter)
        .with(log_lines(settings))
        .with(spans)
        .try_init();
    Telemetry { provider }
}

fn exporter(
    traces: &TraceExport,
    service: &'static str,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(if traces.json {
            Protocol::HttpJson
        } else {
            Protocol::HttpBinary
        })
        .with_endpoint(format!("{}/v1/traces", traces.endpoint))
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build())
}

fn log_lines<S>(settings: &LogSettings) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_span_events(if settings.span_ends {
            FmtSpan::CLOSE
        } else {
            FmtSpan::NONE
        })
        .with_writer(std::io::stderr);
    match settings.format {
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Pretty => layer.compact().boxed(),
    }
}

/// The current span's trace context as a `traceparent` value, to carry to the work it
/// causes elsewhere; `None` when spans are not exported.
pub fn traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut carrier));
    carrier.remove(TRACEPARENT)
}

/// Makes `span` a child of the span a `traceparent` value names, so work caused by a
/// request elsewhere joins its trace.
pub fn follow(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    let _ = span.set_parent(context);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<LogSettings, String> {
        let mut env = Env::from_pairs(pairs.iter().copied());
        let settings = LogSettings::from_env(&mut env);
        env.finish().map_err(|e| e.to_string())?;
        Ok(settings.expect("no problem reported"))
    }

    #[test]
    fn traces_are_off_unless_an_endpoint_is_set() {
        assert_eq!(settings(&[]).unwrap().traces, None);
        let on = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ])
        .unwrap();
        assert_eq!(
            on.traces,
            Some(TraceExport {
                endpoint: "http://collector:4318".to_owned(),
                json: true
            })
        );
    }

    #[test]
    fn a_bad_endpoint_or_protocol_is_named() {
        let error = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]).unwrap_err();
        assert!(error.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{error}");
        let error = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .unwrap_err();
        assert!(error.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{error}");
    }
}
