//! What the api and the worker both need to reach the outside world: settings read from
//! the environment, telemetry, metrics, and thin wrappers that own the RabbitMQ, Redis and S3
//! client details. PostgreSQL lives in `sage-store`, Docker in the worker.

pub mod amqp;
pub mod config;
pub mod metrics;
pub mod redis;
pub mod s3;
pub mod secrets;
pub mod settings;
pub mod shutdown;
pub mod telemetry;

/// An error with its whole source chain: many clients' Display is terse ("dispatch
/// failure", "IO error") and only the chain says why.
pub fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How long a readiness probe waits for one dependency before calling it down.
pub const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a process starting waits for one dependency: longer than a probe, since a
/// first connection on a busy node (every process starting at once, a full test suite
/// on two cores) may take seconds, and giving up only means a restart.
pub const STARTUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs one readiness probe within [`CHECK_TIMEOUT`]; the error says what failed.
pub async fn probe<E: std::error::Error + 'static>(
    check: impl Future<Output = Result<(), E>>,
) -> Result<(), String> {
    probe_within(CHECK_TIMEOUT, check).await
}

/// Runs one check of a dependency within `limit`; the error says what failed.
pub async fn probe_within<E: std::error::Error + 'static>(
    limit: std::time::Duration,
    check: impl Future<Output = Result<(), E>>,
) -> Result<(), String> {
    match tokio::time::timeout(limit, check).await {
        Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
        Ok(result) => result.map_err(|e| error_text(&e)),
    }
}
