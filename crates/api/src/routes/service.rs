//! Liveness and readiness.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

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

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when every check is `ok`, `degraded` otherwise.
    pub status: &'static str,
    /// `ok`, or the error text of the check that failed.
    pub checks: BTreeMap<&'static str, String>,
}

/// Every dependency answers: PostgreSQL, RabbitMQ, Redis and S3, checked concurrently.
#[utoipa::path(get, path = "/ready", tag = "service", responses(
    (status = 200, body = Readiness, description = "every check ok"),
    (status = 503, body = Readiness, description = "a dependency is down; its check holds the error")))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let (postgres, rabbitmq, redis, s3) = tokio::join!(
        sage_infra::probe(state.db.check()),
        state.broker.check(),
        sage_infra::redis::check(&state.redis),
        sage_infra::s3::check(&state.s3, &state.bucket),
    );
    let checks: BTreeMap<&'static str, String> = [
        ("postgres", postgres),
        ("rabbitmq", rabbitmq),
        ("redis", redis),
        ("s3", s3),
    ]
    .into_iter()
    .map(|(name, outcome)| (name, outcome.err().unwrap_or_else(|| "ok".to_owned())))
    .collect();
    let all_ok = checks.values().all(|v| v == "ok");
    for (name, error) in checks.iter().filter(|(_, v)| *v != "ok") {
        tracing::warn!(dependency = name, error = %error, "readiness check failed");
    }
    let body = Readiness {
        status: if all_ok { "ok" } else { "degraded" },
        checks,
    };
    if all_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
