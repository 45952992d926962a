//! The worker's side of an execution: claim it (queued → running, with a lease), keep
//! the lease alive, and store how it ended. Each transition is a compare-and-set
//! written with its audit event; terminal states never change.

use std::collections::HashMap;
use std::time::Duration;

use sage_model::catalog::module::ModuleDefinition;
use sage_model::catalog::script::{Interpreter, ScriptPath};
use sage_model::names::WorkerId;
use sage_model::tools::Tool;
use sage_model::{EndReason, ExecutionId, ExecutionStatus, ModuleId, StartFailure};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::catalog::{read_definition, script_ref};
use crate::{Db, StoreError, changed_one, requester_may_run};

/// Everything a worker needs to run a claimed execution.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    pub execution_id: ExecutionId,
    pub module_id: ModuleId,
    pub module_version: i32,
    /// Its module's name, for the metrics.
    pub module_name: String,
    /// From its submission to this claim.
    pub waited: Duration,
    /// Its module version and script, or why they no longer read back: the run then
    /// ends `bad_definition` rather than being retried forever.
    pub version: Result<RunVersion, StartFailure>,
    /// Its parameters as stored (secrets shown as `***`).
    pub params: Value,
    pub sealed_secrets: Option<Vec<u8>>,
    /// The tool it runs, when its module is a built-in tool's.
    pub tool: Option<Tool>,
}

/// A run that a sweep ended (declared lost, or its approval expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedRun {
    pub id: ExecutionId,
    pub module_name: String,
    /// How long it ran, for one that started.
    pub ran: Option<Duration>,
}

/// The module version and script a claimed run runs.
#[derive(Debug, Clone)]
pub struct RunVersion {
    pub definition: ModuleDefinition,
    pub script_path: ScriptPath,
    pub interpreter: Interpreter,
    /// Pinned at registration; the worker's copy must match it.
    pub script_sha256: String,
}

/// How a run ended, as the worker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd {
    pub reason: EndReason,
    /// Bytes printed in all, including what went past the output limit.
    pub output_bytes: u64,
}

/// The PostgreSQL notification channel that tells workers to stop an execution now
/// (cancelled, or declared lost); the payload is the execution id.
pub const STOP_CHANNEL: &str = "sage_execution_stop";

/// Queues a stop notification; PostgreSQL delivers it when the transaction commits.
pub(crate) async fn notify_stop(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&STOP_CHANNEL, &id.to_string()],
        )
        .await?;
    Ok(())
}

/// Deletes an execution's sealed secrets: it ended, nothing may open them again.
pub(crate) async fn forget_secrets(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "DELETE FROM execution_secrets WHERE execution_id = $1",
            &[&id],
        )
        .await?;
    Ok(())
}

/// Ends execution `id` at `step` with `reason`, in the caller's transaction, which
/// locked its row and checked its status: its secrets and its unpublished job go too.
pub(crate) async fn end_in(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    step: sage_model::Transition,
    reason: EndReason,
) -> Result<(), StoreError> {
    let updated = transaction
        .execute(
            "UPDATE executions SET status = $2, reason = $3, finished_at = now(),
                    lease_expires_at = NULL, approval_expires_at = NULL
             WHERE id = $1 AND status = $4",
            &[
                &id,
                &step.to().as_str(),
                &reason.as_str(),
                &step.from().as_str(),
            ],
        )
        .await?;
    changed_one(updated, "ended execution")?;
    forget_secrets(transaction, id).await?;
    transaction
        .execute("DELETE FROM job_outbox WHERE execution_id = $1", &[&id])
        .await?;
    Ok(())
}

/// Ends a run whose requester may no longer run its module (`run_revoked`), at `step`
/// out of where it waited, with its audit event; its secrets and job go with it.
pub(crate) async fn end_revoked(
    transaction: &deadpool_postgres::Transaction<'_>,
    key: &crate::audit::AuditKey,
    id: Uuid,
    step: sage_model::Transition,
    context: &AuditContext,
) -> Result<serde_json::Value, StoreError> {
    let reason = EndReason::RunRevoked;
    end_in(transaction, id, step, reason).await?;
    let change = Change::execution_step(
        "execution.revoke",
        id,
        step,
        json!({"reason": reason.as_str()}),
    );
    append(transaction, key, context, &change).await?;
    Ok(change.after.unwrap_or_default())
}

/// Stop notifications, from a dedicated connection that LISTENs on [`STOP_CHANNEL`].
/// `next` returns `None` once that connection is gone: the caller reconnects, and
/// checks what it may have missed meanwhile.
pub struct StopRequests(crate::pool::Listening);

impl StopRequests {
    pub async fn next(&mut self) -> Option<ExecutionId> {
        loop {
            let payload = self.0.payloads.recv().await?;
            match payload.parse() {
                Ok(id) => return Some(id),
                Err(_) => tracing::warn!(payload, "a stop request names no execution"),
            }
        }
    }
}

/// Changes a worker makes are audited as done by it.
pub(crate) fn worker_context(worker_id: &WorkerId) -> AuditContext {
    AuditContext {
        actor: format!("worker:{worker_id}"),
        ..AuditContext::default()
    }
}

impl Db {
    /// queued → running for this worker; `None` when the execution is not queued any
    /// more (claimed by another worker, finished, cancelled): the job is then skipped.
    #[tracing::instrument(skip(self, lease), fields(execution_id = %execution_id))]
    pub async fn claim_execution(
        &self,
        execution_id: ExecutionId,
        worker_id: &WorkerId,
        lease: Duration,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        let id = execution_id.as_uuid();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let may_run: Option<bool> = transaction
            .query_opt(
                concat!(
                    "SELECT ",
                    requester_may_run!(),
                    " FROM executions e WHERE e.id = $1 AND e.status = $2 FOR UPDATE"
                ),
                &[&id, &ExecutionStatus::Queued.as_str()],
            )
            .await?
            .map(|row| row.get(0));
        match may_run {
            None => return Ok(None),
            Some(false) => {
                let revoked = EndReason::RunRevoked;
                let step = ExecutionStatus::Queued.transition(revoked.status())?;
                end_revoked(
                    &transaction,
                    &self.audit_key,
                    id,
                    step,
                    &worker_context(worker_id),
                )
                .await?;
                transaction.commit().await?;
                return Ok(None);
            }
            Some(true) => {}
        }
        let step = ExecutionStatus::Queued.transition(ExecutionStatus::Running)?;
        let claimed = transaction
            .query_opt(
                "UPDATE executions SET status = $4, worker_id = $2, started_at = now(),
                        lease_expires_at = now() + make_interval(secs => $3)
                 WHERE id = $1 AND status = $5
                 RETURNING module_id, module_version, params,
                           EXTRACT(EPOCH FROM started_at - created_at)::float8",
                &[
                    &id,
                    &worker_id.as_str(),
                    &lease.as_secs_f64(),
                    &step.to().as_str(),
                    &step.from().as_str(),
                ],
            )
            .await?;
        let Some(row) = claimed else {
            return Ok(None);
        };
        let (module_id, module_version) = (ModuleId::from(row.get::<_, Uuid>(0)), row.get(1));
        let params: Value = row.get(2);
        let waited = Duration::try_from_secs_f64(row.get(3)).unwrap_or_default();
        let details = transaction
            .query_one(
                "SELECT v.definition, s.path, s.interpreter, s.sha256,
                        (SELECT sealed FROM execution_secrets WHERE execution_id = $1),
                        (SELECT name FROM modules WHERE id = $2),
                        (SELECT name FROM tools WHERE module_id = $2)
                 FROM module_versions v JOIN scripts s ON s.id = v.script_id
                 WHERE v.module_id = $2 AND v.version = $3",
                &[&id, &module_id.as_uuid(), &module_version],
            )
            .await?;
        let change = Change::execution_step(
            "execution.start",
            id,
            step,
            json!({"worker_id": worker_id.as_str()}),
        );
        append(
            &transaction,
            &self.audit_key,
            &worker_context(worker_id),
            &change,
        )
        .await?;
        transaction.commit().await?;
        let version = read_definition(details.get(0)).and_then(|definition| {
            let (script_path, interpreter) = script_ref(details.get(1), details.get(2))?;
            Ok(RunVersion {
                definition,
                script_path,
                interpreter,
                script_sha256: details.get(3),
            })
        });
        Ok(Some(ClaimedRun {
            execution_id,
            module_id,
            module_version,
            module_name: details.get(5),
            waited,
            version: version.map_err(|_| StartFailure::BadDefinition),
            params,
            sealed_secrets: details.get(4),
            tool: details
                .get::<_, Option<&str>>(6)
                .map(|name| name.parse())
                .transpose()
                .map_err(|_| StoreError::Corrupt("a tool of an unknown name"))?,
        }))
    }

    /// Extends the lease of a running execution; false when it is not ours any more.
    pub async fn renew_lease(
        &self,
        id: ExecutionId,
        worker_id: &WorkerId,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE executions SET lease_expires_at = now() + make_interval(secs => $3)
                 WHERE id = $1 AND worker_id = $2 AND status = $4",
                &[
                    &id.as_uuid(),
                    &worker_id.as_str(),
                    &lease.as_secs_f64(),
                    &ExecutionStatus::Running.as_str(),
                ],
            )
            .await?;
        Ok(updated == 1)
    }

    /// running → terminal, deleting the sealed secrets in the same transaction; false
    /// when the execution was no longer running for this worker.
    #[tracing::instrument(skip(self, end), fields(execution_id = %execution_id))]
    pub async fn finish_execution(
        &self,
        execution_id: ExecutionId,
        worker_id: &WorkerId,
        end: &RunEnd,
    ) -> Result<bool, StoreError> {
        let id = execution_id.as_uuid();
        let step = ExecutionStatus::Running.transition(end.reason.status())?;
        let (reason, exit_code) = (end.reason.as_str(), end.reason.exit_code());
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let updated = transaction
            .execute(
                "UPDATE executions SET status = $3, reason = $4, exit_code = $5, output_bytes = $6,
                        truncated = $7, finished_at = now(), lease_expires_at = NULL
                 WHERE id = $1 AND worker_id = $2 AND status = $8",
                &[
                    &id,
                    &worker_id.as_str(),
                    &step.to().as_str(),
                    &reason,
                    &exit_code,
                    &i64::try_from(end.output_bytes).unwrap_or(i64::MAX),
                    &(end.reason == EndReason::OutputLimit),
                    &step.from().as_str(),
                ],
            )
            .await?;
        forget_secrets(&transaction, id).await?;
        if updated == 1 {
            let change = Change::execution_step(
                "execution.finish",
                id,
                step,
                json!({"reason": reason, "exit_code": exit_code}),
            );
            append(
                &transaction,
                &self.audit_key,
                &worker_context(worker_id),
                &change,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(updated == 1)
    }
}

impl Db {
    /// Opens a connection listening for stop requests.
    pub async fn stop_requests(&self) -> Result<StopRequests, StoreError> {
        self.listen(STOP_CHANNEL).await.map(StopRequests)
    }

    /// The status of each of these executions (absent ids are left out).
    pub async fn statuses(
        &self,
        ids: &[ExecutionId],
    ) -> Result<HashMap<ExecutionId, ExecutionStatus>, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(ExecutionId::as_uuid).collect();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, status FROM executions WHERE id = ANY($1)",
                &[&ids],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.get(1);
                status
                    .parse()
                    .map(|status| (ExecutionId::from(row.get::<_, Uuid>(0)), status))
                    .map_err(|_| StoreError::Corrupt("execution status"))
            })
            .collect()
    }

    /// Declares `lost` (reason `worker_lost`) every running execution whose lease
    /// expired: its worker died or lost the database. Safe to run from every worker at
    /// once (rows are locked, skipped if taken). Returns the runs it declared lost.
    #[tracing::instrument(skip(self))]
    pub async fn reap_expired_leases(
        &self,
        reaper: &WorkerId,
    ) -> Result<Vec<EndedRun>, StoreError> {
        let reason = EndReason::WorkerLost;
        let step = ExecutionStatus::Running.transition(reason.status())?;
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "WITH expired AS (
                     SELECT id FROM executions
                     WHERE status = $1 AND lease_expires_at < now()
                     ORDER BY lease_expires_at
                     LIMIT 100
                     FOR UPDATE SKIP LOCKED)
                 UPDATE executions e SET status = $2, reason = $3,
                        finished_at = now(), lease_expires_at = NULL
                 FROM expired WHERE e.id = expired.id
                 RETURNING e.id, e.worker_id, (SELECT name FROM modules m WHERE m.id = e.module_id),
                           EXTRACT(EPOCH FROM e.finished_at - e.started_at)::float8",
                &[&step.from().as_str(), &step.to().as_str(), &reason.as_str()],
            )
            .await?;
        let mut lost = Vec::with_capacity(rows.len());
        for row in rows {
            let id: Uuid = row.get(0);
            let worker_id: Option<String> = row.get(1);
            forget_secrets(&transaction, id).await?;
            notify_stop(&transaction, id).await?;
            let change = Change {
                action: "execution.lost",
                target_type: "execution",
                target_id: id.to_string(),
                before: Some(json!({"status": step.from(), "worker_id": worker_id})),
                after: Some(json!({"status": step.to(), "reason": reason.as_str()})),
            };
            append(
                &transaction,
                &self.audit_key,
                &worker_context(reaper),
                &change,
            )
            .await?;
            lost.push(EndedRun {
                id: ExecutionId::from(id),
                module_name: row.get(2),
                ran: row
                    .get::<_, Option<f64>>(3)
                    .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok()),
            });
        }
        transaction.commit().await?;
        Ok(lost)
    }
}
