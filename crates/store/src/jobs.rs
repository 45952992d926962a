//! The job outbox: what the relay publishes to RabbitMQ, claimed fairly across users
//! within a window of runs in the broker, and the signals of new rows.

use std::time::Duration;

use sage_model::{EvidenceId, ExecutionId, JobMessage};
use uuid::Uuid;

use crate::{Db, StoreError};

impl Db {
    /// Opens a connection that hears of every new outbox row (a trigger signals
    /// [`JOB_CHANNEL`] when one commits).
    pub async fn job_signals(&self) -> Result<JobSignals, StoreError> {
        self.listen(JOB_CHANNEL).await.map(JobSignals)
    }

    /// Claims up to `limit` due jobs for publishing, oldest first.
    pub async fn claim_jobs(
        &self,
        limit: i64,
        lease: Duration,
        ahead: i64,
    ) -> Result<Vec<OutboxJob>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // One relay at a time decides, so two replicas never fill the window twice; the
        // lock is taken before the statements' snapshots, so the relay that waited for
        // it sees what the one before it claimed.
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&RELAY_LOCK])
            .await?;
        // A run published long ago that no worker started: its message was lost (dead-
        // lettered, or a broker's loss). It is queued again; a worker's claim takes a
        // run once, so a message that was only slow costs nothing.
        transaction
            .execute(
                "WITH stale AS (
                     UPDATE executions SET published_at = NULL
                     WHERE status = 'queued' AND published_at < now() - make_interval(secs => $1)
                     RETURNING id)
                 INSERT INTO job_outbox (execution_id)
                 SELECT id FROM stale s
                 WHERE NOT EXISTS (SELECT 1 FROM job_outbox o WHERE o.execution_id = s.id)",
                &[&REPUBLISH_AFTER.as_secs_f64()],
            )
            .await?;
        // Other jobs (evidence, imports) pass at once.
        let mut rows = transaction
            .query(
                "UPDATE job_outbox o SET next_attempt_at = now() + make_interval(secs => $2),
                                         attempts = o.attempts + 1
                 WHERE o.id IN (SELECT id FROM job_outbox
                                WHERE execution_id IS NULL AND next_attempt_at <= now()
                                ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
                 RETURNING o.id, o.execution_id, o.evidence_id, o.traceparent, o.account_import_id",
                &[&limit, &lease.as_secs_f64()],
            )
            .await?;
        // Runs: at most `ahead` in RabbitMQ (published and not started, or claimed on the
        // way there).
        let in_broker: i64 = transaction
            .query_one(
                "SELECT (SELECT count(*) FROM executions
                         WHERE status = 'queued' AND published_at IS NOT NULL)
                      + (SELECT count(*) FROM job_outbox
                         WHERE execution_id IS NOT NULL AND attempts > 0 AND next_attempt_at > now())",
                &[],
            )
            .await?
            .get(0);
        let room = (ahead - in_broker).min(limit);
        if room > 0 {
            // The next ones across users in turn: a run's turn is how many of its user's
            // runs are already running or in the broker, plus its place among that
            // user's waiting ones, so a user with nothing in flight goes first; oldest
            // first within a turn.
            rows.extend(
                transaction
                    .query(
                        "WITH busy AS (
                             SELECT requested_by, count(*) AS n FROM executions
                             WHERE status = 'running' OR (status = 'queued' AND published_at IS NOT NULL)
                             GROUP BY requested_by),
                         waiting AS (
                             SELECT o.id,
                                    coalesce(b.n, 0)
                                      + row_number() OVER (PARTITION BY e.requested_by ORDER BY o.id) AS turn
                             FROM job_outbox o JOIN executions e ON e.id = o.execution_id
                             LEFT JOIN busy b ON b.requested_by = e.requested_by
                             WHERE o.next_attempt_at <= now()),
                         due AS (
                             SELECT o.id FROM job_outbox o
                             JOIN (SELECT id FROM waiting ORDER BY turn, id LIMIT $1) chosen USING (id)
                             FOR UPDATE OF o SKIP LOCKED)
                         UPDATE job_outbox o SET next_attempt_at = now() + make_interval(secs => $2),
                                                 attempts = o.attempts + 1
                         FROM due WHERE o.id = due.id
                         RETURNING o.id, o.execution_id, o.evidence_id, o.traceparent, o.account_import_id",
                        &[&room, &lease.as_secs_f64()],
                    )
                    .await?,
            );
        }
        transaction.commit().await?;
        let mut jobs: Vec<OutboxJob> = rows
            .iter()
            .map(|r| {
                let ids: [Option<Uuid>; 3] = [r.get(1), r.get(2), r.get(4)];
                let message = match ids {
                    [Some(execution), ..] => JobMessage::RunV1 {
                        execution_id: ExecutionId::from(execution),
                    },
                    [None, Some(evidence), _] => JobMessage::EvidenceV1 {
                        evidence_id: EvidenceId::from(evidence),
                    },
                    [None, None, Some(import_id)] => JobMessage::AccountImportV1 { import_id },
                    [None, None, None] => return Err(StoreError::Corrupt("job without a target")),
                };
                Ok(OutboxJob {
                    id: r.get(0),
                    message,
                    traceparent: r.get(3),
                })
            })
            .collect::<Result<_, _>>()?;
        jobs.sort_unstable_by_key(|job| job.id);
        Ok(jobs)
    }

    /// Puts claimed jobs that could not be published back, due again after `retry_in`
    /// rather than after the whole claim lease.
    pub async fn release_jobs(
        &self,
        outbox_ids: &[i64],
        retry_in: Duration,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE job_outbox SET next_attempt_at = now() + make_interval(secs => $2)
                 WHERE id = ANY($1)",
                &[&outbox_ids, &retry_in.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// The broker confirmed the job: it leaves the outbox.
    pub async fn job_published(&self, outbox_id: i64) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // The run's row first, then its job's, as cancelling and ending a run lock them:
        // never the other way round, which could deadlock with them.
        transaction
            .execute(
                "SELECT 1 FROM executions
                 WHERE id = (SELECT execution_id FROM job_outbox WHERE id = $1) FOR UPDATE",
                &[&outbox_id],
            )
            .await?;
        transaction
            .execute(
                "WITH gone AS (DELETE FROM job_outbox WHERE id = $1 RETURNING execution_id)
                 UPDATE executions e SET published_at = now()
                 FROM gone WHERE e.id = gone.execution_id AND e.status = 'queued'",
                &[&outbox_id],
            )
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// How many jobs wait to be published (for tests and metrics).
    pub async fn pending_jobs(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT count(*) FROM job_outbox", &[])
            .await?
            .get(0))
    }
}

/// A job of the outbox, claimed for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxJob {
    pub id: i64,
    pub message: JobMessage,
    /// The trace context of the request that queued it.
    pub traceparent: Option<String>,
}

/// The PostgreSQL notification channel a trigger on `job_outbox` signals when rows
/// commit (migration 0017).
pub const JOB_CHANNEL: &str = "sage_job_outbox";

/// How long a run may sit published in the broker before it is taken for lost and
/// queued again.
const REPUBLISH_AFTER: Duration = Duration::from_secs(600);

/// The advisory lock under which one relay at a time claims runs for the broker.
const RELAY_LOCK: i64 = 0x7361_6765_5f72_656c;

/// Signals that jobs were written to the outbox.
pub struct JobSignals(crate::pool::Listening);

impl JobSignals {
    /// The next signal; `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<()> {
        self.0.payloads.recv().await.map(drop)
    }
}
