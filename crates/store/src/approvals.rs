//! Approvals: each approver's decision on a run that waits for approval, the enqueue
//! once enough approved, and the expiry of runs nobody decided on in time.
//!
//! A decision locks the execution's row first, so decisions on one run happen one
//! after another: two approvers approving at the same moment enqueue it once.

use sage_model::{EndReason, ExecutionId, ExecutionStatus, UserId};
use serde_json::json;
use uuid::Uuid;

use crate::approval_notices::{Notice, queue_notice};
use crate::audit::{AuditContext, Change, append};
pub use crate::executions::Approval;
use crate::executions::{Execution, read_in};
use crate::runs::{EndedRun, end_in, end_revoked};
use crate::{Db, StoreError, changed_one, requester_may_run};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionOutcome {
    /// Recorded; the execution as stored after it (still waiting, queued or rejected).
    Decided(Box<Execution>),
    /// The execution is not waiting for approval (any more).
    NotAwaiting(ExecutionStatus),
    /// This approver already decided on this run.
    AlreadyDecided,
}

impl Db {
    /// Records `approver`'s decision on a waiting run: a rejection ends it `rejected`
    /// (reason `rejected_by`); the approval that reaches the required count queues it
    /// with its job, in the same transaction. A run past its expiry is not decided on.
    #[tracing::instrument(skip(self, comment, context))]
    pub async fn decide(
        &self,
        id: ExecutionId,
        approver: UserId,
        decision: Decision,
        comment: &str,
        context: &AuditContext,
    ) -> Result<DecisionOutcome, StoreError> {
        let (id, approver) = (id.as_uuid(), approver.as_uuid());
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let row = transaction
            .query_one(
                concat!(
                    "SELECT e.status, e.approvals_required, e.approval_expires_at <= now(), ",
                    requester_may_run!(),
                    " FROM executions e WHERE e.id = $1 FOR UPDATE"
                ),
                &[&id],
            )
            .await?;
        let status: ExecutionStatus = row
            .get::<_, String>(0)
            .parse()
            .map_err(|_| StoreError::Corrupt("execution status"))?;
        let required: i32 = row.get(1);
        let expired: Option<bool> = row.get(2);
        if status != ExecutionStatus::AwaitingApproval || expired == Some(true) {
            return Ok(DecisionOutcome::NotAwaiting(status));
        }
        let recorded = transaction
            .execute(
                "INSERT INTO execution_approvals (execution_id, approver, decision, comment)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&id, &approver, &decision.as_str(), &comment],
            )
            .await?;
        if recorded == 0 {
            return Ok(DecisionOutcome::AlreadyDecided);
        }
        let approvals: i64 = transaction
            .query_one(
                "SELECT count(*) FROM execution_approvals
                 WHERE execution_id = $1 AND decision = $2",
                &[&id, &Decision::Approve.as_str()],
            )
            .await?
            .get(0);
        let after = match decision {
            Decision::Reject => end_rejected(&transaction, id, EndReason::RejectedBy).await?,
            Decision::Approve if approvals >= i64::from(required) && !row.get::<_, bool>(3) => {
                // Approved, but its requester may no longer run the module.
                let step = status.transition(EndReason::RunRevoked.status())?;
                end_revoked(&transaction, &self.audit_key, id, step, context).await?
            }
            Decision::Approve if approvals >= i64::from(required) => {
                let step = status.transition(ExecutionStatus::Queued)?;
                let updated = transaction
                    .execute(
                        "UPDATE executions SET status = $2, approval_expires_at = NULL
                         WHERE id = $1 AND status = $3",
                        &[&id, &step.to().as_str(), &step.from().as_str()],
                    )
                    .await?;
                changed_one(updated, "approved execution")?;
                transaction
                    .execute(
                        "INSERT INTO job_outbox (execution_id, traceparent) VALUES ($1, $2)",
                        &[&id, &context.traceparent],
                    )
                    .await?;
                json!({"status": step.to(), "approvals": approvals})
            }
            Decision::Approve => {
                json!({"status": ExecutionStatus::AwaitingApproval, "approvals": approvals})
            }
        };
        let change = Change {
            action: match decision {
                Decision::Approve => "execution.approve",
                Decision::Reject => "execution.reject",
            },
            target_type: "execution",
            target_id: id.to_string(),
            before: Some(json!({"status": status})),
            after: Some(
                json!({"decision": decision.as_str(), "comment": comment, "result": after}),
            ),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        let execution = read_in(&transaction, id).await?;
        if execution.status != ExecutionStatus::AwaitingApproval {
            queue_notice(&transaction, id, Notice::Resolved).await?;
        }
        transaction.commit().await?;
        Ok(DecisionOutcome::Decided(Box::new(execution)))
    }

    /// Ends runs that waited past their approval expiry as `rejected` (reason
    /// `approval_expired`); returns them. Replicas sweeping at once skip each other's
    /// rows.
    pub async fn expire_approvals(
        &self,
        sweeper: &AuditContext,
    ) -> Result<Vec<EndedRun>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "SELECT e.id, m.name FROM executions e JOIN modules m ON m.id = e.module_id
                 WHERE e.status = $1 AND e.approval_expires_at <= now()
                 ORDER BY e.approval_expires_at LIMIT 100
                 FOR UPDATE OF e SKIP LOCKED",
                &[&ExecutionStatus::AwaitingApproval.as_str()],
            )
            .await?;
        let mut expired = Vec::with_capacity(rows.len());
        for row in rows {
            let id: Uuid = row.get(0);
            let after = end_rejected(&transaction, id, EndReason::ApprovalExpired).await?;
            queue_notice(&transaction, id, Notice::Resolved).await?;
            let change = Change {
                action: "execution.approval_expired",
                target_type: "execution",
                target_id: id.to_string(),
                before: Some(json!({"status": ExecutionStatus::AwaitingApproval})),
                after: Some(after),
            };
            append(&transaction, &self.audit_key, sweeper, &change).await?;
            expired.push(EndedRun {
                id: ExecutionId::from(id),
                module_name: row.get(1),
                ran: None,
            });
        }
        transaction.commit().await?;
        Ok(expired)
    }
}

/// Ends a waiting run with `reason` (a rejection or an expiry); returns its new status
/// and reason, for the audit event.
async fn end_rejected(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    reason: EndReason,
) -> Result<serde_json::Value, StoreError> {
    let step = ExecutionStatus::AwaitingApproval.transition(reason.status())?;
    end_in(transaction, id, step, reason).await?;
    Ok(json!({"status": step.to(), "reason": reason.as_str()}))
}
