//! Retention: runs past their module's days (or the deployment's) lose their logs,
//! artifacts and finding history, in batches, each batch audited with its counts. A
//! run keeps them while an evidence report cites it, and while it is its tool's
//! latest run or latest that succeeded (what the tool's page and new reports read).
//! The run's own row, its audit events and its findings' current states stay.

use serde_json::json;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

/// A run whose retention ended, with the S3 keys of its artifacts, which the caller
/// deletes before `purge_runs` forgets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub execution_id: Uuid,
    pub keys: Vec<String>,
}

/// What one batch removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub runs: i64,
    pub log_chunks: i64,
    pub artifacts: i64,
    pub artifact_bytes: i64,
    pub findings: i64,
    pub finding_events: i64,
}

impl std::ops::AddAssign for Purged {
    fn add_assign(&mut self, other: Self) {
        self.runs += other.runs;
        self.log_chunks += other.log_chunks;
        self.artifacts += other.artifacts;
        self.artifact_bytes += other.artifact_bytes;
        self.findings += other.findings;
        self.finding_events += other.finding_events;
    }
}

impl Db {
    /// Up to `limit` ended runs past their retention, oldest first; `default_days`
    /// for modules without their own.
    pub async fn expired_runs(
        &self,
        default_days: i32,
        limit: i64,
    ) -> Result<Vec<Expired>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH latest AS (
                     SELECT DISTINCT ON (r.tool) r.execution_id FROM tool_runs r
                     ORDER BY r.tool, r.finished_at DESC),
                 latest_succeeded AS (
                     SELECT DISTINCT ON (r.tool) r.execution_id
                     FROM tool_runs r JOIN executions e ON e.id = r.execution_id
                     WHERE e.status = 'succeeded'
                     ORDER BY r.tool, r.finished_at DESC),
                 expired AS (
                     SELECT e.id, e.finished_at FROM executions e
                     JOIN modules m ON m.id = e.module_id
                     WHERE e.purged_at IS NULL AND e.finished_at IS NOT NULL
                       AND e.finished_at < now()
                             - make_interval(days => coalesce(m.retention_days, $1))
                       AND NOT EXISTS (SELECT 1 FROM evidence v
                                       WHERE v.execution_ids @> ARRAY[e.id])
                       AND e.id NOT IN (SELECT execution_id FROM latest)
                       AND e.id NOT IN (SELECT execution_id FROM latest_succeeded)
                     ORDER BY e.finished_at LIMIT $2)
                 SELECT x.id, coalesce(array_agg(a.s3_key) FILTER (WHERE a.s3_key IS NOT NULL),
                                       '{}')
                 FROM expired x LEFT JOIN execution_artifacts a ON a.execution_id = x.id
                 GROUP BY x.id, x.finished_at ORDER BY x.finished_at",
                &[&default_days, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| Expired {
                execution_id: row.get(0),
                keys: row.get(1),
            })
            .collect())
    }

    /// Removes the logs, artifact records, findings and finding events of these runs
    /// (those not purged meanwhile by another replica), marks them purged, and audits
    /// the batch as one `retention.purge` with its counts, in one transaction.
    pub async fn purge_runs(
        &self,
        ids: &[Uuid],
        context: &AuditContext,
    ) -> Result<Purged, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let ids: Vec<Uuid> = transaction
            .query(
                "SELECT id FROM executions WHERE id = ANY($1) AND purged_at IS NULL
                 FOR UPDATE SKIP LOCKED",
                &[&ids],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if ids.is_empty() {
            return Ok(Purged::default());
        }
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let log_chunks = transaction
            .execute(
                "DELETE FROM execution_log_chunks WHERE execution_id = ANY($1)",
                &[&ids],
            )
            .await?;
        let artifacts = transaction
            .query_one(
                "WITH gone AS (DELETE FROM execution_artifacts WHERE execution_id = ANY($1)
                               RETURNING size)
                 SELECT count(*), coalesce(sum(size), 0)::bigint FROM gone",
                &[&ids],
            )
            .await?;
        // Diffs kept between runs read the findings that go.
        transaction
            .execute(
                "DELETE FROM finding_diffs WHERE from_run = ANY($1) OR to_run = ANY($1)",
                &[&ids],
            )
            .await?;
        transaction
            .execute(
                "DELETE FROM finding_diff_pairs WHERE from_run = ANY($1) OR to_run = ANY($1)",
                &[&ids],
            )
            .await?;
        let finding_events = transaction
            .execute(
                "DELETE FROM finding_events WHERE execution_id = ANY($1)",
                &[&ids],
            )
            .await?;
        let findings = transaction
            .execute("DELETE FROM findings WHERE execution_id = ANY($1)", &[&ids])
            .await?;
        transaction
            .execute(
                "UPDATE executions SET purged_at = now() WHERE id = ANY($1)",
                &[&ids],
            )
            .await?;
        let purged = Purged {
            runs: i64::try_from(ids.len()).unwrap_or(i64::MAX),
            log_chunks: count(log_chunks),
            artifacts: artifacts.get(0),
            artifact_bytes: artifacts.get(1),
            findings: count(findings),
            finding_events: count(finding_events),
        };
        let change = Change {
            action: "retention.purge",
            target_type: "retention",
            target_id: "runs".to_owned(),
            before: None,
            after: Some(json!({
                "runs": purged.runs, "execution_ids": ids, "log_chunks": purged.log_chunks,
                "artifacts": purged.artifacts, "artifact_bytes": purged.artifact_bytes,
                "findings": purged.findings, "finding_events": purged.finding_events,
            })),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(purged)
    }

    /// Notification messages sent or given up more than `days` ago; audited with their
    /// count when there were any.
    pub async fn purge_old_messages(
        &self,
        days: i32,
        context: &AuditContext,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let removed = transaction
            .execute(
                "DELETE FROM notification_outbox
                 WHERE status <> 'pending' AND created_at < now() - make_interval(days => $1)",
                &[&days],
            )
            .await?;
        if removed > 0 {
            let change = Change {
                action: "retention.purge",
                target_type: "retention",
                target_id: "notifications".to_owned(),
                before: None,
                after: Some(json!({"messages": removed})),
            };
            append(&transaction, &self.audit_key, context, &change).await?;
        }
        transaction.commit().await?;
        Ok(removed)
    }
}
