//! The life of each finding across runs, settled when a run's findings are stored, in
//! the same transaction and set-based: a run's failing findings become `new`, `open` or
//! `reopened`; those of its tool within its scope that it no longer fails become
//! `fixed`, when the run may say so; everything else keeps its state.

use sage_model::ExecutionId;
use sage_model::tools::Tool;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::StoreError;

/// What a run's outputs let it say about the findings it did not report failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// The run succeeded and its outputs were read whole: a finding of its tool within
    /// its scope that it no longer fails is fixed.
    Whole,
    /// Anything less (it failed, or an output was cut or over the cap): it reports what
    /// fails and fixes nothing, since nobody looked at the rest.
    Partial,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whole => "whole",
            Self::Partial => "partial",
        }
    }
}

/// Records the scope of run `id` of `tool` (the `regions` its options named) and
/// settles the tool's findings.
#[tracing::instrument(name = "settle_findings", skip_all, fields(execution_id = %id))]
pub(crate) async fn settle(
    transaction: &Transaction<'_>,
    id: ExecutionId,
    tool: Tool,
    regions: Option<&[String]>,
    coverage: Coverage,
) -> Result<(), StoreError> {
    let (id, tool) = (id.as_uuid(), tool.as_str());
    // Runs of one tool settle one after another: each reads the states the last left.
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('sage.finding_states.' || $1))",
            &[&tool],
        )
        .await?;
    record_scope(transaction, id, regions, coverage).await?;
    transaction.execute(FAILING, &[&id]).await?;
    if coverage == Coverage::Whole {
        transaction.execute(FIXED, &[&id, &tool]).await?;
    }
    Ok(())
}

/// The accounts its output reports, the checks it evaluated (passed or failed), and
/// the regions its options named, else those its output reports; with `global`.
async fn record_scope(
    transaction: &Transaction<'_>,
    id: Uuid,
    regions: Option<&[String]>,
    coverage: Coverage,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "UPDATE tool_runs SET coverage = $2,
                 scope_accounts = ARRAY(SELECT DISTINCT account FROM findings
                                        WHERE execution_id = $1 ORDER BY 1),
                 scope_checks = ARRAY(SELECT DISTINCT check_id FROM findings
                                      WHERE execution_id = $1 AND status IN ('pass', 'fail')
                                      ORDER BY 1),
                 scope_regions = ARRAY(SELECT DISTINCT region FROM (
                     SELECT unnest(coalesce($3::text[],
                         ARRAY(SELECT DISTINCT region FROM findings WHERE execution_id = $1)))
                     UNION SELECT 'global') AS r(region) ORDER BY 1)
             WHERE execution_id = $1",
            &[&id, &coverage.as_str(), &regions],
        )
        .await?;
    Ok(())
}

/// The run's failing findings: first seen (`new`), failing again (`open`), failing
/// after a fix (`reopened`); an accepted one stays accepted. Each change of state, and
/// of title or severity, is an event of this run.
const FAILING: &str = "
WITH failing AS (
    SELECT DISTINCT ON (fingerprint) fingerprint, tool, account, region, resource_id,
           check_id, title, severity
    FROM findings WHERE execution_id = $1 AND status = 'fail'
    ORDER BY fingerprint, ordinal),
before AS (
    SELECT s.fingerprint, s.state, s.title, s.severity
    FROM finding_states s JOIN failing f USING (fingerprint)),
settled AS (
    INSERT INTO finding_states (fingerprint, tool, account, region, resource_id, check_id,
                                title, severity, state, first_seen, last_seen, first_run,
                                last_run)
    SELECT fingerprint, tool, account, region, resource_id, check_id, title, severity,
           'new', now(), now(), $1, $1
    FROM failing
    ON CONFLICT (fingerprint) DO UPDATE SET
        state = CASE finding_states.state
                    WHEN 'fixed' THEN 'reopened'
                    WHEN 'accepted' THEN 'accepted'
                    ELSE 'open' END,
        fixed_at = NULL, last_seen = now(), last_run = $1,
        title = EXCLUDED.title, severity = EXCLUDED.severity
    RETURNING fingerprint, state, title, severity)
INSERT INTO finding_events (fingerprint, execution_id, from_state, to_state, changes)
SELECT s.fingerprint, $1, b.state, s.state,
       nullif(jsonb_strip_nulls(jsonb_build_object(
           'title', CASE WHEN b.title <> s.title
                         THEN jsonb_build_object('from', b.title, 'to', s.title) END,
           'severity', CASE WHEN b.severity <> s.severity
                            THEN jsonb_build_object('from', b.severity, 'to', s.severity) END)),
           '{}'::jsonb)
FROM settled s LEFT JOIN before b USING (fingerprint)
WHERE b.state IS DISTINCT FROM s.state OR b.title <> s.title OR b.severity <> s.severity";

/// The tool's unfixed findings within the run's scope that the run reports nothing
/// but passing for: fixed, whether the check passed on the resource or the resource is
/// gone.
const FIXED: &str = "
WITH run AS (
    SELECT scope_accounts, scope_regions, scope_checks FROM tool_runs WHERE execution_id = $1),
gone AS (
    SELECT s.fingerprint, s.state FROM finding_states s, run
    WHERE s.tool = $2 AND s.state <> 'fixed'
      AND s.account = ANY (run.scope_accounts)
      AND s.region = ANY (run.scope_regions)
      AND s.check_id = ANY (run.scope_checks)
      AND NOT EXISTS (SELECT 1 FROM findings f
                      WHERE f.execution_id = $1 AND f.fingerprint = s.fingerprint
                        AND f.status <> 'pass')
    FOR UPDATE OF s),
fixed AS (
    UPDATE finding_states s SET state = 'fixed', fixed_at = now(), last_run = $1
    FROM gone WHERE s.fingerprint = gone.fingerprint)
INSERT INTO finding_events (fingerprint, execution_id, from_state, to_state)
SELECT fingerprint, $1, state, 'fixed' FROM gone";
