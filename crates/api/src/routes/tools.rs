//! The scanner tools: which exist and whether the workers' scanner image holds them, a
//! run of one (its module's run, with the tool's options as a flat body), and its
//! latest finished run with the finding counts and artifacts.

use actix_web::http::header;
use actix_web::{HttpResponse, routes, web};
use chrono::{DateTime, Utc};
use sage_model::tools::Tool;
use sage_store::tools::ToolEntry;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::artifacts::{ArtifactView, view as artifact_view};
use crate::routes::executions::ExecutionView;
use crate::state::AppState;
use crate::submission::{Submission, submit};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolView {
    /// `prowler`, `scout`, `steampipe` or `custodian`.
    pub name: &'static str,
    /// The tool's module; `null` while it is not installed.
    pub module_id: Option<Uuid>,
    pub available: bool,
    pub unavailable_reason: Option<String>,
    pub tool_version: Option<String>,
    /// Its latest finished run, when the caller may see that run.
    pub latest_execution_id: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolList {
    pub items: Vec<ToolView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LatestRun {
    pub tool: &'static str,
    pub tool_version: Option<String>,
    /// `{"<status>": {"<severity>": n}}`, from the findings of the run's outputs.
    #[schema(value_type = Object)]
    pub counts: Value,
    pub finished_at: DateTime<Utc>,
    pub execution: ExecutionView,
    /// The run's record, `runs/<YYYYMM>/<id>/result.json`, and its outputs.
    pub artifacts: Vec<ArtifactView>,
}

fn tool_of(name: &str) -> Result<Tool, ApiError> {
    name.parse().map_err(|_| ApiError::NotFound)
}

/// Every scanner tool, installed or not, with whether it can run.
#[utoipa::path(get, path = "/api/v1/tools", tag = "tools",
    responses((status = 200, body = ToolList), (status = 401)))]
#[routes]
#[get("/api/v1/tools")]
#[get("/oss/api/oss-list")]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let installed = state.db.tools().await?;
    let access = Access::new(&state, &caller);
    let mut items = Vec::with_capacity(Tool::ALL.len());
    for tool in Tool::ALL {
        let item = match installed.iter().find(|entry| entry.tool == tool) {
            Some(entry) => {
                let visible = match entry.latest_execution_id {
                    Some(id) => access.execution(id).await.is_ok(),
                    None => false,
                };
                entry_view(entry, visible)
            }
            None => ToolView {
                name: tool.as_str(),
                module_id: None,
                available: false,
                unavailable_reason: Some(format!(
                    "not installed: its driver {} is not in the script library",
                    tool.driver()
                )),
                tool_version: None,
                latest_execution_id: None,
            },
        };
        items.push(item);
    }
    Ok(HttpResponse::Ok().json(ToolList { items }))
}

fn entry_view(entry: &ToolEntry, visible: bool) -> ToolView {
    ToolView {
        name: entry.tool.as_str(),
        module_id: Some(entry.module_id.as_uuid()),
        available: entry.available,
        unavailable_reason: entry.unavailable_reason.clone(),
        tool_version: entry.tool_version.clone(),
        latest_execution_id: entry
            .latest_execution_id
            .filter(|_| visible)
            .map(|id| id.as_uuid()),
    }
}

async fn installed(state: &AppState, tool: Tool) -> Result<ToolEntry, ApiError> {
    state
        .db
        .tools()
        .await?
        .into_iter()
        .find(|entry| entry.tool == tool)
        .ok_or(ApiError::NotFound)
}

/// A tool run as the tool routes take it: the module's parameters as the body itself,
/// and optionally `version`.
#[derive(Debug, Deserialize)]
pub struct ToolRunBody {
    pub version: Option<i32>,
    #[serde(flatten)]
    pub params: Map<String, Value>,
}

/// Runs a tool: the body holds its module's parameters (`provider`, `region`,
/// `iam_role_arn`, … and the tool's options) and optionally `version`. 202 with the
/// execution; 409 `tool_unavailable` when the scanner image lacks the tool.
#[utoipa::path(post, path = "/api/v1/tools/{tool}/runs", tag = "tools",
    params(("tool" = String, Path, description = "prowler, scout, steampipe or custodian")),
    request_body(content = Object, description = "The tool's parameters, flat; `version` picks a module version"),
    responses((status = 202, body = ExecutionView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404),
              (status = 409, body = crate::http::error::ErrorBody, description = "the tool is unavailable, or the version is retired")))]
#[routes]
#[post("/api/v1/tools/{tool}/runs")]
#[post("/oss/api/run/{tool}")]
#[post("/oss/api/oss/{tool}/run")]
pub async fn start(
    caller: Caller,
    state: web::Data<AppState>,
    tool: web::Path<String>,
    body: ValidatedJson<ToolRunBody>,
) -> Result<HttpResponse, ApiError> {
    let tool = tool_of(&tool)?;
    let entry = installed(&state, tool).await?;
    let module = Access::new(&state, &caller)
        .runnable_module(entry.module_id)
        .await?;
    let ToolRunBody { version, params } = body.0;
    let submission = Submission {
        module: &module,
        version,
        params: &Value::Object(params),
    };
    let execution = submit(&state, &caller, submission)
        .await
        .map_err(flat_fields)?;
    Ok(HttpResponse::Accepted().json(ExecutionView::from(&execution)))
}

/// The tool routes take the parameters as the body itself: `params.region` is `region`.
fn flat_fields(error: ApiError) -> ApiError {
    match error {
        ApiError::Validation { fields, .. } => ApiError::invalid(
            fields
                .into_iter()
                .map(|problem| {
                    let field = match problem.field.strip_prefix("params") {
                        Some("") => "body".to_owned(),
                        Some(rest) => rest.trim_start_matches('.').to_owned(),
                        None => problem.field,
                    };
                    FieldProblem::new(field, problem.message)
                })
                .collect(),
        ),
        other => other,
    }
}

/// The tool's latest finished run, with its counts and fresh download URLs; 404 until
/// the tool has run (or when the caller may not see that run).
#[utoipa::path(get, path = "/api/v1/tools/{tool}/runs/latest", tag = "tools",
    params(("tool" = String, Path, description = "prowler, scout, steampipe or custodian")),
    responses((status = 200, body = LatestRun), (status = 404)))]
#[routes]
#[get("/api/v1/tools/{tool}/runs/latest")]
#[get("/oss/api/oss/{tool}/runs/latest")]
pub async fn latest(
    caller: Caller,
    state: web::Data<AppState>,
    tool: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tool = tool_of(&tool)?;
    let run = state
        .db
        .latest_tool_run(tool, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let execution = Access::new(&state, &caller)
        .execution(run.execution_id)
        .await?;
    let expires_at = Utc::now() + state.artifacts.ttl;
    let mut artifacts = Vec::new();
    for artifact in state.db.artifacts(execution.id).await? {
        artifacts.push(artifact_view(&state, artifact, expires_at).await?);
    }
    let answer = LatestRun {
        tool: tool.as_str(),
        tool_version: run.tool_version,
        counts: run.counts,
        finished_at: run.finished_at,
        execution: ExecutionView::from(&execution),
        artifacts,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
