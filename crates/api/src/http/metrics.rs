//! The api's metrics at `/metrics`: requests by route template, method and status with
//! their latency; the run families of [`RunMetrics`]; open log streams; webhook
//! deliveries; and the state of the queue and the outboxes, read from the database when
//! scraped (at most once per [`SAMPLE_EVERY`], however many scrapers ask).
//!
//! Every api replica reports the same database figures: aggregate them with `max`, not
//! `sum`. The counters are each process's own: `sum` them.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use sage_infra::metrics::{Registry, RunMetrics, encode};
use sage_store::Db;
use sage_store::executions::Execution;
use sage_store::outbox::Webhook;

/// How long the database figures answer scrapes before they are read again.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabel {
    webhook: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

/// 1 ms to about 4 s.
fn request_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.5, 10))
}

pub struct ApiMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pub runs: RunMetrics,
    streams_open: Gauge,
    webhook_failures: Family<WebhookLabel, Counter>,
    executions: Family<StatusLabel, Gauge>,
    jobs_unpublished: Gauge,
    outbox_lag: Gauge<f64, AtomicU64>,
    webhook_pending: Family<WebhookLabel, Gauge>,
    /// When the database figures were last read; the lock makes concurrent scrapes
    /// share one read.
    sampled: tokio::sync::Mutex<Option<Instant>>,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let runs = RunMetrics::register(&mut registry);
        let requests = Family::default();
        let latency = Family::new_with_constructor(request_seconds as fn() -> Histogram);
        let streams_open = Gauge::default();
        let webhook_failures = Family::default();
        let webhook_pending = Family::default();
        let executions = Family::default();
        let jobs_unpublished = Gauge::default();
        let outbox_lag = Gauge::default();
        registry.register(
            "sage_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "sage_http_request_seconds",
            "Time to answer an HTTP request (to its first byte, for a stream)",
            latency.clone(),
        );
        registry.register(
            "sage_log_streams_open",
            "Live log streams this process serves",
            streams_open.clone(),
        );
        registry.register(
            "sage_webhook_deliveries_failed",
            "Webhook deliveries the receiver refused or did not answer (each is retried)",
            webhook_failures.clone(),
        );
        registry.register(
            "sage_webhook_deliveries_pending",
            "Webhook deliveries waiting in their outbox",
            webhook_pending.clone(),
        );
        registry.register(
            "sage_executions_current",
            "Executions queued (the queue's depth), awaiting approval or running now",
            executions.clone(),
        );
        registry.register(
            "sage_jobs_unpublished",
            "Jobs written but not yet published to the queue",
            jobs_unpublished.clone(),
        );
        registry.register(
            "sage_outbox_lag_seconds",
            "How long the oldest unpublished job has waited for the relay",
            outbox_lag.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            runs,
            streams_open,
            webhook_failures,
            executions,
            jobs_unpublished,
            outbox_lag,
            webhook_pending,
            sampled: tokio::sync::Mutex::new(None),
        }
    }

    /// The scrape text, with the database figures read again when they are older than
    /// [`SAMPLE_EVERY`]. When the database does not answer, the last figures stand.
    pub async fn render(&self, db: &Db, streams_open: usize) -> String {
        self.streams_open
            .set(i64::try_from(streams_open).unwrap_or(i64::MAX));
        self.sample(db).await;
        encode(&self.registry)
    }

    async fn sample(&self, db: &Db) {
        let mut sampled = self.sampled.lock().await;
        if sampled.is_some_and(|at| at.elapsed() < SAMPLE_EVERY) {
            return;
        }
        let state = match db.queue_state().await {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(error = %sage_infra::error_text(&error), "metrics: the queue's state is not readable");
                return;
            }
        };
        for (status, count) in [
            ("queued", state.queued),
            ("awaiting_approval", state.awaiting_approval),
            ("running", state.running),
        ] {
            self.executions
                .get_or_create(&StatusLabel { status })
                .set(count);
        }
        self.jobs_unpublished.set(state.jobs_unpublished);
        self.outbox_lag.set(state.oldest_unpublished.as_secs_f64());
        for (webhook, count) in [
            (Webhook::Siem, state.siem_pending),
            (Webhook::Approvals, state.approval_notices_pending),
        ] {
            self.webhook_pending
                .get_or_create(&webhook_label(webhook))
                .set(count);
        }
        *sampled = Some(Instant::now());
    }

    /// Counts the end of a run this process just stored; nothing for one still going.
    /// Its module's name is read here, off the hot path of reading executions: ends
    /// decided by the api (cancels, rejections) are rare.
    pub async fn ended(&self, db: &Db, execution: &Execution) {
        let Some(reason) = execution.end else { return };
        let module = match db.module(execution.module_id).await {
            Ok(Some(module)) => module.name,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(error = %sage_infra::error_text(&error), "metrics: the run's module is not readable; its end is not counted");
                return;
            }
        };
        let ran = execution
            .started_at
            .zip(execution.finished_at)
            .and_then(|(started, finished)| (finished - started).to_std().ok());
        self.runs.ended(&module, reason, ran);
    }

    pub fn webhook_failed(&self, webhook: Webhook) {
        self.webhook_failures
            .get_or_create(&webhook_label(webhook))
            .inc();
    }

    fn request(&self, method: &Method, route: String, status: StatusCode, took: Duration) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.clone(),
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }
}

fn webhook_label(webhook: Webhook) -> WebhookLabel {
    WebhookLabel {
        webhook: match webhook {
            Webhook::Siem => "siem",
            Webhook::Approvals => "approvals",
        },
    }
}

/// A client may send any method name; only the ones the API knows become labels.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Counts every request under its route's template (`/api/v1/executions/{id}`), never
/// its path; requests that match no route share `unmatched`.
pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let metrics = request.app_data::<web::Data<ApiMetrics>>().cloned();
    let method = request.method().clone();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let outcome = next.call(request).await;
    if let Some(metrics) = metrics {
        let status = match &outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        metrics.request(&method, route, status, started.elapsed());
    }
    outcome
}
