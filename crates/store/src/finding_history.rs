//! Findings over time as callers read them: the list of findings with their current
//! state, and one finding with every change of it. A caller sees a finding when they
//! may see a run that reported it.

use chrono::{DateTime, Utc};
use sage_model::ExecutionId;
use sage_model::findings::{FindingState, Severity};
use sage_model::tools::Tool;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::conditions::Conditions;
use crate::executions::Viewer;
use crate::tools::tool_of;
use crate::{Db, StoreError};

/// A finding and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedFinding {
    pub fingerprint: String,
    pub tool: Tool,
    pub account: String,
    pub region: String,
    pub resource_id: String,
    pub check_id: String,
    pub title: String,
    pub severity: Severity,
    pub state: FindingState,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub fixed_at: Option<DateTime<Utc>>,
    pub first_run: ExecutionId,
    pub last_run: ExecutionId,
    /// The risk acceptance it stands accepted by.
    pub acceptance_id: Option<Uuid>,
}

/// One change of a finding, made by a run, by a risk acceptance, or by both (a run's
/// new finding that an acceptance in effect covers).
#[derive(Debug, Clone, PartialEq)]
pub struct FindingEvent {
    pub at: DateTime<Utc>,
    pub run: Option<ExecutionId>,
    pub acceptance_id: Option<Uuid>,
    /// `None`: its first sighting.
    pub from: Option<FindingState>,
    pub to: FindingState,
    /// Title or severity changes: `{"severity": {"from", "to"}}`.
    pub changes: Option<Value>,
}

/// Where a page of findings ends: the last one's place in the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingsAfter {
    pub severity: Severity,
    pub last_seen: DateTime<Utc>,
    pub fingerprint: String,
}

/// `GET /api/v1/findings`: each filter given narrows the list.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub tool: Option<Tool>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub severity: Option<Severity>,
    pub state: Option<FindingState>,
    pub check: Option<String>,
    /// The start of the resource's id.
    pub resource: Option<String>,
    /// The resource's id, whole.
    pub resource_id: Option<String>,
    /// Last seen at or after.
    pub since: Option<DateTime<Utc>>,
    /// Last seen before.
    pub until: Option<DateTime<Utc>>,
    pub after: Option<FindingsAfter>,
    pub limit: i64,
}

pub(crate) const COLUMNS: &str =
    "s.fingerprint, s.tool, s.account, s.region, s.resource_id, s.check_id,
    s.title, s.severity, s.state, s.first_seen, s.last_seen, s.fixed_at, s.first_run,
    s.last_run, s.acceptance_id";

impl Db {
    /// The findings `viewer` may see, gravest first, then the latest seen.
    #[tracing::instrument(skip(self))]
    pub async fn tracked_findings(
        &self,
        viewer: &Viewer,
        filter: &FindingFilter,
    ) -> Result<Vec<TrackedFinding>, StoreError> {
        let mut conditions = Conditions::default();
        seen_by(&mut conditions, viewer);
        let mut equal = |column: &str, value: Option<String>| {
            if let Some(value) = value {
                let value = conditions.bind(value);
                conditions.and(format!("s.{column} = {value}"));
            }
        };
        equal("tool", filter.tool.map(|t| t.as_str().to_owned()));
        equal("account", filter.account.clone());
        equal("region", filter.region.clone());
        equal("state", filter.state.map(|s| s.as_str().to_owned()));
        equal("check_id", filter.check.clone());
        equal("resource_id", filter.resource_id.clone());
        if let Some(severity) = filter.severity {
            // The rank leads the lists' indexes: a severity is a range of them.
            let rank = conditions.bind(rank(severity));
            conditions.and(format!("s.severity_rank = {rank}"));
        }
        if let Some(prefix) = &filter.resource {
            let prefix = conditions.bind(prefix.clone());
            conditions.and(format!("starts_with(s.resource_id, {prefix})"));
        }
        if let Some(since) = filter.since {
            let since = conditions.bind(since);
            conditions.and(format!("s.last_seen >= {since}"));
        }
        if let Some(until) = filter.until {
            let until = conditions.bind(until);
            conditions.and(format!("s.last_seen < {until}"));
        }
        if let Some(after) = &filter.after {
            let rank = conditions.bind(rank(after.severity));
            let at = conditions.bind(after.last_seen);
            let fingerprint = conditions.bind(after.fingerprint.clone());
            conditions.and(format!(
                "(s.severity_rank > {rank}
                  OR (s.severity_rank = {rank} AND s.last_seen < {at})
                  OR (s.severity_rank = {rank} AND s.last_seen = {at}
                      AND s.fingerprint > {fingerprint}))"
            ));
        }
        let limit = conditions.bind(filter.limit);
        let sql = format!(
            "SELECT {COLUMNS} FROM finding_states s {}
             ORDER BY s.severity_rank, s.last_seen DESC, s.fingerprint LIMIT {limit}",
            conditions.where_clause()
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client.query(&statement, &conditions.values()).await?;
        rows.iter().map(tracked).collect()
    }

    /// One finding `viewer` may see, with its changes, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn tracked_finding(
        &self,
        viewer: &Viewer,
        fingerprint: &str,
    ) -> Result<Option<(TrackedFinding, Vec<FindingEvent>)>, StoreError> {
        let mut conditions = Conditions::default();
        let bound = conditions.bind(fingerprint.to_owned());
        conditions.and(format!("s.fingerprint = {bound}"));
        seen_by(&mut conditions, viewer);
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM finding_states s {}",
                    conditions.where_clause()
                ),
                &conditions.values(),
            )
            .await?
        else {
            return Ok(None);
        };
        let events = client
            .query(
                "SELECT at, execution_id, from_state, to_state, changes, acceptance_id
                 FROM finding_events WHERE fingerprint = $1 ORDER BY id",
                &[&fingerprint],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(FindingEvent {
                    at: row.get(0),
                    run: row.get::<_, Option<Uuid>>(1).map(ExecutionId::from),
                    acceptance_id: row.get(5),
                    from: row.get::<_, Option<&str>>(2).map(state_of).transpose()?,
                    to: state_of(row.get(3))?,
                    changes: row.get(4),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some((tracked(&row)?, events)))
    }
}

/// Only findings that a run `viewer` may see reported.
pub(crate) fn seen_by(conditions: &mut Conditions, viewer: &Viewer) {
    if let Some(visible) = viewer.sees_execution(conditions, "e") {
        conditions.and(format!(
            "EXISTS (SELECT 1 FROM findings f JOIN executions e ON e.id = f.execution_id
                     WHERE f.fingerprint = s.fingerprint AND {visible})"
        ));
    }
}

/// SQL for the rank of the severity named by `expr`, as the `severity_rank` column
/// computes it.
pub(crate) fn severity_rank(expr: &str) -> String {
    let arms: Vec<String> = Severity::ALL
        .into_iter()
        .filter(|s| *s != Severity::Unknown)
        .map(|s| format!("WHEN '{}' THEN {}", s.as_str(), rank(s)))
        .collect();
    format!(
        "CASE {expr} {} ELSE {} END",
        arms.join(" "),
        rank(Severity::Unknown)
    )
}

/// The order of severities in lists (migration 0023's `severity_rank`).
fn rank(severity: Severity) -> i16 {
    match severity {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
        Severity::Informational => 4,
        Severity::Unknown => 5,
    }
}

fn state_of(name: &str) -> Result<FindingState, StoreError> {
    name.parse()
        .map_err(|_| StoreError::Corrupt("finding state"))
}

pub(crate) fn tracked(row: &Row) -> Result<TrackedFinding, StoreError> {
    Ok(TrackedFinding {
        fingerprint: row.get(0),
        tool: tool_of(row.get(1))?,
        account: row.get(2),
        region: row.get(3),
        resource_id: row.get(4),
        check_id: row.get(5),
        title: row.get(6),
        severity: row
            .get::<_, &str>(7)
            .parse()
            .map_err(|_| StoreError::Corrupt("finding severity"))?,
        state: state_of(row.get(8))?,
        first_seen: row.get(9),
        last_seen: row.get(10),
        fixed_at: row.get(11),
        first_run: ExecutionId::from(row.get::<_, Uuid>(12)),
        last_run: ExecutionId::from(row.get::<_, Uuid>(13)),
        acceptance_id: row.get(14),
    })
}
