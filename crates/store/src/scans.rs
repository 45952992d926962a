//! Scans: one tool over many accounts, one run each. A scan's runs are recorded at
//! once (each as any run is, with its audit event) but wait outside the outbox; the
//! dispatcher releases them within the scan's cap and never two at once against one
//! account, and ends the scan when every run has ended.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sage_model::UserId;
use sage_model::accounts::AccountId;
use sage_model::tools::THROTTLED_EXIT;
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::executions::{CancelOutcome, NewExecution, insert_execution};
use crate::{Db, StoreError};

/// A scan as its creator asked for it.
#[derive(Debug, Clone)]
pub struct NewScanRecord {
    pub id: Uuid,
    pub tool: String,
    /// `{"account_ids": [...]}` or `{"account_tags": {...}}`.
    pub selection: Value,
    pub regions: Option<Vec<String>>,
    /// The runs' options, secrets masked, without what each account decides.
    pub params: Value,
    pub max_concurrency: i32,
    pub account_concurrency: i32,
    pub requested_by: UserId,
}

/// One account of a scan: its run, or why it has none.
#[derive(Debug, Clone)]
pub struct ScanTarget {
    pub account_id: AccountId,
    /// The one region its run covers, when the scan runs per region.
    pub region: Option<String>,
    pub run: Result<NewExecution, String>,
}

/// How a scan runs an account again whose run the cloud's API throttled: at most
/// `attempts` runs in all, the first retry released `backoff` after the throttled run
/// ended, each next one twice as long.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub attempts: i32,
    pub backoff: std::time::Duration,
}

/// What one round of the dispatcher did.
#[derive(Debug, Clone, Default)]
pub struct Dispatched {
    pub released: u64,
    /// Throttled runs run again: (the throttled run, the new one).
    pub retried: Vec<(Uuid, Uuid)>,
    pub finished: Vec<Uuid>,
}

/// A scan and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub id: Uuid,
    pub tool: String,
    pub selection: Value,
    pub regions: Option<Vec<String>>,
    pub params: Value,
    pub max_concurrency: i32,
    pub account_concurrency: i32,
    /// running, succeeded, failed or cancelled.
    pub status: String,
    pub requested_by: String,
    pub requester_id: UserId,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Accounts by where their run stands (a run's status, or `refused`).
    pub counts: BTreeMap<String, i64>,
    pub total: i64,
}

/// One account of a scan as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetState {
    pub account_id: String,
    /// `None`: its run covers all of the account's regions.
    pub region: Option<String>,
    pub account_name: Option<String>,
    pub execution_id: Option<Uuid>,
    pub status: Option<String>,
    pub end_reason: Option<String>,
    pub refusal: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    /// Runs so far: more than one when the cloud's API throttled the earlier ones.
    pub attempts: i32,
    pub earlier_runs: Vec<Uuid>,
    /// A run again after a throttled one waits until then.
    pub release_after: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "s.id, s.tool, s.selection, s.regions, s.params, s.max_concurrency, s.status,
    u.email, s.requested_by, s.created_at, s.finished_at,
    (SELECT coalesce(jsonb_object_agg(k, n), '{}') FROM (
        SELECT coalesce(e.status, 'refused') AS k, count(*) AS n
        FROM scan_targets t LEFT JOIN executions e ON e.id = t.execution_id
        WHERE t.scan_id = s.id GROUP BY 1) c), s.account_concurrency";

const FROM: &str = "scans s JOIN users u ON u.id = s.requested_by";

/// Run statuses a released run holds a slot in.
const IN_FLIGHT: [&str; 2] = ["queued", "running"];

fn scan_of(row: &Row) -> Result<Scan, StoreError> {
    let counts: BTreeMap<String, i64> =
        serde_json::from_value(row.get(11)).map_err(|_| StoreError::Corrupt("scan counts"))?;
    Ok(Scan {
        id: row.get(0),
        tool: row.get(1),
        selection: row.get(2),
        regions: row.get(3),
        params: row.get(4),
        max_concurrency: row.get(5),
        account_concurrency: row.get(12),
        status: row.get(6),
        requested_by: row.get(7),
        requester_id: UserId::from(row.get::<_, Uuid>(8)),
        created_at: row.get(9),
        finished_at: row.get(10),
        total: counts.values().sum(),
        counts,
    })
}

/// Runs again each account whose run the cloud's API throttled, while it has attempts
/// left: a new run of the same plan, queued at once (so the scan is not over) and held
/// until its pause is over (a run with sealed secrets cannot be: they were bound to it
/// and are gone). The new run is audited as a submission saying which run it repeats
/// and why.
async fn retry_throttled(
    transaction: &deadpool_postgres::Transaction<'_>,
    audit_key: &crate::audit::AuditKey,
    retries: Retries,
) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
    let due = transaction
        .query(
            "SELECT t.scan_id, t.account_id, t.region, t.execution_id, t.attempts
             FROM scan_targets t
             JOIN scans s ON s.id = t.scan_id AND s.status = 'running'
             JOIN executions e ON e.id = t.execution_id
             WHERE e.status = 'failed' AND e.exit_code = $1 AND t.retriable
               AND t.attempts < $2
             FOR UPDATE OF t SKIP LOCKED",
            &[&THROTTLED_EXIT, &retries.attempts],
        )
        .await?;
    let mut retried = Vec::with_capacity(due.len());
    for row in &due {
        let (scan, account, region): (Uuid, String, String) = (row.get(0), row.get(1), row.get(2));
        let (throttled, attempts): (Uuid, i32) = (row.get(3), row.get(4));
        let id = Uuid::new_v4();
        let again = transaction
            .query_one(
                "INSERT INTO executions (id, module_id, module_version, requested_by, params,
                                         status, approvals_required, scan_id)
                 SELECT $1, module_id, module_version, requested_by, params, 'queued', 0, scan_id
                 FROM executions WHERE id = $2
                 RETURNING module_id, module_version, params",
                &[&id, &throttled],
            )
            .await?;
        transaction
            .execute(
                "UPDATE scan_targets SET execution_id = $4, attempts = attempts + 1,
                        earlier_runs = earlier_runs || execution_id, released_at = NULL,
                        release_after = now() + make_interval(secs => $5 * power(2, attempts - 1))
                 WHERE scan_id = $1 AND account_id = $2 AND region = $3",
                &[
                    &scan,
                    &account,
                    &region,
                    &id,
                    &retries.backoff.as_secs_f64(),
                ],
            )
            .await?;
        let change = Change {
            action: "execution.submit",
            target_type: "execution",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({
                "module_id": again.get::<_, Uuid>(0), "module_version": again.get::<_, i32>(1),
                "params": again.get::<_, Value>(2), "status": "queued", "scan_id": scan,
                "retry_of": throttled, "attempt": attempts + 1,
                "why": "the cloud's API throttled the tool",
            })),
        };
        append(transaction, audit_key, &AuditContext::system(), &change).await?;
        retried.push((throttled, id));
    }
    Ok(retried)
}

impl Db {
    /// Records a scan, each account's run (held until the dispatcher releases it) or
    /// its refusal, and their audit events, in one transaction.
    pub async fn create_scan(
        &self,
        scan: &NewScanRecord,
        targets: &[ScanTarget],
        context: &AuditContext,
    ) -> Result<Scan, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        insert_scan(&transaction, &self.audit_key, scan, targets, context).await?;
        transaction.commit().await?;
        self.scan(scan.id)
            .await?
            .ok_or(StoreError::Corrupt("scan gone"))
    }

    pub async fn scan(&self, id: Uuid) -> Result<Option<Scan>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(scan_of).transpose()
    }

    /// Scans newest first: all, or those `requester` asked for.
    pub async fn scans(
        &self,
        requester: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<Scan>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM {FROM}
                     WHERE $1::uuid IS NULL OR s.requested_by = $1
                     ORDER BY s.created_at DESC, s.id DESC LIMIT $2"
                ),
                &[&requester.map(|u| u.as_uuid()), &limit],
            )
            .await?;
        rows.iter().map(scan_of).collect()
    }

    /// Each account of a scan, in the order it was asked for.
    pub async fn scan_targets(&self, id: Uuid) -> Result<Vec<TargetState>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT t.account_id, a.name, t.execution_id, e.status, e.reason, t.refusal,
                        t.released_at, nullif(t.region, ''), e.exit_code, t.attempts,
                        t.earlier_runs, t.release_after
                 FROM scan_targets t LEFT JOIN executions e ON e.id = t.execution_id
                      LEFT JOIN cloud_accounts a ON a.id = t.account_id
                 WHERE t.scan_id = $1 ORDER BY t.position",
                &[&id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| TargetState {
                account_id: r.get(0),
                account_name: r.get(1),
                execution_id: r.get(2),
                status: r.get(3),
                end_reason: r.get(4),
                refusal: r.get(5),
                released_at: r.get(6),
                region: r.get(7),
                exit_code: r.get(8),
                attempts: r.get(9),
                earlier_runs: r.get(10),
                release_after: r.get(11),
            })
            .collect())
    }

    /// Releases the runs running scans have room for (oldest scan first, each within
    /// its cap, none against an account another released run is still busy with), and
    /// ends the scans whose every run has ended. Replicas may all call it: each scan is
    /// taken by one at a time. Returns how many runs were released and the scans ended.
    pub async fn dispatch_scans(&self, retries: Retries) -> Result<Dispatched, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let retried = retry_throttled(&transaction, &self.audit_key, retries).await?;
        let in_flight: Vec<&str> = IN_FLIGHT.to_vec();
        let released = transaction
            .execute(
                "WITH scan AS (
                     SELECT id, max_concurrency, account_concurrency, created_at FROM scans
                     WHERE status = 'running'
                     ORDER BY created_at FOR UPDATE SKIP LOCKED),
                 flight AS (
                     SELECT t.scan_id, count(*) AS n
                     FROM scan_targets t JOIN executions e ON e.id = t.execution_id
                     WHERE t.scan_id IN (SELECT id FROM scan) AND t.released_at IS NOT NULL
                       AND e.status = ANY($1)
                     GROUP BY t.scan_id),
                 -- Released runs of any scan in flight against each account.
                 busy AS (
                     SELECT o.account_id, count(*) AS n
                     FROM scan_targets o JOIN executions oe ON oe.id = o.execution_id
                     WHERE o.released_at IS NOT NULL AND oe.status = ANY($1)
                     GROUP BY o.account_id),
                 ready AS (
                     SELECT t.scan_id, t.account_id, t.execution_id,
                            s.account_concurrency - coalesce(b.n, 0) AS room,
                            row_number() OVER (PARTITION BY t.scan_id ORDER BY t.position) AS rn
                     FROM scan_targets t JOIN executions e ON e.id = t.execution_id
                          JOIN scan s ON s.id = t.scan_id
                          LEFT JOIN busy b ON b.account_id = t.account_id
                     WHERE t.released_at IS NULL AND e.status = 'queued'
                       AND (t.release_after IS NULL OR t.release_after <= now())
                       AND coalesce(b.n, 0) < s.account_concurrency),
                 within AS (
                     SELECT r.*, row_number() OVER (PARTITION BY r.account_id
                                                    ORDER BY s.created_at, r.rn) AS nth
                     FROM ready r JOIN scan s ON s.id = r.scan_id
                          LEFT JOIN flight f ON f.scan_id = r.scan_id
                     WHERE r.rn <= s.max_concurrency - coalesce(f.n, 0)),
                 pick AS (SELECT execution_id FROM within WHERE nth <= room),
                 marked AS (
                     UPDATE scan_targets t SET released_at = now()
                     FROM pick p WHERE t.execution_id = p.execution_id
                     RETURNING t.execution_id)
                 INSERT INTO job_outbox (execution_id) SELECT execution_id FROM marked",
                &[&in_flight],
            )
            .await?;
        let rows = transaction
            .query(
                "WITH ended AS (
                     SELECT s.id,
                            -- A refused account (no run) is no success.
                            bool_and(coalesce(e.status = 'succeeded', false)) AS all_succeeded
                     FROM scans s JOIN scan_targets t ON t.scan_id = s.id
                          LEFT JOIN executions e ON e.id = t.execution_id
                     WHERE s.status = 'running'
                     GROUP BY s.id
                     HAVING bool_and(e.id IS NULL OR e.status NOT IN
                                     ('awaiting_approval', 'queued', 'running')))
                 UPDATE scans s SET finished_at = now(),
                        status = CASE WHEN ended.all_succeeded THEN 'succeeded' ELSE 'failed' END
                 FROM ended WHERE s.id = ended.id
                 RETURNING s.id, s.status",
                &[],
            )
            .await?;
        let mut finished = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: Uuid = row.get(0);
            let status: String = row.get(1);
            let change = Change {
                action: "scan.finish",
                target_type: "scan",
                target_id: id.to_string(),
                before: None,
                after: Some(json!({"status": status})),
            };
            append(
                &transaction,
                &self.audit_key,
                &AuditContext::system(),
                &change,
            )
            .await?;
            finished.push(id);
        }
        transaction.commit().await?;
        Ok(Dispatched {
            released,
            retried,
            finished,
        })
    }

    /// Cancels a running scan: each of its runs that has not ended is cancelled (each
    /// audited as a cancel), then the scan. `None` when it had already ended.
    pub async fn cancel_scan(
        &self,
        id: Uuid,
        context: &AuditContext,
    ) -> Result<Option<Scan>, StoreError> {
        let client = self.client().await?;
        let claimed = client
            .execute(
                "UPDATE scans SET status = 'cancelled', finished_at = now()
                 WHERE id = $1 AND status = 'running'",
                &[&id],
            )
            .await?;
        if claimed == 0 {
            return Ok(None);
        }
        let rows = client
            .query(
                "SELECT e.id FROM scan_targets t JOIN executions e ON e.id = t.execution_id
                 WHERE t.scan_id = $1 AND e.status IN ('awaiting_approval', 'queued', 'running')",
                &[&id],
            )
            .await?;
        drop(client);
        let mut cancelled = 0usize;
        for row in &rows {
            let run = sage_model::ExecutionId::from(row.get::<_, Uuid>(0));
            if let CancelOutcome::Cancelled(_) = self.cancel_execution(run, context).await? {
                cancelled += 1;
            }
        }
        let change = Change {
            action: "scan.cancel",
            target_type: "scan",
            target_id: id.to_string(),
            before: Some(json!({"status": "running"})),
            after: Some(json!({"status": "cancelled", "runs_cancelled": cancelled})),
        };
        self.record_audit(context, &change).await?;
        self.scan(id).await
    }
}

/// Records a scan, each account's run (held until the dispatcher releases it) or its
/// refusal, and their audit events, within `transaction`.
pub(crate) async fn insert_scan(
    transaction: &deadpool_postgres::Transaction<'_>,
    audit_key: &crate::audit::AuditKey,
    scan: &NewScanRecord,
    targets: &[ScanTarget],
    context: &AuditContext,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "INSERT INTO scans (id, tool, selection, regions, params, max_concurrency,
                                requested_by, account_concurrency)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &scan.id,
                &scan.tool,
                &scan.selection,
                &scan.regions,
                &scan.params,
                &scan.max_concurrency,
                &scan.requested_by.as_uuid(),
                &scan.account_concurrency,
            ],
        )
        .await?;
    for (position, target) in targets.iter().enumerate() {
        let (execution, refusal, retriable) = match &target.run {
            Ok(run) => {
                insert_execution(transaction, audit_key, run, context, Some(scan.id)).await?;
                (Some(run.id.as_uuid()), None, run.sealed_secrets.is_none())
            }
            Err(why) => (None, Some(why.as_str()), false),
        };
        transaction
            .execute(
                "INSERT INTO scan_targets (scan_id, account_id, position, execution_id, refusal,
                                           region, retriable)
                 VALUES ($1, $2, $3, $4, $5, coalesce($6, ''), $7)",
                &[
                    &scan.id,
                    &target.account_id.as_str(),
                    &i32::try_from(position).unwrap_or(i32::MAX),
                    &execution,
                    &refusal,
                    &target.region,
                    &retriable,
                ],
            )
            .await?;
    }
    let refused: Vec<&str> = targets
        .iter()
        .filter(|t| t.run.is_err())
        .map(|t| t.account_id.as_str())
        .collect();
    let change = Change {
        action: "scan.create",
        target_type: "scan",
        target_id: scan.id.to_string(),
        before: None,
        after: Some(json!({
            "tool": scan.tool, "selection": scan.selection, "regions": scan.regions,
            "params": scan.params, "max_concurrency": scan.max_concurrency,
            "account_concurrency": scan.account_concurrency,
            "accounts": targets.len(), "refused": refused,
        })),
    };
    append(transaction, audit_key, context, &change).await?;
    Ok(())
}
