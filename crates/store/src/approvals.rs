//! Approvals: each approver's decision on a run that waits for approval, the enqueue
//! once enough approved, and the expiry of runs nobody decided on in time.
//!
//! A decision locks the execution's row first, so decisions on one run happen one
//! after another: two approvers approving at the same moment enqueue it once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sage_model::ExecutionStatus;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::executions::{Execution, read_in};
use crate::runs::forget_secrets;
use crate::{Db, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
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

/// One approver's decision, as the execution's answer shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Approval {
    pub approver: String,
    pub decision: String,
    pub comment: String,
    pub decided_at: DateTime<Utc>,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionOutcome {
    /// Recorded; the execution as stored after it (still waiting, queued or rejected).
    Decided(Execution),
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
        id: Uuid,
        approver: Uuid,
        decision: Decision,
        comment: &str,
        context: &AuditContext,
    ) -> Result<DecisionOutcome, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let row = transaction
            .query_one(
                "SELECT status, approvals_required, approval_expires_at <= now()
                 FROM executions WHERE id = $1 FOR UPDATE",
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
                 WHERE execution_id = $1 AND decision = 'approve'",
                &[&id],
            )
            .await?
            .get(0);
        let after = match decision {
            Decision::Reject => {
                end_rejected(&transaction, id, "rejected_by").await?;
                json!({"status": ExecutionStatus::Rejected, "reason": "rejected_by"})
            }
            Decision::Approve if approvals >= i64::from(required) => {
                transaction
                    .execute(
                        "UPDATE executions SET status = 'queued', approval_expires_at = NULL
                         WHERE id = $1",
                        &[&id],
                    )
                    .await?;
                transaction
                    .execute("INSERT INTO job_outbox (execution_id) VALUES ($1)", &[&id])
                    .await?;
                json!({"status": ExecutionStatus::Queued, "approvals": approvals})
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
            after: Some(json!({"decision": decision, "comment": comment, "result": after})),
        };
        append(&transaction, context, &change).await?;
        let execution = read_in(&transaction, id).await?;
        transaction.commit().await?;
        Ok(DecisionOutcome::Decided(execution))
    }

    /// Ends runs that waited past their approval expiry as `rejected` (reason
    /// `approval_expired`); returns their ids. Replicas sweeping at once skip each
    /// other's rows.
    pub async fn expire_approvals(&self, sweeper: &AuditContext) -> Result<Vec<Uuid>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "SELECT id FROM executions
                 WHERE status = 'awaiting_approval' AND approval_expires_at <= now()
                 ORDER BY approval_expires_at LIMIT 100
                 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .await?;
        let mut expired = Vec::with_capacity(rows.len());
        for row in rows {
            let id: Uuid = row.get(0);
            end_rejected(&transaction, id, "approval_expired").await?;
            let change = Change {
                action: "execution.approval_expired",
                target_type: "execution",
                target_id: id.to_string(),
                before: Some(json!({"status": ExecutionStatus::AwaitingApproval})),
                after: Some(
                    json!({"status": ExecutionStatus::Rejected, "reason": "approval_expired"}),
                ),
            };
            append(&transaction, sweeper, &change).await?;
            expired.push(id);
        }
        transaction.commit().await?;
        Ok(expired)
    }

    /// The decisions on each of `ids`, oldest first.
    pub async fn approvals(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Approval>>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT a.execution_id, u.email, a.decision, a.comment, a.decided_at
                 FROM execution_approvals a JOIN users u ON u.id = a.approver
                 WHERE a.execution_id = ANY($1) ORDER BY a.decided_at, u.email",
                &[&ids],
            )
            .await?;
        let mut by_execution: HashMap<Uuid, Vec<Approval>> = HashMap::new();
        for row in rows {
            by_execution.entry(row.get(0)).or_default().push(Approval {
                approver: row.get(1),
                decision: row.get(2),
                comment: row.get(3),
                decided_at: row.get(4),
            });
        }
        Ok(by_execution)
    }
}

async fn end_rejected(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    reason: &str,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "UPDATE executions SET status = 'rejected', reason = $2, finished_at = now(),
                    approval_expires_at = NULL
             WHERE id = $1",
            &[&id, &reason],
        )
        .await?;
    forget_secrets(transaction, id).await
}
