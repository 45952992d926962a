//! Executions: submission (with sealed secrets and the job outbox row in the same
//! transaction), cancellation and reads filtered by what the caller may see. The job
//! outbox is `jobs`; limits of runs in flight and cancelling many, `in_flight`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sage_model::{EndReason, ExecutionId, ExecutionStatus, ModuleId, UserId};
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::approval_notices::{Notice, queue_notice};
use crate::audit::{AuditContext, Change, append};
use crate::conditions::Conditions;
use crate::runs::{end_in, notify_stop};
use crate::{Db, StoreError};

pub use crate::in_flight::{
    CancelFilter, CancelledMany, InFlightLimit, InFlightLimits, OverLimit, Requester,
};
pub use crate::jobs::{JOB_CHANNEL, JobSignals, OutboxJob};

/// One approver's decision on a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub approver: String,
    pub decision: String,
    pub comment: String,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub id: ExecutionId,
    pub module_id: ModuleId,
    pub module_version: i32,
    /// The requester's email.
    pub requested_by: String,
    pub requested_by_id: UserId,
    pub params: Value,
    pub status: ExecutionStatus,
    /// How it ended; `None` while it has not.
    pub end: Option<EndReason>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub output_bytes: i64,
    pub truncated: bool,
    /// Approvals its version needed (0: none).
    pub approvals_required: i32,
    /// Until when it may wait for them; set only while it waits.
    pub approval_expires_at: Option<DateTime<Utc>>,
    /// The decisions on it so far, oldest first.
    pub approvals: Vec<Approval>,
    /// When retention removed its logs, artifacts and findings.
    pub purged_at: Option<DateTime<Utc>>,
}

/// The select list every execution read uses, in the order `from_row` expects.
macro_rules! execution_select {
    () => {
        "SELECT e.id, e.module_id, e.module_version, u.email, e.requested_by, e.params, e.status,
                e.reason, e.exit_code, e.created_at, e.started_at, e.finished_at, e.output_bytes,
                e.truncated, e.approvals_required, e.approval_expires_at,
                d.approvers, d.decisions, d.comments, d.decided_at, e.purged_at
         FROM executions e JOIN users u ON u.id = e.requested_by
         LEFT JOIN LATERAL (
             SELECT array_agg(au.email ORDER BY a.decided_at, au.email) AS approvers,
                    array_agg(a.decision ORDER BY a.decided_at, au.email) AS decisions,
                    array_agg(a.comment ORDER BY a.decided_at, au.email) AS comments,
                    array_agg(a.decided_at ORDER BY a.decided_at, au.email) AS decided_at
             FROM execution_approvals a JOIN users au ON au.id = a.approver
             -- Only a run that needed approvals has decisions: the others skip the scan.
             WHERE a.execution_id = e.id AND e.approvals_required > 0) d ON true "
    };
}

impl Execution {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let status: ExecutionStatus = row
            .get::<_, String>(6)
            .parse()
            .map_err(|_| StoreError::Corrupt("execution status"))?;
        let end =
            EndReason::from_stored(status, row.get(7), row.get(8)).unwrap_or_else(|unknown| {
                // A reason this build does not know (a newer worker wrote it during a rolling
                // deploy): the status stands, and one row does not fail a whole listing.
                tracing::error!(execution_id = %row.get::<_, Uuid>(0), %unknown, "unknown end");
                None
            });
        Ok(Self {
            id: ExecutionId::from(row.get::<_, Uuid>(0)),
            module_id: ModuleId::from(row.get::<_, Uuid>(1)),
            module_version: row.get(2),
            requested_by: row.get(3),
            requested_by_id: UserId::from(row.get::<_, Uuid>(4)),
            params: row.get(5),
            status,
            end,
            created_at: row.get(9),
            started_at: row.get(10),
            finished_at: row.get(11),
            output_bytes: row.get(12),
            truncated: row.get(13),
            approvals_required: row.get(14),
            approval_expires_at: row.get(15),
            approvals: approvals_of(row),
            purged_at: row.get(20),
        })
    }
}

/// The decisions `execution_select!` gathers, one array per column (none without any).
fn approvals_of(row: &Row) -> Vec<Approval> {
    let approvers: Vec<String> = row.get::<_, Option<_>>(16).unwrap_or_default();
    let decisions: Vec<String> = row.get::<_, Option<_>>(17).unwrap_or_default();
    let comments: Vec<String> = row.get::<_, Option<_>>(18).unwrap_or_default();
    let decided_at: Vec<DateTime<Utc>> = row.get::<_, Option<_>>(19).unwrap_or_default();
    approvers
        .into_iter()
        .zip(decisions)
        .zip(comments)
        .zip(decided_at)
        .map(|(((approver, decision), comment), decided_at)| Approval {
            approver,
            decision,
            comment,
            decided_at,
        })
        .collect()
}

/// An execution as the transaction that just changed it sees it.
pub(crate) async fn read_in(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
) -> Result<Execution, StoreError> {
    let row = transaction
        .query_one(concat!(execution_select!(), "WHERE e.id = $1"), &[&id])
        .await?;
    Execution::from_row(&row)
}

/// A validated submission. `params` already shows secrets as `***`; their values are
/// only in `sealed_secrets`.
#[derive(Debug, Clone)]
pub struct NewExecution {
    /// Chosen by the caller, because sealed secrets are bound to it.
    pub id: ExecutionId,
    pub module_id: ModuleId,
    pub module_version: i32,
    pub requested_by: UserId,
    pub params: Value,
    pub sealed_secrets: Option<Vec<u8>>,
    /// Approvals needed before it is queued (0: queued at once).
    pub approvals_required: u32,
    /// How long it may wait for them before it ends `rejected` (`approval_expired`).
    pub approval_ttl: Duration,
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    /// Now cancelled, as stored.
    Cancelled(Box<Execution>),
    /// The execution had already ended this way; nothing changed.
    AlreadyEnded(ExecutionStatus),
}

/// Who is asking for a list: admins see everything, others their own runs and the
/// runs of modules they may view.
#[derive(Debug, Clone)]
pub enum Viewer {
    Everything,
    User {
        id: UserId,
        /// Verified only: an unverified email matches no assignment.
        email: Option<String>,
        groups: Vec<String>,
    },
}

impl Viewer {
    /// The condition on the execution aliased `e` that this viewer may see it (their
    /// own, or of a module they may view); `None` when they see every one. The one
    /// place this rule is written in SQL.
    pub(crate) fn sees_execution(&self, conditions: &mut Conditions, e: &str) -> Option<String> {
        let Self::User { id, email, groups } = self else {
            return None;
        };
        let (id, email, groups) = (
            conditions.bind(id.as_uuid()),
            conditions.bind(email.clone()),
            conditions.bind(groups.clone()),
        );
        Some(format!(
            "({e}.requested_by = {id}
              OR EXISTS (SELECT 1 FROM module_assignments a
                         WHERE a.module_id = {e}.module_id AND a.can_view
                           AND ((a.principal_kind = 'user' AND a.principal = {email})
                             OR (a.principal_kind = 'group' AND a.principal = ANY({groups})))))"
        ))
    }
}

#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub module_id: Option<ModuleId>,
    pub status: Option<ExecutionStatus>,
    pub requested_by: Option<String>,
    /// Submitted at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Submitted before this time.
    pub until: Option<DateTime<Utc>>,
    /// Continue after this (created_at, id), newest first.
    pub after: Option<(DateTime<Utc>, ExecutionId)>,
    pub limit: i64,
}

impl Db {
    /// Stores the execution, its sealed secrets and (unless it waits for approval) its
    /// job in one transaction: a submission is never half-recorded.
    #[tracing::instrument(skip_all, fields(module_id = %new.module_id))]
    pub async fn submit_execution(
        &self,
        new: &NewExecution,
        limits: InFlightLimits,
        context: &AuditContext,
    ) -> Result<Execution, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        if new.approvals_required == 0 {
            limits.check(&transaction, new).await?;
        }
        insert_execution(&transaction, &self.audit_key, new, context, None).await?;
        let execution = read_in(&transaction, new.id.as_uuid()).await?;
        transaction.commit().await?;
        Ok(execution)
    }

    /// Ends an execution that has not ended yet as `cancelled` ([`EndReason::CancelledBy`]),
    /// with its audit event. A running one's worker is told at commit, through
    /// [`STOP_CHANNEL`], and kills its container.
    #[tracing::instrument(skip(self, context))]
    pub async fn cancel_execution(
        &self,
        id: ExecutionId,
        context: &AuditContext,
    ) -> Result<CancelOutcome, StoreError> {
        let id = id.as_uuid();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let current: String = transaction
            .query_one(
                "SELECT status FROM executions WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?
            .get(0);
        let was: ExecutionStatus = current
            .parse()
            .map_err(|_| StoreError::Corrupt("execution status"))?;
        let reason = EndReason::CancelledBy;
        let Ok(step) = was.transition(reason.status()) else {
            return Ok(CancelOutcome::AlreadyEnded(was));
        };
        end_in(&transaction, id, step, reason).await?;
        if was == ExecutionStatus::Running {
            notify_stop(&transaction, id).await?;
        }
        let change = Change::execution_step(
            "execution.cancel",
            id,
            step,
            json!({"reason": reason.as_str()}),
        );
        append(&transaction, &self.audit_key, context, &change).await?;
        let execution = read_in(&transaction, id).await?;
        transaction.commit().await?;
        Ok(CancelOutcome::Cancelled(Box::new(execution)))
    }

    #[tracing::instrument(skip(self))]
    pub async fn execution(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(concat!(execution_select!(), "WHERE e.id = $1"))
            .await?;
        client
            .query_opt(&statement, &[&id.as_uuid()])
            .await?
            .as_ref()
            .map(Execution::from_row)
            .transpose()
    }

    /// Which of these executions still await approval; the others were decided on,
    /// ended or are gone.
    pub async fn still_awaiting_approval(
        &self,
        ids: &[ExecutionId],
    ) -> Result<std::collections::HashSet<ExecutionId>, StoreError> {
        let client = self.client().await?;
        let ids: Vec<Uuid> = ids.iter().map(ExecutionId::as_uuid).collect();
        let rows = client
            .query(
                "SELECT id FROM executions WHERE id = ANY($1) AND status = $2",
                &[&ids, &ExecutionStatus::AwaitingApproval.as_str()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| ExecutionId::from(row.get::<_, Uuid>(0)))
            .collect())
    }

    /// Executions the viewer may see, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn executions(
        &self,
        viewer: &Viewer,
        filter: &ExecutionFilter,
    ) -> Result<Vec<Execution>, StoreError> {
        let mut conditions = Conditions::default();
        if let Some(visible) = viewer.sees_execution(&mut conditions, "e") {
            conditions.and(visible);
        }
        if let Some(module_id) = filter.module_id {
            let module_id = conditions.bind(module_id.as_uuid());
            conditions.and(format!("e.module_id = {module_id}"));
        }
        if let Some(status) = filter.status {
            let status = conditions.bind(status.as_str());
            conditions.and(format!("e.status = {status}"));
        }
        if let Some(email) = &filter.requested_by {
            let email = conditions.bind(email.clone());
            conditions.and(format!("u.email = {email}"));
        }
        if let Some((at, id)) = filter.after {
            let (at, id) = (conditions.bind(at), conditions.bind(id.as_uuid()));
            conditions.and(format!("(e.created_at, e.id) < ({at}, {id})"));
        }
        if let Some(since) = filter.since {
            let since = conditions.bind(since);
            conditions.and(format!("e.created_at >= {since}"));
        }
        if let Some(until) = filter.until {
            let until = conditions.bind(until);
            conditions.and(format!("e.created_at < {until}"));
        }
        let limit = conditions.bind(filter.limit);
        let sql = format!(
            "{} {} ORDER BY e.created_at DESC, e.id DESC LIMIT {limit}",
            execution_select!(),
            conditions.where_clause()
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client.query(&statement, &conditions.values()).await?;
        rows.iter().map(Execution::from_row).collect()
    }
}

/// Records a submitted execution within `transaction`: the run, its sealed secrets, its
/// audit event, and its job unless it waits for approval or for its scan (`scan`: the
/// scan's dispatcher releases it into the outbox when the scan has room).
pub(crate) async fn insert_execution(
    transaction: &deadpool_postgres::Transaction<'_>,
    audit_key: &crate::audit::AuditKey,
    new: &NewExecution,
    context: &AuditContext,
    scan: Option<Uuid>,
) -> Result<ExecutionStatus, StoreError> {
    let id = new.id.as_uuid();
    let status = if new.approvals_required > 0 {
        ExecutionStatus::AwaitingApproval
    } else {
        ExecutionStatus::Queued
    };
    transaction
        .execute(
            "INSERT INTO executions (id, module_id, module_version, requested_by, params, status,
                                     approvals_required, approval_expires_at, scan_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7,
                     CASE WHEN $7 > 0 THEN now() + make_interval(secs => $8) END, $9)",
            &[
                &id,
                &new.module_id.as_uuid(),
                &new.module_version,
                &new.requested_by.as_uuid(),
                &new.params,
                &status.as_str(),
                &i32::try_from(new.approvals_required).unwrap_or(i32::MAX),
                &new.approval_ttl.as_secs_f64(),
                &scan,
            ],
        )
        .await?;
    if let Some(sealed) = &new.sealed_secrets {
        transaction
            .execute(
                "INSERT INTO execution_secrets (execution_id, sealed) VALUES ($1, $2)",
                &[&id, sealed],
            )
            .await?;
    }
    if status == ExecutionStatus::Queued && scan.is_none() {
        transaction
            .execute(
                "INSERT INTO job_outbox (execution_id, traceparent) VALUES ($1, $2)",
                &[&id, &context.traceparent],
            )
            .await?;
    }
    let mut after = json!({
        "module_id": new.module_id, "module_version": new.module_version,
        "params": new.params, "status": status,
    });
    if let Some(scan) = scan {
        after["scan_id"] = json!(scan);
    }
    let change = Change {
        action: "execution.submit",
        target_type: "execution",
        target_id: id.to_string(),
        before: None,
        after: Some(after),
    };
    append(transaction, audit_key, context, &change).await?;
    if status == ExecutionStatus::AwaitingApproval {
        queue_notice(transaction, id, Notice::Requested).await?;
    }
    Ok(status)
}
