//! What the metrics read from the database at scrape time: how many runs wait, wait for
//! approval or run, and how far the outboxes are behind. Each figure is answered by an
//! index, so a scrape costs a few small scans.

use std::time::Duration;

use sage_model::ExecutionStatus;

use crate::{Db, StoreError};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueState {
    pub queued: i64,
    pub awaiting_approval: i64,
    pub running: i64,
    /// Jobs written but not yet published to the queue.
    pub jobs_unpublished: i64,
    /// How long the oldest of them has waited (zero when there is none).
    pub oldest_unpublished: Duration,
    pub siem_pending: i64,
    pub approval_notices_pending: i64,
}

impl Db {
    #[tracing::instrument(skip(self))]
    pub async fn queue_state(&self) -> Result<QueueState, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT
                   (SELECT count(*) FROM executions WHERE status = $1),
                   (SELECT count(*) FROM executions WHERE status = $2),
                   (SELECT count(*) FROM executions WHERE status = $3),
                   (SELECT count(*) FROM job_outbox),
                   (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
                    FROM job_outbox),
                   (SELECT count(*) FROM siem_outbox),
                   (SELECT count(*) FROM approval_outbox)",
            )
            .await?;
        let row = client
            .query_one(
                &statement,
                &[
                    &ExecutionStatus::Queued.as_str(),
                    &ExecutionStatus::AwaitingApproval.as_str(),
                    &ExecutionStatus::Running.as_str(),
                ],
            )
            .await?;
        let oldest: f64 = row.get(4);
        Ok(QueueState {
            queued: row.get(0),
            awaiting_approval: row.get(1),
            running: row.get(2),
            jobs_unpublished: row.get(3),
            oldest_unpublished: Duration::try_from_secs_f64(oldest).unwrap_or_default(),
            siem_pending: row.get(5),
            approval_notices_pending: row.get(6),
        })
    }
}
