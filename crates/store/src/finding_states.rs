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
    // The joins below are planned from the tables' statistics. After a large run the
    // states have grown past what autovacuum last counted, and a planner that thinks
    // them few joins them row by row with the run's findings: minutes, not seconds.
    // Counting them again costs a sample of pages.
    transaction.batch_execute("ANALYZE finding_states").await?;
    let scope = record_scope(transaction, id, regions, coverage).await?;
    transaction.execute(&failing_events(), &[&id]).await?;
    transaction.execute(&failing_states(), &[&id]).await?;
    if coverage == Coverage::Whole {
        transaction
            .batch_execute("CREATE TEMP TABLE gone (fingerprint text, state text) ON COMMIT DROP")
            .await?;
        transaction
            .execute(
                &gone(),
                &[&id, &tool, &scope.accounts, &scope.regions, &scope.checks],
            )
            .await?;
        transaction.batch_execute("ANALYZE gone").await?;
        transaction.execute(FIXED_EVENTS, &[&id]).await?;
        transaction.execute(FIXED_STATES, &[&id]).await?;
    }
    Ok(())
}

/// What a run covered.
struct Scope {
    accounts: Vec<String>,
    regions: Vec<String>,
    checks: Vec<String>,
}

/// The accounts its output reports, the checks it evaluated (passed or failed), and
/// the regions its options named, else those its output reports; with `global`.
async fn record_scope(
    transaction: &Transaction<'_>,
    id: Uuid,
    regions: Option<&[String]>,
    coverage: Coverage,
) -> Result<Scope, StoreError> {
    let row = transaction
        .query_one(
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
             WHERE execution_id = $1
             RETURNING scope_accounts, scope_regions, scope_checks",
            &[&id, &coverage.as_str(), &regions],
        )
        .await?;
    Ok(Scope {
        accounts: row.get(0),
        regions: row.get(1),
        checks: row.get(2),
    })
}

/// Where a finding whose state is `current` (NULL: never seen) goes when a run fails
/// it: first seen `new`, after a fix `reopened`, accepted stays accepted, else `open`.
fn failing_state(current: &str) -> String {
    format!(
        "CASE WHEN {current} IS NULL THEN 'new' WHEN {current} = 'fixed' THEN 'reopened'
              WHEN {current} = 'accepted' THEN 'accepted' ELSE 'open' END"
    )
}

/// The changes the run's failing findings are about to make, as events of the run: of
/// state, and of title or severity. Written before the states (the events' reference to
/// them is checked at commit), each statement joining tables the planner knows.
fn failing_events() -> String {
    let next = failing_state("s.state");
    format!(
        "INSERT INTO finding_events (fingerprint, execution_id, from_state, to_state, changes)
         SELECT f.fingerprint, $1, s.state, {next},
                nullif(jsonb_strip_nulls(jsonb_build_object(
                    'title', CASE WHEN s.title <> f.title
                                  THEN jsonb_build_object('from', s.title, 'to', f.title) END,
                    'severity', CASE WHEN s.severity <> f.severity
                                     THEN jsonb_build_object('from', s.severity, 'to', f.severity)
                                END)),
                    '{{}}'::jsonb)
         FROM findings f LEFT JOIN finding_states s USING (fingerprint)
         WHERE f.execution_id = $1 AND f.status = 'fail'
           AND (s.state IS DISTINCT FROM {next} OR s.title <> f.title
                OR s.severity <> f.severity)"
    )
}

/// The run's failing findings' states (one row per fingerprint: the run's findings
/// were stored so).
fn failing_states() -> String {
    let next = failing_state("finding_states.state");
    format!(
        "INSERT INTO finding_states (fingerprint, tool, account, region, resource_id, check_id,
                                     title, severity, state, first_seen, last_seen, first_run,
                                     last_run)
         SELECT fingerprint, tool, account, region, resource_id, check_id, title, severity,
                'new', now(), now(), $1, $1
         FROM findings WHERE execution_id = $1 AND status = 'fail'
         ON CONFLICT (fingerprint) DO UPDATE SET
             state = {next}, fixed_at = NULL, last_seen = now(), last_run = $1,
             title = EXCLUDED.title, severity = EXCLUDED.severity"
    )
}

/// Whether the finding state `s` lies within a run's scope: its account, region and
/// check each among the run's (the arrays `accounts`, `regions` and `checks`).
pub(crate) fn within_scope(accounts: &str, regions: &str, checks: &str) -> String {
    format!(
        "s.account = ANY ({accounts}) AND s.region = ANY ({regions}) \
         AND s.check_id = ANY ({checks})"
    )
}

/// The tool's unfixed findings within the run's scope (its arrays $3 to $5) that the run
/// reports nothing but passing for, whether the check passed on the resource or the
/// resource is gone: kept aside for the two statements that fix them. Those it failed
/// were settled just before (their last run is this one), so only the few left are
/// looked up among its findings, for a status that says nothing (an error, a manual
/// check). The scope arrays are parameters, constants to the planner, so each is
/// hashed once: `= ANY` over a column's array walks a thousand accounts for every
/// state (13 s for 2,000,000 states). No row locks: every writer of a tool's states
/// holds that tool's lock (`settle`).
fn gone() -> String {
    format!(
        "INSERT INTO gone
         SELECT s.fingerprint, s.state FROM finding_states s
         WHERE s.tool = $2 AND s.state <> 'fixed' AND s.last_run <> $1 AND {scope}
           AND NOT EXISTS (SELECT 1 FROM findings f
                           WHERE f.execution_id = $1 AND f.fingerprint = s.fingerprint
                             AND f.status NOT IN ('pass', 'fail'))",
        scope = within_scope("$3", "$4", "$5")
    )
}

const FIXED_EVENTS: &str = "
INSERT INTO finding_events (fingerprint, execution_id, from_state, to_state)
SELECT fingerprint, $1, state, 'fixed' FROM gone";

const FIXED_STATES: &str = "
UPDATE finding_states s SET state = 'fixed', fixed_at = now(), last_run = $1
FROM gone WHERE s.fingerprint = gone.fingerprint";
