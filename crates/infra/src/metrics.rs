//! Prometheus metrics: the run families that the api and the worker both record, the
//! text both answer scrapes with, and the small listener a worker serves it on (the api
//! serves its own at `/metrics`).
//!
//! No label takes an unbounded value: modules are named by admins (a catalog that
//! changes by hand), statuses and reasons are the model's enums, routes are templates.
//! Ids, emails and parameters never become labels.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use sage_model::EndReason;
use tokio_util::sync::CancellationToken;

pub use prometheus_client::registry::Registry;

/// The content type of [`encode`]'s text (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry as scrape text.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, registry) {
        // Writing into a String cannot fail; a metric's own encoder could.
        tracing::error!(%error, "metrics could not be encoded");
    }
    text
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModuleLabel {
    module: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    module: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    module: String,
    status: &'static str,
    reason: &'static str,
}

/// 50 ms to about 20 minutes.
fn run_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.5, 12))
}

/// Executions from submission to end, counted where each step happens: the api counts
/// submissions and the ends it decides (cancelled before starting, rejected, expired),
/// the worker the starts and the rest. Summed over the processes, they are the fleet's.
#[derive(Clone)]
pub struct RunMetrics {
    submitted: Family<ModuleLabel, Counter>,
    started: Family<ModuleLabel, Counter>,
    ended: Family<EndLabels, Counter>,
    waited: Family<ModuleLabel, Histogram>,
    ran: Family<StatusLabels, Histogram>,
}

impl RunMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            submitted: Family::default(),
            started: Family::default(),
            ended: Family::default(),
            waited: Family::new_with_constructor(run_seconds),
            ran: Family::new_with_constructor(run_seconds),
        };
        registry.register(
            "sage_executions_submitted",
            "Executions accepted, queued or awaiting approval",
            metrics.submitted.clone(),
        );
        registry.register(
            "sage_executions_started",
            "Executions a worker claimed and started",
            metrics.started.clone(),
        );
        registry.register(
            "sage_executions_ended",
            "Executions that reached a terminal status, by status and reason (none for a success)",
            metrics.ended.clone(),
        );
        registry.register(
            "sage_execution_queue_seconds",
            "From submission to start",
            metrics.waited.clone(),
        );
        registry.register(
            "sage_execution_run_seconds",
            "From start to end, of runs that started",
            metrics.ran.clone(),
        );
        metrics
    }

    pub fn submitted(&self, module: &str) {
        self.submitted.get_or_create(&module_label(module)).inc();
    }

    /// A run started after waiting `waited` since its submission.
    pub fn started(&self, module: &str, waited: Duration) {
        let label = module_label(module);
        self.started.get_or_create(&label).inc();
        self.waited
            .get_or_create(&label)
            .observe(waited.as_secs_f64());
    }

    /// A run ended; `ran` is how long it ran, for one that started.
    pub fn ended(&self, module: &str, reason: EndReason, ran: Option<Duration>) {
        let status = reason.status().as_str();
        self.ended
            .get_or_create(&EndLabels {
                module: module.to_owned(),
                status,
                reason: reason.as_str().unwrap_or("none"),
            })
            .inc();
        if let Some(ran) = ran {
            self.ran
                .get_or_create(&StatusLabels {
                    module: module.to_owned(),
                    status,
                })
                .observe(ran.as_secs_f64());
        }
    }
}

fn module_label(module: &str) -> ModuleLabel {
    ModuleLabel {
        module: module.to_owned(),
    }
}

/// How long a scraper may take to send its request.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers `GET /metrics` on `listener` with the registry's text until `shutdown`;
/// any other path is 404. The worker's scrape endpoint: it serves nothing else.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of descriptors, most likely: pause rather than spin.
                    tracing::warn!(%error, "metrics listener cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let answer = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = scrape(&request, &registry);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), answer);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "metrics connection ended with an error");
            }
        });
    }
}

fn scrape(request: &Request<Incoming>, registry: &Registry) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if request.uri().path() == "/metrics" {
        (StatusCode::OK, CONTENT_TYPE, encode(registry))
    } else {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "only /metrics is served here\n".to_owned(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_counted_by_module_status_and_reason() {
        let mut registry = Registry::default();
        let runs = RunMetrics::register(&mut registry);
        runs.submitted("backup-db");
        runs.started("backup-db", Duration::from_millis(200));
        runs.ended(
            "backup-db",
            EndReason::Timeout,
            Some(Duration::from_secs(3)),
        );
        runs.ended(
            "backup-db",
            EndReason::Succeeded,
            Some(Duration::from_secs(1)),
        );
        let text = encode(&registry);
        for line in [
            r#"sage_executions_submitted_total{module="backup-db"} 1"#,
            r#"sage_executions_started_total{module="backup-db"} 1"#,
            r#"sage_executions_ended_total{module="backup-db",status="timed_out",reason="timeout"} 1"#,
            r#"sage_executions_ended_total{module="backup-db",status="succeeded",reason="none"} 1"#,
            r#"sage_execution_queue_seconds_count{module="backup-db"} 1"#,
            r#"sage_execution_run_seconds_sum{module="backup-db",status="timed_out"} 3.0"#,
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
