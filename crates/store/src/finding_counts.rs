//! How many findings of a tool stood in each state and severity, day by day (UTC): per
//! account and for the tool as a whole. Settling adds each run's changes to the day's
//! counts (its events say them: one state left, one entered), so a trend reads a few
//! rows per day instead of replaying every event of the tool.

use chrono::NaiveDate;
use deadpool_postgres::Object as PooledClient;
use sage_model::ExecutionId;
use sage_model::findings::{FindingState, Severity};
use sage_model::tools::Tool;
use tokio_postgres::{Row, Transaction};

use crate::StoreError;

/// Today in UTC, as the counts' days are.
const TODAY: &str = "(now() AT TIME ZONE 'UTC')::date";

/// One day of a tool's findings: how many stood in each state and severity at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub day: NaiveDate,
    /// Whether a run of the tool ended that day; if not, the day carries the last.
    pub scanned: bool,
    pub counts: Vec<(FindingState, Severity, u64)>,
}

/// Whose events of this transaction move the counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cause {
    /// A run's settling.
    Run(ExecutionId),
    /// A step of a risk acceptance (its approval, expiry or revocation), which no run made.
    Acceptance(uuid::Uuid),
}

/// Adds the changes `cause` just made to `tool`'s findings (its events) to today's
/// counts. A count left unchanged keeps no row for the day: the last one stands.
pub(crate) async fn record(
    transaction: &Transaction<'_>,
    cause: Cause,
    tool: Tool,
) -> Result<(), StoreError> {
    let (events, id) = match cause {
        Cause::Run(id) => ("e.execution_id = $1", id.as_uuid()),
        // An acceptance's steps are its events without a run, each step in a
        // transaction of its own: those at this transaction's time.
        Cause::Acceptance(id) => (
            "e.acceptance_id = $1 AND e.execution_id IS NULL AND e.at = now()",
            id,
        ),
    };
    // Each event takes one from the state (and severity) the finding had and adds one
    // to the state it has; a change of severity alone moves it between severities.
    transaction
        .execute(
            &format!(
                "CREATE TEMP TABLE count_changes ON COMMIT DROP AS
                 SELECT s.account, d.state, d.severity, sum(d.n) AS n
                 FROM finding_events e JOIN finding_states s USING (fingerprint)
                 CROSS JOIN LATERAL (VALUES
                     (e.to_state, s.severity, 1),
                     (e.from_state, coalesce(e.changes #>> '{{severity,from}}', s.severity), -1))
                     AS d(state, severity, n)
                 WHERE {events} AND d.state IS NOT NULL
                 GROUP BY 1, 2, 3 HAVING sum(d.n) <> 0"
            ),
            &[&id],
        )
        .await?;
    let tool = tool.as_str();
    transaction
        .execute(
            &format!(
                "INSERT INTO finding_counts (tool, account, state, severity, day, n)
                 SELECT $1, c.account, c.state, c.severity, {TODAY}, c.n + coalesce((
                     SELECT p.n FROM finding_counts p
                     WHERE p.tool = $1 AND p.account = c.account AND p.state = c.state
                       AND p.severity = c.severity
                     ORDER BY p.day DESC LIMIT 1), 0)
                 FROM count_changes c
                 ON CONFLICT (tool, account, state, severity, day) DO UPDATE SET n = EXCLUDED.n"
            ),
            &[&tool],
        )
        .await?;
    transaction
        .execute(
            &format!(
                "INSERT INTO finding_totals (tool, state, severity, day, n)
                 SELECT $1, c.state, c.severity, {TODAY}, c.n + coalesce((
                     SELECT p.n FROM finding_totals p
                     WHERE p.tool = $1 AND p.state = c.state AND p.severity = c.severity
                     ORDER BY p.day DESC LIMIT 1), 0)
                 FROM (SELECT state, severity, sum(n) AS n FROM count_changes
                       GROUP BY 1, 2) AS c
                 ON CONFLICT (tool, state, severity, day) DO UPDATE SET n = EXCLUDED.n"
            ),
            &[&tool],
        )
        .await?;
    Ok(())
}

/// The last `days` days of all of `tool`'s findings (of `account` only, when given),
/// oldest first, as rows for `days_of`: for each day and each state and severity ever
/// counted, the latest count at or before it.
pub(crate) async fn counted_days(
    client: &PooledClient,
    tool: Tool,
    account: Option<&str>,
    days: i32,
) -> Result<Vec<Row>, StoreError> {
    let (table, of_account) = match account {
        Some(_) => ("finding_counts", "AND c.account = $3"),
        None => ("finding_totals", "AND $3::text IS NULL"),
    };
    let sql = format!(
        "WITH days AS (
             SELECT d::date AS day
             FROM generate_series({TODAY} - ($2 - 1), {TODAY}, interval '1 day') AS d),
         keys AS (SELECT DISTINCT state, severity FROM {table} c WHERE c.tool = $1 {of_account})
         SELECT d.day,
                EXISTS (SELECT 1 FROM tool_runs r WHERE r.tool = $1
                        AND r.finished_at >= d.day::timestamp AT TIME ZONE 'UTC'
                        AND r.finished_at < (d.day + 1)::timestamp AT TIME ZONE 'UTC'),
                k.state, k.severity,
                (SELECT c.n FROM {table} c
                 WHERE c.tool = $1 {of_account} AND c.state = k.state
                   AND c.severity = k.severity AND c.day <= d.day
                 ORDER BY c.day DESC LIMIT 1)
         FROM days d LEFT JOIN keys k ON true
         ORDER BY 1, 3, 4"
    );
    let statement = client.prepare_cached(&sql).await?;
    Ok(client
        .query(&statement, &[&tool.as_str(), &days, &account])
        .await?)
}

/// Days from rows of (day, scanned, state, severity, count) ordered by day; a row
/// without a state or count, or a count of none, only says the day.
pub(crate) fn days_of(rows: &[Row]) -> Result<Vec<Day>, StoreError> {
    let mut out: Vec<Day> = Vec::new();
    for row in rows {
        let day: NaiveDate = row.get(0);
        if out.last().is_none_or(|d| d.day != day) {
            out.push(Day {
                day,
                scanned: row.get(1),
                counts: Vec::new(),
            });
        }
        let (Some(state), Some(severity), Some(n)) = (
            row.get::<_, Option<&str>>(2),
            row.get::<_, Option<&str>>(3),
            row.get::<_, Option<i64>>(4),
        ) else {
            continue;
        };
        if n == 0 {
            continue;
        }
        let parse = |_| StoreError::Corrupt("finding state or severity");
        if let Some(last) = out.last_mut() {
            last.counts.push((
                state.parse().map_err(parse)?,
                severity.parse().map_err(parse)?,
                u64::try_from(n).unwrap_or_default(),
            ));
        }
    }
    Ok(out)
}
