//! Liveness and readiness.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ready::Checks;
use crate::identity::caller::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, body = Health)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Prometheus metrics of this process (OpenMetrics text), served on API_METRICS_BIND
/// only, never on the API's port: no label holds an id, an email or a parameter, yet
/// the queue's depth and the webhooks' failures are nobody else's business.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let text = state
        .metrics
        .render(&state.db, state.live.slots.open())
        .await;
    HttpResponse::Ok()
        .content_type(sage_infra::metrics::CONTENT_TYPE)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(text)
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when every check is `ok`, `degraded` otherwise.
    pub status: &'static str,
    /// `ok` or `failed` per dependency; an admin sees the error text instead of `failed`.
    pub checks: BTreeMap<&'static str, String>,
}

async fn check(state: &AppState) -> Checks {
    let (postgres, rabbitmq, redis, s3) = tokio::join!(
        sage_infra::probe(state.db.check()),
        state.broker.check(),
        sage_infra::redis::check(&state.redis),
        sage_infra::s3::check(&state.artifacts.s3, &state.artifacts.bucket),
    );
    let checks: Checks = [
        ("postgres", postgres),
        ("rabbitmq", rabbitmq),
        ("redis", redis),
        ("s3", s3),
    ]
    .into_iter()
    .map(|(name, outcome)| (name, outcome.err()))
    .collect();
    for (name, error) in &checks {
        if let Some(error) = error {
            tracing::warn!(dependency = name, error = %error, "readiness check failed");
        }
    }
    checks
}

/// Every dependency answers: PostgreSQL, RabbitMQ, Redis and S3, checked concurrently at
/// most once every two seconds.
#[utoipa::path(get, path = "/ready", tag = "service", responses(
    (status = 200, body = Readiness, description = "every check ok"),
    (status = 503, body = Readiness, description = "a dependency is down; an admin sees its error text")))]
#[get("/ready")]
pub async fn ready(caller: Option<Caller>, state: web::Data<AppState>) -> HttpResponse {
    let checks = state.readiness.checks(|| check(&state)).await;
    // Error texts name hosts and ports: only an admin reads them.
    let detailed = caller.as_ref().is_some_and(Caller::is_admin);
    let all_ok = checks.values().all(Option::is_none);
    let body = Readiness {
        status: if all_ok { "ok" } else { "degraded" },
        checks: checks
            .iter()
            .map(|(name, error)| {
                let state = match error {
                    None => "ok".to_owned(),
                    Some(error) if detailed => error.clone(),
                    Some(_) => "failed".to_owned(),
                };
                (*name, state)
            })
            .collect(),
    };
    if all_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
