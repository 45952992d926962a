//! The approval webhook's outbox: a notice queued in the transaction that made a run
//! wait for approval or stop waiting, delivered by the api's webhook loop.

use uuid::Uuid;

use crate::{StoreError, user_assigned};

/// What an approval notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    /// The run waits: the approvers named in the notice may decide on it.
    Requested,
    /// The run stopped waiting: queued, rejected or expired (its `status` and `reason`).
    Resolved,
}

/// Queues the approval webhook's notice about run `id` as this transaction sees it.
/// `approvers` are those who may decide on it now: admins, and approvers who may view
/// its module, never its requester; the chat bot or mail relay tells them. The rule is
/// the api's `Access::decidable_execution`, said again in SQL: change both together.
pub(crate) async fn queue_notice(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    notice: Notice,
) -> Result<(), StoreError> {
    let event = match notice {
        Notice::Requested => "approval.requested",
        Notice::Resolved => "approval.resolved",
    };
    // Timestamps in the payload read as RFC 3339 in UTC whatever the server's zone.
    transaction
        .execute("SET LOCAL TIME ZONE 'UTC'", &[])
        .await?;
    transaction
        .execute(
            concat!(
                "INSERT INTO approval_outbox (execution_id, event, payload)
             SELECT e.id, $2::text, jsonb_build_object(
                 'event', $2::text,
                 'at', now(),
                 'execution_id', e.id,
                 'execution_path', '/api/v1/executions/' || e.id::text,
                 'module', jsonb_build_object('id', m.id, 'name', m.name,
                                              'version', e.module_version),
                 'requested_by', r.email,
                 'requested_at', e.created_at,
                 'params', e.params,
                 'status', e.status,
                 'reason', e.reason,
                 'approvals_required', e.approvals_required,
                 'expires_at', e.approval_expires_at,
                 'approvers', (
                     SELECT coalesce(jsonb_agg(u.email ORDER BY u.email), '[]'::jsonb)
                     FROM users u
                     WHERE $2::text = 'approval.requested' AND u.id <> e.requested_by
                       AND ('admin' = ANY(u.roles)
                            OR ('approver' = ANY(u.roles) AND ",
                user_assigned!("can_view"),
                "))),
                 'decisions', (
                     SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'approver', u.email, 'decision', d.decision,
                                'comment', d.comment, 'decided_at', d.decided_at)
                                ORDER BY d.decided_at, u.email), '[]'::jsonb)
                     FROM execution_approvals d JOIN users u ON u.id = d.approver
                     WHERE d.execution_id = e.id))
             FROM executions e
             JOIN modules m ON m.id = e.module_id
             JOIN users r ON r.id = e.requested_by
             WHERE e.id = $1"
            ),
            &[&id, &event],
        )
        .await?;
    Ok(())
}
