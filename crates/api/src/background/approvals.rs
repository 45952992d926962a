//! The approval expiry sweep: every replica runs it; the store makes concurrent sweeps
//! skip each other's rows, so each expired run ends (and is audited) once. Risk
//! acceptances past their expiry end in the same sweep, and their findings fail again.

use std::sync::Arc;
use std::time::Duration;

use sage_model::EndReason;

use sage_store::Db;
use sage_store::audit::AuditContext;
use tokio_util::sync::CancellationToken;

use crate::http::metrics::ApiMetrics;

/// How often waiting runs are checked against their expiry.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub async fn expire_until_stopped(db: Db, metrics: Arc<ApiMetrics>, shutdown: CancellationToken) {
    let sweeper = AuditContext::system();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        match db.expire_approvals(&sweeper).await {
            Ok(expired) if !expired.is_empty() => {
                tracing::info!(count = expired.len(), "runs ended: approval expired");
                for run in &expired {
                    let reason = EndReason::ApprovalExpired;
                    metrics.runs.ended(&run.module_name, reason, None);
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %sage_infra::error_text(&error), "approval expiry sweep failed");
            }
        }
        match db.expire_acceptances(&sweeper).await {
            Ok(expired) if !expired.is_empty() => {
                tracing::info!(count = expired.len(), "risk acceptances ended: expired");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %sage_infra::error_text(&error), "risk acceptance expiry sweep failed");
            }
        }
    }
}
