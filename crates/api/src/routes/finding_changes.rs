//! How findings moved: what changed between two runs of one tool, and each day's
//! findings by state and severity.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use sage_model::ExecutionId;
use sage_model::tools::Tool;
use sage_store::finding_changes::{Change, Changed, DIFF_KEPT};
use serde::{Deserialize, Serialize};

use crate::http::error::{ApiError, FieldProblem};
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::findings::FindingView;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
}

/// The findings of one change: how many, and the gravest `limit` of them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangeView {
    pub total: u64,
    pub findings: Vec<FindingView>,
}

impl From<&Changed> for ChangeView {
    fn from(changed: &Changed) -> Self {
        Self {
            total: changed.total,
            findings: changed.findings.iter().map(FindingView::from).collect(),
        }
    }
}

/// What changed from one run of a tool to another.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiffView {
    pub from: uuid::Uuid,
    pub to: uuid::Uuid,
    pub tool: String,
    /// Failing in `to`, not in `from`, for the first time.
    pub new: ChangeView,
    /// Failing in `to` after a fix.
    pub reopened: ChangeView,
    /// Failing in both.
    pub still_open: ChangeView,
    /// Failing in `from`; `to` covered it and fails it no more.
    pub fixed: ChangeView,
    /// Failing in `from`; `to` did not cover it (another region or check, or a run
    /// that failed or was cut short), so nobody knows.
    pub not_covered: ChangeView,
}

/// What changed between two runs of one tool that the caller may see.
#[utoipa::path(get, path = "/api/v1/findings/diff", tag = "findings",
    params(
        ("from" = String, Query, description = "the earlier run"),
        ("to" = String, Query, description = "the later run, of the same tool"),
        ("limit" = Option<i64>, Query, description = "findings listed per change, 1 to 500, default 100"),
    ),
    responses((status = 200, body = DiffView), (status = 400, body = crate::http::error::ErrorBody), (status = 404)))]
#[get("/api/v1/findings/diff")]
pub async fn diff(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<DiffQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let mut run = |field: &'static str, value: Option<&str>| match value.map(str::parse) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            problems.push(FieldProblem::new(field, "is not a run id"));
            None
        }
        None => {
            problems.push(FieldProblem::new(field, "is required"));
            None
        }
    };
    let (from, to): (Option<ExecutionId>, Option<ExecutionId>) = (
        run("from", query.from.as_deref()),
        run("to", query.to.as_deref()),
    );
    let limit = match query.limit {
        None => Some(100),
        Some(n) if (1..=DIFF_KEPT).contains(&n) => Some(n),
        Some(_) => {
            problems.push(FieldProblem::new(
                "limit",
                format!("must be from 1 to {DIFF_KEPT}"),
            ));
            None
        }
    };
    let (Some(from), Some(to), Some(limit)) = (from, to, limit) else {
        return Err(ApiError::invalid(problems));
    };
    let access = Access::new(&state, &caller);
    access.execution(from).await?;
    access.execution(to).await?;
    let (earlier, later) = (
        state.db.tool_of_run(from).await?,
        state.db.tool_of_run(to).await?,
    );
    let tool = match (earlier, later) {
        (Some(a), Some(b)) if a == b => a,
        (None, _) => return Err(refused("from", "is not a run of a scanner tool")),
        (_, None) => return Err(refused("to", "is not a run of a scanner tool")),
        (Some(a), Some(b)) => {
            return Err(refused(
                "to",
                &format!("is a run of {b}, and from a run of {a}: compare runs of one tool"),
            ));
        }
    };
    let changes = state.db.finding_diff(from, to, limit).await?;
    let of = |change: Change| {
        changes
            .iter()
            .find(|c| c.change == change)
            .map(ChangeView::from)
            .unwrap_or(ChangeView {
                total: 0,
                findings: Vec::new(),
            })
    };
    Ok(HttpResponse::Ok().json(DiffView {
        from: from.as_uuid(),
        to: to.as_uuid(),
        tool: tool.as_str().to_owned(),
        new: of(Change::New),
        reopened: of(Change::Reopened),
        still_open: of(Change::StillOpen),
        fixed: of(Change::Fixed),
        not_covered: of(Change::NotCovered),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendQuery {
    pub tool: Option<String>,
    pub account: Option<String>,
    pub days: Option<i64>,
}

/// One day's findings: `{"<state>": {"<severity>": n}}` at its end.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayView {
    pub day: NaiveDate,
    /// False when no run of the tool ended that day: the day carries the states of the
    /// day before.
    pub scanned: bool,
    #[schema(value_type = Object)]
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
}

/// A tool's findings day by day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrendView {
    pub tool: String,
    pub account: Option<String>,
    /// Oldest first; the last is today (UTC).
    pub days: Vec<DayView>,
}

/// The findings of a tool (of one account, if named) that the caller may see, by
/// state and severity at the end of each of the last `days` days.
#[utoipa::path(get, path = "/api/v1/findings/trends", tag = "findings",
    params(
        ("tool" = String, Query, description = "prowler, scout, steampipe or custodian"),
        ("account" = Option<String>, Query),
        ("days" = Option<i64>, Query, description = "1 to 366, default 90"),
    ),
    responses((status = 200, body = TrendView), (status = 400, body = crate::http::error::ErrorBody)))]
#[get("/api/v1/findings/trends")]
pub async fn trends(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<TrendQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let tool = match query.tool.as_deref().map(str::parse::<Tool>) {
        Some(Ok(tool)) => Some(tool),
        Some(Err(_)) => {
            problems.push(FieldProblem::new(
                "tool",
                "is not one of prowler, scout, steampipe, custodian",
            ));
            None
        }
        None => {
            problems.push(FieldProblem::new("tool", "is required"));
            None
        }
    };
    if query.account.as_deref() == Some("") {
        problems.push(FieldProblem::new("account", "must not be empty"));
    }
    let days = match query.days.map(i32::try_from) {
        None => Some(90),
        Some(Ok(n)) if (1..=366).contains(&n) => Some(n),
        Some(_) => {
            problems.push(FieldProblem::new("days", "must be from 1 to 366"));
            None
        }
    };
    let (Some(tool), Some(days), true) = (tool, days, problems.is_empty()) else {
        return Err(ApiError::invalid(problems));
    };
    let viewer = Access::new(&state, &caller).tool_viewer(tool).await?;
    let found = state
        .db
        .finding_trends(&viewer, tool, query.account.as_deref(), days)
        .await?;
    let days = found
        .into_iter()
        .map(|day| {
            let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
            for (state, severity, n) in day.counts {
                counts
                    .entry(state.as_str().to_owned())
                    .or_default()
                    .insert(severity.as_str().to_owned(), n);
            }
            DayView {
                day: day.day,
                scanned: day.scanned,
                counts,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(TrendView {
        tool: tool.as_str().to_owned(),
        account: query.account,
        days,
    }))
}

fn refused(field: &str, why: &str) -> ApiError {
    ApiError::invalid(vec![FieldProblem::new(field.to_owned(), why.to_owned())])
}
