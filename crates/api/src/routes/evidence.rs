//! `POST /api/v1/evidence`: an evidence report over executions the caller may view,
//! returned with presigned URLs of its PDF and JSON summary; `GET` reads it again.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::{HttpResponse, get, routes, web};
use chrono::{SecondsFormat, Utc};
use sage_findings::Tool;
use sage_findings::report::Lang;
use sage_model::ExecutionId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Access;
use crate::auth::Caller;
use crate::error::{ApiError, FieldProblem};
use crate::evidence::{Order, create};
use crate::extract::ValidatedJson;
use crate::routes::artifacts::{ArtifactView, view};
use crate::state::AppState;

/// Executions one report may cover: each brings up to its artifact limit to parse.
const MAX_EXECUTIONS: usize = 10;
const MAX_TITLE_CHARS: usize = 200;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>)]
    pub execution_ids: Vec<ExecutionId>,
    pub title: Option<String>,
    pub lang: Option<String>,
    pub tools: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceView {
    pub id: Uuid,
    pub title: String,
    pub lang: String,
    pub execution_ids: Vec<Uuid>,
    pub created_by: String,
    pub created_at: String,
    pub pdf: ArtifactView,
    /// The JSON summary as a file beside the PDF.
    pub summary_file: ArtifactView,
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

fn order(request: EvidenceRequest) -> Result<Order, ApiError> {
    let mut problems = Vec::new();
    let ids = &request.execution_ids;
    let distinct: BTreeSet<&ExecutionId> = ids.iter().collect();
    if ids.is_empty() || ids.len() > MAX_EXECUTIONS || distinct.len() != ids.len() {
        problems.push(FieldProblem::new(
            "execution_ids",
            format!("must name 1 to {MAX_EXECUTIONS} distinct executions"),
        ));
    }
    if let Some(title) = &request.title
        && (title.trim().is_empty()
            || title.chars().count() > MAX_TITLE_CHARS
            || title.chars().any(char::is_control))
    {
        problems.push(FieldProblem::new(
            "title",
            format!("must be 1 to {MAX_TITLE_CHARS} characters without control characters"),
        ));
    }
    let lang = match request.lang.as_deref().map(str::parse::<Lang>) {
        None => Lang::En,
        Some(Ok(lang)) => lang,
        Some(Err(message)) => {
            problems.push(FieldProblem::new("lang", message));
            Lang::En
        }
    };
    let tools = request.tools.as_ref().map(|names| {
        names
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                name.parse::<Tool>()
                    .map_err(|message| {
                        problems.push(FieldProblem::new(format!("tools[{i}]"), message))
                    })
                    .ok()
            })
            .collect::<BTreeSet<Tool>>()
    });
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    Ok(Order {
        execution_ids: request.execution_ids,
        title: request.title.map(|t| t.trim().to_owned()),
        lang,
        tools,
    })
}

/// Builds a report from the scanner outputs among the executions' artifacts, whatever
/// module produced them. The caller must be allowed to view every execution named.
#[utoipa::path(post, path = "/api/v1/evidence", tag = "evidence", request_body = EvidenceRequest,
    responses((status = 201, body = EvidenceView), (status = 400, body = crate::error::ErrorBody), (status = 404), (status = 409), (status = 422)))]
#[routes]
#[post("/api/v1/evidence")]
#[post("/oss/api/evidence/pdf")]
pub async fn create_report(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<EvidenceRequest>,
) -> Result<HttpResponse, ApiError> {
    let order = order(body.0)?;
    let access = Access::new(&state, &caller);
    for id in &order.execution_ids {
        let execution = access.execution(*id).await?;
        if !execution.status.is_terminal() {
            return Err(ApiError::Conflict(format!(
                "execution {id} is {}: its artifacts are not complete yet",
                execution.status
            )));
        }
    }
    let evidence = create(&state, order, caller.user.id, &caller.audit).await?;
    respond(&state, evidence, HttpResponse::Created()).await
}

/// A report, with fresh download URLs: for its creator, admins and auditors.
#[utoipa::path(get, path = "/api/v1/evidence/{id}", tag = "evidence",
    responses((status = 200, body = EvidenceView), (status = 404)))]
#[get("/api/v1/evidence/{id}")]
pub async fn get_report(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let evidence = state.db.evidence(*id).await?.ok_or(ApiError::NotFound)?;
    let evidence = Access::new(&state, &caller).evidence(evidence)?;
    respond(&state, evidence, HttpResponse::Ok()).await
}

async fn respond(
    state: &AppState,
    evidence: sage_store::evidence::Evidence,
    mut response: actix_web::HttpResponseBuilder,
) -> Result<HttpResponse, ApiError> {
    let expires_at = Utc::now() + state.artifact_url_ttl;
    let file = |name: &str| evidence.files.iter().find(|f| f.name == name).cloned();
    let (Some(pdf), Some(summary_file)) = (file("report.pdf"), file("summary.json")) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "evidence {} lacks its files",
            evidence.id
        )));
    };
    let view = EvidenceView {
        id: evidence.id,
        title: evidence.title,
        lang: evidence.lang,
        execution_ids: evidence
            .execution_ids
            .iter()
            .map(ExecutionId::as_uuid)
            .collect(),
        created_by: evidence.created_by,
        created_at: evidence
            .created_at
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        pdf: view(state, pdf, expires_at).await?,
        summary_file: view(state, summary_file, expires_at).await?,
        summary: evidence.summary,
    };
    Ok(response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}
