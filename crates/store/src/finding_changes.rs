//! How findings moved: between two runs of one tool, and day by day.

use deadpool_postgres::Object as PooledClient;
use sage_model::ExecutionId;
use sage_model::tools::Tool;
use tokio_postgres::Row;

use crate::conditions::Conditions;
use crate::executions::Viewer;
pub use crate::finding_counts::Day;
use crate::finding_counts::{counted_days, days_of};
use crate::finding_history::{COLUMNS, TrackedFinding, seen_by, severity_rank, tracked};
use crate::finding_states::within_scope;
use crate::{Db, StoreError};

/// Where a finding went from one run to the next of its tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// Failing in the later run, not in the earlier, for the first time.
    New,
    /// Failing in the later run after a fix in between or in it.
    Reopened,
    /// Failing in both.
    StillOpen,
    /// Failing in the earlier run; the later covered it and fails it no more.
    Fixed,
    /// Failing in the earlier run; the later did not cover it (another region or
    /// check, or a run that was not whole): nobody knows.
    NotCovered,
}

impl Change {
    pub const ALL: [Self; 5] = [
        Self::New,
        Self::Reopened,
        Self::StillOpen,
        Self::Fixed,
        Self::NotCovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Reopened => "reopened",
            Self::StillOpen => "still_open",
            Self::Fixed => "fixed",
            Self::NotCovered => "not_covered",
        }
    }
}

/// The findings of one change between two runs: how many, and the gravest `limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub change: Change,
    pub total: u64,
    pub findings: Vec<TrackedFinding>,
}

/// How many of each change's gravest findings a kept diff holds: the api's largest page.
pub const DIFF_KEPT: i64 = 500;

impl Db {
    /// What changed from run `from` to run `to` (two runs of one tool), each change
    /// with its gravest `limit` (at most [`DIFF_KEPT`]) findings. The first read of a
    /// pair keeps its diff; later reads read that.
    #[tracing::instrument(skip(self))]
    pub async fn finding_diff(
        &self,
        from: ExecutionId,
        to: ExecutionId,
        limit: i64,
    ) -> Result<Vec<Changed>, StoreError> {
        let client = self.client().await?;
        let pair = [from.as_uuid(), to.as_uuid()];
        let kept = client
            .query_opt(
                "SELECT 1 FROM finding_diff_pairs WHERE from_run = $1 AND to_run = $2",
                &[&pair[0], &pair[1]],
            )
            .await?
            .is_some();
        if !kept {
            client
                .execute(
                    &format!(
                        "{diff},
                         kept AS (
                             INSERT INTO finding_diff_pairs (from_run, to_run) VALUES ($1, $2)
                             ON CONFLICT DO NOTHING RETURNING from_run)
                         INSERT INTO finding_diffs
                             (from_run, to_run, change, place, fingerprint, total)
                         SELECT kept.from_run, $2, r.change, r.place, r.fingerprint, r.total
                         FROM ranked r CROSS JOIN kept WHERE r.place <= $3",
                        diff = diff()
                    ),
                    &[&pair[0], &pair[1], &DIFF_KEPT],
                )
                .await?;
        }
        let rows = client
            .query(
                &format!(
                    // OFFSET 0 keeps the states a lookup per row shown: joined
                    // whole, they would be read whole.
                    "SELECT {COLUMNS}, c.change, c.total FROM finding_diffs c
                     CROSS JOIN LATERAL (SELECT * FROM finding_states s
                                         WHERE s.fingerprint = c.fingerprint OFFSET 0) AS s
                     WHERE c.from_run = $1 AND c.to_run = $2 AND c.place <= $3::bigint
                     ORDER BY c.change, c.place"
                ),
                &[&pair[0], &pair[1], &limit],
            )
            .await?;
        let mut changes: Vec<Changed> = Change::ALL
            .into_iter()
            .map(|change| Changed {
                change,
                total: 0,
                findings: Vec::new(),
            })
            .collect();
        for row in &rows {
            let name: &str = row.get(15);
            let Some(changed) = changes.iter_mut().find(|c| c.change.as_str() == name) else {
                return Err(StoreError::Corrupt("finding change"));
            };
            changed.total = u64::try_from(row.get::<_, i64>(16)).unwrap_or_default();
            changed.findings.push(tracked(row)?);
        }
        Ok(changes)
    }

    /// The last `days` days of `tool`'s findings that `viewer` may see (of `account`
    /// only, when given), oldest first. A viewer of everything reads the day's counts;
    /// another replays the changes of the findings they may see: each counts under the
    /// state its latest change at the day's end gave it, with its current severity.
    #[tracing::instrument(skip(self))]
    pub async fn finding_trends(
        &self,
        viewer: &Viewer,
        tool: Tool,
        account: Option<&str>,
        days: i32,
    ) -> Result<Vec<Day>, StoreError> {
        let client = self.client().await?;
        let rows = match viewer {
            Viewer::Everything => counted_days(&client, tool, account, days).await?,
            Viewer::User { .. } => replayed_days(&client, viewer, tool, account, days).await?,
        };
        days_of(&rows)
    }
}

/// The rows of `days_of` for the findings of `tool` that `viewer` may see, from the
/// changes of each.
async fn replayed_days(
    client: &PooledClient,
    viewer: &Viewer,
    tool: Tool,
    account: Option<&str>,
    days: i32,
) -> Result<Vec<Row>, StoreError> {
    let mut conditions = Conditions::default();
    let tool_bound = conditions.bind(tool.as_str());
    conditions.and(format!("s.tool = {tool_bound}"));
    if let Some(account) = account {
        let account = conditions.bind(account.to_owned());
        conditions.and(format!("s.account = {account}"));
    }
    seen_by(&mut conditions, viewer);
    let days = conditions.bind(days);
    let sql = format!(
        "WITH spans AS (
             SELECT s.severity, e.to_state AS state, e.at AS since,
                    lead(e.at) OVER (PARTITION BY e.fingerprint ORDER BY e.id) AS till
             FROM finding_events e JOIN finding_states s USING (fingerprint)
             {where_clause}),
         days AS (
             SELECT d::date AS day, d + interval '1 day' AS day_end
             FROM generate_series(date_trunc('day', now()) - ({days} - 1) * interval '1 day',
                                  date_trunc('day', now()), interval '1 day') AS d)
         SELECT d.day,
                EXISTS (SELECT 1 FROM tool_runs r WHERE r.tool = {tool_bound}
                        AND r.finished_at >= d.day AND r.finished_at < d.day_end),
                sp.state, sp.severity, count(sp.state)
         FROM days d LEFT JOIN spans sp
              ON sp.since < d.day_end AND (sp.till IS NULL OR sp.till >= d.day_end)
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4",
        where_clause = conditions.where_clause()
    );
    let statement = client.prepare_cached(&sql).await?;
    Ok(client.query(&statement, &conditions.values()).await?)
}

/// Each finding failing in run $1 or $2 with its change and its place in it (gravest
/// first, by the severity the runs reported), and how many share its change. $2's
/// scope says what it covered, by the rule its settling fixed findings with. Only the
/// runs' own findings are read; the findings failing in both (most of them) are counted
/// and only their gravest `$3` ranked.
fn diff() -> String {
    format!(
        "
WITH later AS (
    SELECT fingerprint, severity FROM findings WHERE execution_id = $2 AND status = 'fail'),
earlier AS (
    SELECT fingerprint, severity, account, region, check_id FROM findings
    WHERE execution_id = $1 AND status = 'fail'),
run AS (
    SELECT coverage, scope_accounts, scope_regions, scope_checks FROM tool_runs
    WHERE execution_id = $2),
joined AS (
    SELECT fingerprint, {rank} AS severity_rank, l.fingerprint IS NOT NULL AS later_fails,
           e.fingerprint IS NOT NULL AS earlier_fails, e.account, e.region, e.check_id
    FROM later l FULL JOIN earlier e USING (fingerprint)),
changed AS (
    SELECT j.fingerprint, j.severity_rank,
           CASE WHEN j.later_fails AND EXISTS (
                         SELECT 1 FROM finding_events v
                         WHERE v.fingerprint = j.fingerprint AND v.execution_id = $2
                           AND v.to_state = 'reopened') THEN 'reopened'
                WHEN j.later_fails THEN 'new'
                WHEN run.coverage = 'whole' AND {scope}
                     AND NOT EXISTS (SELECT 1 FROM findings x WHERE x.execution_id = $2
                                     AND x.fingerprint = j.fingerprint AND x.status <> 'pass')
                THEN 'fixed'
                ELSE 'not_covered' END AS change
    FROM joined j CROSS JOIN run WHERE NOT (j.later_fails AND j.earlier_fails)),
ranked AS (
    SELECT fingerprint, change,
           row_number() OVER (PARTITION BY change ORDER BY severity_rank, fingerprint) AS place,
           count(*) OVER (PARTITION BY change) AS total
    FROM changed
    UNION ALL
    SELECT fingerprint, 'still_open',
           row_number() OVER (ORDER BY severity_rank, fingerprint),
           (SELECT count(*) FROM joined WHERE later_fails AND earlier_fails)
    FROM (SELECT fingerprint, severity_rank FROM joined WHERE later_fails AND earlier_fails
          ORDER BY severity_rank, fingerprint LIMIT $3) AS gravest)",
        rank = severity_rank("coalesce(l.severity, e.severity)"),
        scope = within_scope(
            "j",
            "run.scope_accounts",
            "run.scope_regions",
            "run.scope_checks"
        )
    )
}

impl Db {
    /// The tool whose run `id` is; `None` for a run of no tool (or none recorded).
    pub async fn tool_of_run(&self, id: ExecutionId) -> Result<Option<Tool>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT tool FROM tool_runs WHERE execution_id = $1",
                &[&id.as_uuid()],
            )
            .await?
            .map(|row| crate::tools::tool_of(row.get(0)))
            .transpose()
    }
}
