//! The findings of tool runs: stored with their run's record as a stream through COPY,
//! one per check, resource, region and account, and read back in the order they were
//! read.

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, pin_mut};
use sage_model::ExecutionId;
use sage_model::tools::Tool;
use serde_json::Value;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{Json, ToSql, Type};

use crate::finding_states::{self, Coverage, RUN_FINDINGS};
use crate::tools::tool_of;
use crate::{Db, StoreError};

/// One finding of a tool run, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFinding {
    pub tool: Tool,
    pub check_id: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub resource_id: String,
    pub resource_type: String,
    pub region: String,
    pub account: String,
    pub fingerprint: String,
}

/// A finished tool run's record, as its worker stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToolRun {
    pub execution_id: ExecutionId,
    pub tool: Tool,
    pub tool_version: Option<String>,
    /// Where its `result.json` goes in S3.
    pub result_key: String,
    /// The regions its options named, normalised as findings' regions are; `None`: it
    /// named none, and its output tells which it covered.
    pub regions: Option<Vec<String>>,
}

/// What the database holds of a recorded tool run.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRun {
    /// Findings stored: one per check, resource, region and account.
    pub findings: u64,
    /// `{"<status>": {"<severity>": n}}` of those findings.
    pub counts: Value,
    pub finished_at: DateTime<Utc>,
}

/// The columns a stored finding fills, beside its run, in COPY's order.
const COLUMNS: &str = "ordinal, tool, check_id, title, severity, status, resource_id, \
                       resource_type, region, account, fingerprint";

impl Db {
    /// Stores a finished tool run's record and its findings, in one transaction. The
    /// findings arrive as a stream and go to the server by binary COPY, so the caller's
    /// memory does not grow with their number; the server keeps the first finding of
    /// each fingerprint (check, resource, region and account of the run's tool:
    /// Prowler writes some twice), which settling relies on, and counts
    /// what it kept, then settles the states of its tool's findings (`coverage` says
    /// whether the run may fix any: known once the stream has ended). A run recorded
    /// before (its job delivered again) stays as it was.
    #[tracing::instrument(skip_all, fields(execution_id = %run.execution_id))]
    pub async fn record_tool_run(
        &self,
        run: &NewToolRun,
        findings: impl Stream<Item = StoredFinding>,
        coverage: impl Future<Output = Coverage>,
    ) -> Result<RecordedRun, StoreError> {
        let id = run.execution_id.as_uuid();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let inserted = transaction
            .execute(
                "INSERT INTO tool_runs (execution_id, tool, tool_version, counts, result_key,
                                        finished_at)
                 VALUES ($1, $2, $3, '{}', $4, now()) ON CONFLICT (execution_id) DO NOTHING",
                &[&id, &run.tool.as_str(), &run.tool_version, &run.result_key],
            )
            .await?;
        // How many it keeps, once stored; a run recorded before counts its own.
        let mut stored = None;
        if inserted == 1 {
            transaction
                .batch_execute(&format!(
                    "CREATE TEMP TABLE staged_findings ON COMMIT DROP AS
                     SELECT {COLUMNS} FROM findings WITH NO DATA"
                ))
                .await?;
            let sink = transaction
                .copy_in(&format!(
                    "COPY staged_findings ({COLUMNS}) FROM STDIN BINARY"
                ))
                .await?;
            let mut types = vec![Type::TEXT; 11];
            types[0] = Type::INT4;
            let writer = BinaryCopyInWriter::new(sink, &types);
            pin_mut!(writer);
            // The ordinal is an int4: a stream longer than that is cut there.
            let numbered = findings.take(i32::MAX as usize).enumerate();
            pin_mut!(numbered);
            while let Some((ordinal, f)) = numbered.next().await {
                let ordinal = i32::try_from(ordinal).unwrap_or(i32::MAX);
                let row: [&(dyn ToSql + Sync); 11] = [
                    &ordinal,
                    &f.tool.as_str(),
                    &f.check_id,
                    &f.title,
                    &f.severity,
                    &f.status,
                    &f.resource_id,
                    &f.resource_type,
                    &f.region,
                    &f.account,
                    &f.fingerprint,
                ];
                writer.as_mut().write(&row).await?;
            }
            writer.finish().await?;
            // The run's findings, one per fingerprint, as a table of their own with its
            // statistics: storing, counting and settling read it whole, and the
            // planner joins it by what it holds rather than by guesses about a slice
            // of the findings table that is not committed yet.
            transaction
                .batch_execute(&format!(
                    "CREATE TEMP TABLE {RUN_FINDINGS} ON COMMIT DROP AS
                         SELECT DISTINCT ON (fingerprint) {COLUMNS} FROM staged_findings
                         ORDER BY fingerprint, ordinal;
                     DROP TABLE staged_findings;
                     ANALYZE {RUN_FINDINGS}"
                ))
                .await?;
            let kept = transaction
                .execute(
                    &format!(
                        "INSERT INTO findings (execution_id, {COLUMNS})
                         SELECT $1, {COLUMNS} FROM {RUN_FINDINGS}"
                    ),
                    &[&id],
                )
                .await?;
            stored = Some(i64::try_from(kept).unwrap_or(i64::MAX));
            transaction
                .execute(
                    &format!(
                        "UPDATE tool_runs SET counts = coalesce((
                             SELECT jsonb_object_agg(status, severities) FROM (
                                 SELECT status, jsonb_object_agg(severity, n) AS severities
                                 FROM (SELECT status, severity, count(*) AS n
                                       FROM {RUN_FINDINGS} GROUP BY status, severity) AS c
                                 GROUP BY status) AS s), '{{}}')
                         WHERE execution_id = $1"
                    ),
                    &[&id],
                )
                .await?;
            // Known once every finding was read: whether the outputs were whole.
            let regions = run.regions.as_deref();
            let coverage = coverage.await;
            finding_states::settle(&transaction, run.execution_id, run.tool, regions, coverage)
                .await?;
        }
        let row = transaction
            .query_one(
                "SELECT coalesce($2, (SELECT count(*) FROM findings WHERE execution_id = $1)),
                        counts, finished_at
                 FROM tool_runs WHERE execution_id = $1",
                &[&id, &stored],
            )
            .await?;
        transaction.commit().await?;
        Ok(RecordedRun {
            findings: u64::try_from(row.get::<_, i64>(0)).unwrap_or_default(),
            counts: row.get::<_, Json<Value>>(1).0,
            finished_at: row.get(2),
        })
    }

    /// A tool run's findings, in the order they were read.
    pub async fn findings(
        &self,
        execution_id: ExecutionId,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT tool, check_id, title, severity, status, resource_id, resource_type,
                        region, account, fingerprint
                 FROM findings WHERE execution_id = $1 ORDER BY ordinal",
                &[&execution_id.as_uuid()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredFinding {
                    tool: tool_of(row.get(0))?,
                    check_id: row.get(1),
                    title: row.get(2),
                    severity: row.get(3),
                    status: row.get(4),
                    resource_id: row.get(5),
                    resource_type: row.get(6),
                    region: row.get(7),
                    account: row.get(8),
                    fingerprint: row.get(9),
                })
            })
            .collect()
    }
}
