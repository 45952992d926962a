//! Findings over time: every finding of the scanners' runs with where it stands, and
//! one finding with each change of it. A caller sees a finding when they may see a run
//! that reported it.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, SecondsFormat, Utc};
use sage_model::findings::{FindingState, Severity};
use sage_model::tools::Tool;
use sage_store::finding_history::{FindingEvent, FindingFilter, FindingsAfter, TrackedFinding};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::compliance::{ControlView, FrameworkView, chosen_frameworks, controls};
use crate::routes::pagination::{Listing, MAX_LIMIT, PageQuery};
use crate::routes::risk_acceptances::AcceptanceView;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingQuery {
    pub tool: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub severity: Option<String>,
    pub state: Option<String>,
    pub check: Option<String>,
    /// The start of the resource's id.
    pub resource: Option<String>,
    /// Last seen at or after (RFC 3339).
    pub since: Option<String>,
    /// Last seen before (RFC 3339).
    pub until: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A finding: one (tool, account, region, resource, check), and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FindingView {
    /// sha256 of its identity, stable across runs and tool versions.
    pub fingerprint: String,
    pub tool: String,
    pub account: String,
    /// `global` for global services.
    pub region: String,
    pub resource: String,
    pub check: String,
    /// The tool's latest words for it.
    pub title: String,
    pub severity: String,
    /// new, open, fixed, reopened or accepted.
    pub state: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub fixed_at: Option<DateTime<Utc>>,
    pub first_run: Uuid,
    pub last_run: Uuid,
    /// The risk acceptance it stands accepted by (`state` accepted).
    pub acceptance_id: Option<Uuid>,
}

impl From<&TrackedFinding> for FindingView {
    fn from(finding: &TrackedFinding) -> Self {
        Self {
            fingerprint: finding.fingerprint.clone(),
            tool: finding.tool.as_str().to_owned(),
            account: finding.account.clone(),
            region: finding.region.clone(),
            resource: finding.resource_id.clone(),
            check: finding.check_id.clone(),
            title: finding.title.clone(),
            severity: finding.severity.as_str().to_owned(),
            state: finding.state.as_str().to_owned(),
            first_seen: finding.first_seen,
            last_seen: finding.last_seen,
            fixed_at: finding.fixed_at,
            first_run: finding.first_run.as_uuid(),
            last_run: finding.last_run.as_uuid(),
            acceptance_id: finding.acceptance_id,
        }
    }
}

/// One change of a finding, and the run that made it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FindingEventView {
    pub at: DateTime<Utc>,
    /// The run that made the change; none for a risk acceptance's approval or end.
    pub run: Option<Uuid>,
    /// The risk acceptance that made it, or that a run's new finding fell under.
    pub acceptance_id: Option<Uuid>,
    /// Absent for its first sighting.
    pub from: Option<String>,
    pub to: String,
    /// A change of title or severity: `{"severity": {"from": "high", "to": "critical"}}`.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Value>,
}

impl From<&FindingEvent> for FindingEventView {
    fn from(event: &FindingEvent) -> Self {
        Self {
            at: event.at,
            run: event.run.map(|run| run.as_uuid()),
            acceptance_id: event.acceptance_id,
            from: event.from.map(|s| s.as_str().to_owned()),
            to: event.to.as_str().to_owned(),
            changes: event.changes.clone(),
        }
    }
}

/// A finding with its history, oldest change first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FindingDetail {
    #[serde(flatten)]
    pub finding: FindingView,
    pub history: Vec<FindingEventView>,
    /// The risk acceptance it stands accepted by: who asked, who approved, why, until.
    pub acceptance: Option<AcceptanceView>,
}

/// Findings the caller may see, gravest first, then the latest seen.
#[utoipa::path(get, path = "/api/v1/findings", tag = "findings",
    params(
        ("tool" = Option<String>, Query, description = "prowler, scout, steampipe or custodian"),
        ("account" = Option<String>, Query),
        ("region" = Option<String>, Query, description = "`global` for global services"),
        ("severity" = Option<String>, Query, description = "critical, high, medium, low, informational or unknown"),
        ("state" = Option<String>, Query, description = "new, open, fixed, reopened or accepted"),
        ("check" = Option<String>, Query),
        ("resource" = Option<String>, Query, description = "the start of the resource's id"),
        ("since" = Option<String>, Query, description = "last seen at or after (RFC 3339)"),
        ("until" = Option<String>, Query, description = "last seen before (RFC 3339)"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the page before"),
    ),
    responses((status = 200, body = Listing<FindingView>), (status = 400, body = crate::http::error::ErrorBody)))]
#[get("/api/v1/findings")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<FindingQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let mut problems = Vec::new();
    let account = parse(&mut problems, "account", query.account.as_deref(), given);
    let region = parse(&mut problems, "region", query.region.as_deref(), |v| {
        given(v).map(|r| r.to_ascii_lowercase())
    });
    let check = parse(&mut problems, "check", query.check.as_deref(), given);
    let resource = parse(&mut problems, "resource", query.resource.as_deref(), given);
    let tool = parse(&mut problems, "tool", query.tool.as_deref(), |v| {
        v.parse::<Tool>()
            .map_err(|_| "is not one of prowler, scout, steampipe, custodian".to_owned())
    });
    let severity = parse(
        &mut problems,
        "severity",
        query.severity.as_deref(),
        str::parse::<Severity>,
    );
    let finding_state = parse(
        &mut problems,
        "state",
        query.state.as_deref(),
        str::parse::<FindingState>,
    );
    let since = parse(&mut problems, "since", query.since.as_deref(), time);
    let until = parse(&mut problems, "until", query.until.as_deref(), time);
    let after = parse(&mut problems, "cursor", query.cursor.as_deref(), |v| {
        read_cursor(v).ok_or_else(|| "is not a cursor this api gave".to_owned())
    });
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    let viewer = Access::new(&state, &caller).execution_viewer();
    let filter = FindingFilter {
        tool,
        account,
        region,
        severity,
        state: finding_state,
        check,
        resource,
        resource_id: None,
        since,
        until,
        after,
        limit: limit + 1,
    };
    let mut items = state.db.tracked_findings(&viewer, &filter).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(cursor_of)
    } else {
        None
    };
    let items = items.iter().map(FindingView::from).collect();
    Ok(HttpResponse::Ok().json(Listing { items, next_cursor }))
}

/// A finding the caller may see, with every change of it; else 404.
#[utoipa::path(get, path = "/api/v1/findings/{fingerprint}", tag = "findings",
    params(("fingerprint" = String, Path, description = "64 lowercase hex digits")),
    responses((status = 200, body = FindingDetail), (status = 404)))]
#[get("/api/v1/findings/{fingerprint}")]
pub async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    fingerprint: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let fingerprint = fingerprint.into_inner();
    if !is_fingerprint(&fingerprint) {
        return Err(ApiError::NotFound);
    }
    let viewer = Access::new(&state, &caller).execution_viewer();
    let (finding, events) = state
        .db
        .tracked_finding(&viewer, &fingerprint)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Who accepted it, why and until when: shown to whoever sees the finding.
    let acceptance = match finding.acceptance_id {
        Some(id) => state.db.acceptance(id).await?,
        None => None,
    };
    Ok(HttpResponse::Ok().json(FindingDetail {
        finding: FindingView::from(&finding),
        history: events.iter().map(FindingEventView::from).collect(),
        acceptance: acceptance.as_ref().map(AcceptanceView::from),
    }))
}

fn parse<T>(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    value: Option<&str>,
    read: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    read(value?)
        .map_err(|why| problems.push(FieldProblem::new(field, why)))
        .ok()
}

fn given(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(value.to_owned())
    }
}

fn time(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| "is not an RFC 3339 time such as 2026-12-01T09:00:00Z".to_owned())
}

fn is_fingerprint(value: &str) -> bool {
    value.len() == 64 && value.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// `<severity>_<last seen>_<fingerprint>` of a page's last finding (`Z`, not `+00:00`:
/// a `+` pasted into a query string arrives as a space).
fn cursor_of(finding: &TrackedFinding) -> String {
    let at = finding
        .last_seen
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    format!("{}_{at}_{}", finding.severity.as_str(), finding.fingerprint)
}

fn read_cursor(cursor: &str) -> Option<FindingsAfter> {
    let mut parts = cursor.splitn(3, '_');
    let severity = parts.next()?.parse().ok()?;
    let last_seen = DateTime::parse_from_rfc3339(parts.next()?)
        .ok()?
        .with_timezone(&Utc);
    let fingerprint = parts.next().filter(|f| is_fingerprint(f))?.to_owned();
    Some(FindingsAfter {
        severity,
        last_seen,
        fingerprint,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceQuery {
    /// Framework names, comma-separated; empty for none.
    pub compliance: Option<String>,
}

/// Every tool's findings on one resource, gravest first, and the requirements of the
/// chosen frameworks they fall under.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceView {
    /// The resource's id as findings hold it (an S3 bucket's ARN is its name).
    pub resource: String,
    pub items: Vec<FindingView>,
    /// The frameworks the findings are grouped under.
    pub frameworks: Vec<FrameworkView>,
    /// Each requirement naming the check of a finding here, framework by framework in
    /// the framework's order; a finding may sit under several, or under none.
    pub controls: Vec<ControlView>,
}

/// The findings of every tool on one resource that the caller may see: a Prowler
/// check, a Scout Suite rule and a Custodian policy on the same bucket together, and
/// under each CIS or ISMS-P requirement whose checks reported them.
#[utoipa::path(get, path = "/api/v1/resources/{resource}", tag = "findings",
    params(
        ("resource" = String, Path, description = "the resource's id or ARN, percent-encoded"),
        ("compliance" = Option<String>, Query, description = "frameworks to group under, comma-separated (GET /api/v1/compliance/frameworks); default the newest CIS of each cloud and kisa_isms_p_2023_aws; empty for none"),
    ),
    responses((status = 200, body = ResourceView), (status = 400, body = crate::http::error::ErrorBody)))]
#[get("/api/v1/resources/{resource:.+}")]
pub async fn by_resource(
    caller: Caller,
    state: web::Data<AppState>,
    resource: web::Path<String>,
    query: web::Query<ResourceQuery>,
) -> Result<HttpResponse, ApiError> {
    let frameworks = chosen_frameworks(&state, query.compliance.as_deref()).await?;
    // The router keeps an encoded slash encoded, so that it cannot split the path.
    let given = resource
        .into_inner()
        .replace("%2F", "/")
        .replace("%2f", "/");
    let resource = sage_model::findings::resource(&given);
    let viewer = Access::new(&state, &caller).execution_viewer();
    let filter = FindingFilter {
        resource_id: Some(resource.clone()),
        limit: MAX_LIMIT,
        ..FindingFilter::default()
    };
    let items = state.db.tracked_findings(&viewer, &filter).await?;
    Ok(HttpResponse::Ok().json(ResourceView {
        resource,
        items: items.iter().map(FindingView::from).collect(),
        controls: controls(&frameworks, &items),
        frameworks: frameworks.iter().map(FrameworkView::from).collect(),
    }))
}
