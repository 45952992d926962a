//! The scan dispatcher: every replica runs it; the store lets one at a time take each
//! running scan, releases the runs it has room for onto the outbox, and ends the scans
//! whose every run has ended.

use std::time::Duration;

use sage_store::Db;
use sage_store::scans::Retries;
use tokio_util::sync::CancellationToken;

/// How often running scans are looked at: a run's slot is given on within this.
const DISPATCH_EVERY: Duration = Duration::from_secs(1);

pub async fn dispatch_until_stopped(db: Db, retries: Retries, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(DISPATCH_EVERY) => {}
        }
        match db.dispatch_scans(retries).await {
            Ok(dispatched) => {
                if dispatched.released > 0 {
                    tracing::debug!(released = dispatched.released, "scan runs released");
                }
                for (throttled, again) in dispatched.retried {
                    tracing::info!(%throttled, %again, "throttled scan run to be run again");
                }
                for scan in dispatched.finished {
                    tracing::info!(%scan, "scan ended");
                }
            }
            Err(error) => {
                tracing::warn!(error = %sage_infra::error_text(&error), "scan dispatch failed");
            }
        }
    }
}
