//! Runs in flight: how many one user and one module may have at once (checked in the
//! submission's transaction), and cancelling many runs in one request.

use sage_model::{EndReason, ExecutionStatus, ModuleId, UserId};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::executions::NewExecution;
use crate::{Db, StoreError};

impl Db {
    /// Cancels every run that matches `filter` and has not ended, 1,000 per transaction,
    /// each batch one `execution.cancel_many` audit event naming its runs; the workers
    /// of running ones are told to stop at each commit.
    #[tracing::instrument(skip(self, context))]
    pub async fn cancel_many(
        &self,
        filter: &CancelFilter,
        context: &AuditContext,
    ) -> Result<CancelledMany, StoreError> {
        const BATCH: i64 = 1000;
        let statuses: Vec<&str> = filter
            .statuses
            .iter()
            .filter(|s| s.transition(EndReason::CancelledBy.status()).is_ok())
            .map(|s| s.as_str())
            .collect();
        let module = filter.module.map(|m| m.as_uuid());
        let (user, email) = match &filter.requested_by {
            Some(Requester::User(id)) => (Some(id.as_uuid()), None),
            Some(Requester::Email(email)) => (None, Some(email.as_str())),
            None => (None, None),
        };
        let mut done = CancelledMany::default();
        loop {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            let rows = transaction
                .query(
                    "WITH chosen AS (
                         SELECT id, status FROM executions
                         WHERE status = ANY($1)
                           AND ($2::uuid IS NULL OR module_id = $2)
                           AND ($3::uuid IS NULL OR requested_by = $3)
                           AND ($6::text IS NULL OR requested_by IN (SELECT id FROM users WHERE email = $6))
                         ORDER BY id LIMIT $4 FOR UPDATE),
                     ended AS (
                         UPDATE executions e SET status = 'cancelled', reason = $5, finished_at = now(),
                                lease_expires_at = NULL, approval_expires_at = NULL
                         FROM chosen WHERE e.id = chosen.id
                         RETURNING e.id, chosen.status AS was),
                     secrets AS (DELETE FROM execution_secrets s USING ended WHERE s.execution_id = ended.id),
                     jobs AS (DELETE FROM job_outbox o USING ended WHERE o.execution_id = ended.id)
                     SELECT id, was FROM ended",
                    &[&statuses, &module, &user, &BATCH, &EndReason::CancelledBy.as_str(), &email],
                )
                .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
            let running: Vec<String> = rows
                .iter()
                .filter(|r| r.get::<_, &str>(1) == ExecutionStatus::Running.as_str())
                .map(|r| r.get::<_, Uuid>(0).to_string())
                .collect();
            transaction
                .execute(
                    "SELECT pg_notify($1, id) FROM unnest($2::text[]) AS id",
                    &[&crate::runs::STOP_CHANNEL, &running],
                )
                .await?;
            let change = Change {
                action: "execution.cancel_many",
                target_type: "execution",
                target_id: ids.len().to_string(),
                before: None,
                after: Some(json!({
                    "reason": EndReason::CancelledBy.as_str(),
                    "filter": {"module_id": module, "requested_by": user, "email": email, "statuses": statuses},
                    "execution_ids": ids,
                    "running": running.len(),
                })),
            };
            append(&transaction, &self.audit_key, context, &change).await?;
            transaction.commit().await?;
            done.cancelled += ids.len();
            done.running += running.len();
            done.batches += 1;
            if i64::try_from(ids.len()).unwrap_or(BATCH) < BATCH {
                return Ok(done);
            }
        }
    }
}

/// Which runs a cancellation of many takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelFilter {
    pub module: Option<ModuleId>,
    pub requested_by: Option<Requester>,
    /// Of those not ended: `queued`, `awaiting_approval`, `running`.
    pub statuses: Vec<ExecutionStatus>,
}

/// Whose runs: one user, or (an admin's filter) everyone signed in with an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    User(UserId),
    Email(String),
}

/// What a cancellation of many did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CancelledMany {
    pub cancelled: usize,
    /// Of them, running: their workers were told to stop.
    pub running: usize,
    /// Transactions, each one audit event.
    pub batches: usize,
}

/// How many runs may be in flight (queued or running) at once, outside scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlightLimits {
    pub per_user: i64,
    pub per_module: i64,
}

impl InFlightLimits {
    /// No limit (tests of other things, and the store's own tests).
    pub const NONE: Self = Self {
        per_user: i64::MAX,
        per_module: i64::MAX,
    };

    /// Counts the runs in flight of `new`'s user and module under their locks (held to
    /// the end of the transaction, so two submissions never both take the last place),
    /// and refuses one past a limit.
    pub(crate) async fn check(
        self,
        transaction: &deadpool_postgres::Transaction<'_>,
        new: &NewExecution,
    ) -> Result<(), StoreError> {
        let (module, user) = (new.module_id.as_uuid(), new.requested_by.as_uuid());
        // Module first, then user, always: two submissions never wait on each other's.
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('sage-in-flight-module:' || $1, 0)),
                        pg_advisory_xact_lock(hashtextextended('sage-in-flight-user:' || $2, 0))",
                &[&module.to_string(), &user.to_string()],
            )
            .await?;
        let row = transaction
            .query_one(
                "SELECT (SELECT count(*) FROM executions
                         WHERE requested_by = $2 AND status IN ('queued', 'running') AND scan_id IS NULL),
                        (SELECT count(*) FROM executions
                         WHERE module_id = $1 AND status IN ('queued', 'running') AND scan_id IS NULL)",
                &[&module, &user],
            )
            .await?;
        let (by_user, by_module): (i64, i64) = (row.get(0), row.get(1));
        if by_user >= self.per_user {
            return Err(StoreError::OverLimit(OverLimit {
                limit: InFlightLimit::PerUser,
                max: self.per_user,
            }));
        }
        if by_module >= self.per_module {
            return Err(StoreError::OverLimit(OverLimit {
                limit: InFlightLimit::PerModule,
                max: self.per_module,
            }));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlightLimit {
    PerUser,
    PerModule,
}

/// The limit a submission would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} runs in flight {}", .max, match .limit { InFlightLimit::PerUser => "by one user", InFlightLimit::PerModule => "of one module" })]
pub struct OverLimit {
    pub limit: InFlightLimit,
    pub max: i64,
}
