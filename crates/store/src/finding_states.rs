//! The life of each finding across runs, settled when a run's findings are stored, in
//! the same transaction and set-based: a run's failing findings become `new`, `open` or
//! `reopened`; those of its tool within its scope that it no longer fails become
//! `fixed`, when the run may say so; everything else keeps its state.

use sage_model::ExecutionId;
use sage_model::tools::Tool;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::{StoreError, finding_counts};

/// The temporary table that holds the findings of the run being recorded, one per
/// fingerprint, until its transaction ends: its recorder fills it, settling reads it.
pub(crate) const RUN_FINDINGS: &str = "run_findings";

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
/// settles the tool's findings from the run's (`RUN_FINDINGS`): first where each one it
/// fails goes, beside the state it had, then the states, then the events, then, when the
/// run may fix, the fixes, and last the day's counts.
#[tracing::instrument(name = "settle_findings", skip_all, fields(execution_id = %id))]
pub(crate) async fn settle(
    transaction: &Transaction<'_>,
    id: ExecutionId,
    tool: Tool,
    regions: Option<&[String]>,
    coverage: Coverage,
) -> Result<(), StoreError> {
    let run = id.as_uuid();
    // Runs of one tool settle one after another: each reads the states the last left.
    // Whatever else writes a tool's states takes this lock too.
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('sage.finding_states.' || $1))",
            &[&tool.as_str()],
        )
        .await?;
    let scope = record_scope(transaction, run, regions, coverage).await?;
    // Most tools have no acceptance in effect: their million findings are not each
    // looked up among none.
    let accepting = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM risk_acceptances
                            WHERE tool = $1 AND status = 'approved' AND expires_at > now())",
            &[&tool.as_str()],
        )
        .await?
        .get(0);
    transaction
        .batch_execute(&format!(
            "CREATE TEMP TABLE failing ON COMMIT DROP AS {}; ANALYZE failing",
            failing(accepting)
        ))
        .await?;
    transaction.execute(FAILING_SEEN_BEFORE, &[&run]).await?;
    transaction.execute(FAILING_FIRST_SEEN, &[&run]).await?;
    transaction.execute(FAILING_EVENTS, &[&run]).await?;
    if coverage == Coverage::Whole {
        transaction
            .batch_execute("CREATE TEMP TABLE gone (fingerprint text, state text) ON COMMIT DROP")
            .await?;
        transaction
            .execute(
                &gone(),
                &[
                    &run,
                    &tool.as_str(),
                    &scope.accounts,
                    &scope.regions,
                    &scope.checks,
                ],
            )
            .await?;
        transaction.batch_execute("ANALYZE gone").await?;
        transaction.execute(FIXED_EVENTS, &[&run]).await?;
        transaction.execute(FIXED_STATES, &[&run]).await?;
    }
    finding_counts::record(transaction, finding_counts::Cause::Run(id), tool).await?;
    // A run can add or change as many states as there were. Lists are planned from the
    // states' statistics, and until autovacuum counts them again a plan made for a
    // tenth of them held every connection of the api for seconds (the history bench).
    // Counting them now costs a sample of pages.
    transaction.batch_execute("ANALYZE finding_states").await?;
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
            &format!(
                "UPDATE tool_runs SET coverage = $2,
                     scope_accounts = ARRAY(SELECT DISTINCT account FROM {RUN_FINDINGS}
                                            ORDER BY 1),
                     scope_checks = ARRAY(SELECT DISTINCT check_id FROM {RUN_FINDINGS}
                                          WHERE status IN ('pass', 'fail') ORDER BY 1),
                     scope_regions = ARRAY(SELECT DISTINCT region FROM (
                         SELECT unnest(coalesce($3::text[],
                             ARRAY(SELECT DISTINCT region FROM {RUN_FINDINGS})))
                         UNION SELECT 'global') AS r(region) ORDER BY 1)
                 WHERE execution_id = $1
                 RETURNING scope_accounts, scope_regions, scope_checks"
            ),
            &[&id, &coverage.as_str(), &regions],
        )
        .await?;
    Ok(Scope {
        accounts: row.get(0),
        regions: row.get(1),
        checks: row.get(2),
    })
}

/// Each finding the run fails (one per fingerprint), with the state it had (`from_state`,
/// NULL when never seen), the state it goes to, the acceptance it stands accepted by
/// and the state it would have without it, and its changes of title or severity.
/// Without an acceptance: first seen `new`, after a fix `reopened`, else `open`. An
/// accepted finding stays accepted; with `accepting`, another that an acceptance in
/// effect matches (by [`acceptance_matches`]) becomes accepted by the earliest approved.
fn failing(accepting: bool) -> String {
    let (acceptance, lookup) = if accepting {
        (
            "coalesce(s.acceptance_id, a.id)",
            format!(
                "LEFT JOIN LATERAL (
                     SELECT a.id FROM risk_acceptances a
                     WHERE a.tool = f.tool AND a.status = 'approved' AND a.expires_at > now()
                       AND {matches}
                     ORDER BY a.decided_at, a.id LIMIT 1) AS a ON true",
                matches = acceptance_matches("f", "a")
            ),
        )
    } else {
        ("s.acceptance_id", String::new())
    };
    format!(
        "SELECT f.fingerprint, f.tool, f.account, f.region, f.resource_id, f.check_id,
                f.title, f.severity, s.state AS from_state,
                CASE WHEN {acceptance} IS NOT NULL THEN 'accepted'
                     WHEN s.state IS NULL THEN 'new' WHEN s.state = 'fixed' THEN 'reopened'
                     ELSE 'open' END AS to_state,
                {acceptance} AS acceptance_id,
                CASE WHEN {acceptance} IS NULL THEN NULL
                     WHEN s.state = 'accepted' THEN s.accepted_over
                     WHEN s.state = 'fixed' THEN 'reopened' ELSE 'open' END AS accepted_over,
                nullif(jsonb_strip_nulls(jsonb_build_object(
                    'title', CASE WHEN s.title <> f.title
                                  THEN jsonb_build_object('from', s.title, 'to', f.title) END,
                    'severity', CASE WHEN s.severity <> f.severity
                                     THEN jsonb_build_object('from', s.severity, 'to', f.severity)
                                END)),
                    '{{}}'::jsonb) AS changes
         FROM {RUN_FINDINGS} f LEFT JOIN finding_states s USING (fingerprint)
         {lookup}
         WHERE f.status = 'fail'"
    )
}

/// Whether acceptance `a` covers finding `f` (a row with its fingerprint, account,
/// region, resource and check): its one finding, or its check's narrowed by its
/// accounts, regions (each empty: any) and resource pattern.
pub(crate) fn acceptance_matches(f: &str, a: &str) -> String {
    format!(
        "({a}.fingerprint = {f}.fingerprint
          OR ({a}.check_id = {f}.check_id
              AND ({a}.accounts = '{{}}' OR {f}.account = ANY ({a}.accounts))
              AND ({a}.regions = '{{}}' OR {f}.region = ANY ({a}.regions))
              AND ({a}.resource_like IS NULL OR {f}.resource_id LIKE {a}.resource_like)))"
    )
}

const FAILING_SEEN_BEFORE: &str = "
UPDATE finding_states s SET state = f.to_state, fixed_at = NULL, last_seen = now(),
                            last_run = $1, title = f.title, severity = f.severity,
                            acceptance_id = f.acceptance_id, accepted_over = f.accepted_over
FROM failing f WHERE f.from_state IS NOT NULL AND s.fingerprint = f.fingerprint";

const FAILING_FIRST_SEEN: &str = "
INSERT INTO finding_states (fingerprint, tool, account, region, resource_id, check_id, title,
                            severity, state, first_seen, last_seen, first_run, last_run,
                            acceptance_id, accepted_over)
SELECT fingerprint, tool, account, region, resource_id, check_id, title, severity, to_state,
       now(), now(), $1, $1, acceptance_id, accepted_over
FROM failing WHERE from_state IS NULL";

const FAILING_EVENTS: &str = "
INSERT INTO finding_events (fingerprint, execution_id, from_state, to_state, changes,
                            acceptance_id)
SELECT fingerprint, $1, from_state, to_state, changes,
       CASE WHEN to_state = 'accepted' THEN acceptance_id END
FROM failing
WHERE from_state IS DISTINCT FROM to_state OR changes IS NOT NULL";

/// Whether the finding `f` (a row with its account, region and check) lies within a
/// run's scope: each among the run's (the arrays `accounts`, `regions` and `checks`).
pub(crate) fn within_scope(f: &str, accounts: &str, regions: &str, checks: &str) -> String {
    format!(
        "{f}.account = ANY ({accounts}) AND {f}.region = ANY ({regions}) \
         AND {f}.check_id = ANY ({checks})"
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
           AND NOT EXISTS (SELECT 1 FROM {RUN_FINDINGS} f
                           WHERE f.fingerprint = s.fingerprint
                             AND f.status NOT IN ('pass', 'fail'))",
        scope = within_scope("s", "$3", "$4", "$5")
    )
}

const FIXED_EVENTS: &str = "
INSERT INTO finding_events (fingerprint, execution_id, from_state, to_state)
SELECT fingerprint, $1, state, 'fixed' FROM gone";

const FIXED_STATES: &str = "
UPDATE finding_states s SET state = 'fixed', fixed_at = now(), last_run = $1,
                            acceptance_id = NULL, accepted_over = NULL
FROM gone WHERE s.fingerprint = gone.fingerprint";
