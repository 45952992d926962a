//! A request id on every request, every response and every log line of the request:
//! echoed when the client sent a sane one, generated otherwise.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served, for error bodies and audit rows.
pub fn current() -> String {
    CURRENT
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "none".to_owned())
}

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Accepts client ids of 1..=128 visible ASCII characters; anything else could forge
/// log lines or bloat them, so it is replaced.
fn accept(value: Option<&HeaderValue>) -> Option<String> {
    let text = value?.to_str().ok()?;
    let ok = (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| text.to_owned())
}

pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id =
        accept(request.headers().get(&HEADER)).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    // Exported spans are named by the route's template, so that a trace viewer groups
    // requests as the metrics do (no ids in names).
    let route = request.match_pattern();
    let span = tracing::info_span!(
        "http",
        request_id = %id,
        method = %request.method(),
        path = %request.path(),
        otel.name = %format!("{} {}", request.method(), route.as_deref().unwrap_or("(no route)")),
        otel.kind = "server",
    );
    let started = Instant::now();
    let outcome = CURRENT
        .scope(id.clone(), next.call(request))
        .instrument(span.clone())
        .await;
    let mut response = outcome?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request served"
        );
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        assert_eq!(
            accept(Some(&HeaderValue::from_static("abc-123"))),
            Some("abc-123".into())
        );
        assert_eq!(accept(Some(&HeaderValue::from_static("has space"))), None);
        assert_eq!(accept(Some(&HeaderValue::from_static(""))), None);
        let long = "x".repeat(129);
        assert_eq!(accept(Some(&HeaderValue::from_str(&long).unwrap())), None);
        assert_eq!(accept(None), None);
    }
}
