//! Executions: submission (validated, stored with its job in one transaction) and reads
//! limited to what the caller may see.

use actix_web::{HttpResponse, post, routes, web};
use chrono::{DateTime, SecondsFormat, Utc};
use sage_model::{EndReason, ExecutionId, ExecutionStatus, ModuleId};
use sage_store::approvals::{Decision, DecisionOutcome};
use sage_store::executions::{CancelFilter, CancelOutcome, Execution, ExecutionFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::pagination::{Listing, PageQuery};
use crate::state::AppState;
use crate::submission::{Submission, submit as submit_run};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The run's parameters, checked against the version's schema.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub params: Value,
    /// A version of the module; the latest when left out.
    pub version: Option<i32>,
}

fn empty_object() -> Value {
    json!({})
}

/// An execution as the HTTP contract describes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExecutionView {
    pub id: Uuid,
    pub module_id: Uuid,
    pub module_version: i32,
    /// The requester's email.
    pub requested_by: String,
    /// The run's parameters; secret values are `"***"`.
    #[schema(value_type = Object)]
    pub params: Value,
    #[schema(schema_with = crate::http::schema::execution_status)]
    pub status: ExecutionStatus,
    /// Why it ended, for every end but a success (`exit_code`, `oom`, `timeout`,
    /// `output_limit`, `cancelled_by`, `run_revoked`, `worker_lost`, `rejected_by`,
    /// `approval_expired`, `artifacts_not_kept`, or why it could not start).
    pub reason: Option<&'static str>,
    pub exit_code: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Bytes the script printed, including any past its output limit.
    pub output_bytes: i64,
    /// Whether the log stops at the output limit.
    pub truncated: bool,
    /// Approvals its version needs (0: none).
    pub approvals_required: i32,
    /// Until when it may wait for them; only while it waits.
    pub approval_expires_at: Option<DateTime<Utc>>,
    /// When retention removed its log, artifacts and findings (the module's
    /// `retention.effective_days` after it ended).
    pub purged_at: Option<DateTime<Utc>>,
    pub approvals: Vec<ApprovalView>,
}

/// One approver's decision on a run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    /// The approver's email.
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: String,
    pub comment: String,
    pub decided_at: DateTime<Utc>,
}

impl From<&Execution> for ExecutionView {
    fn from(execution: &Execution) -> Self {
        Self {
            id: execution.id.as_uuid(),
            module_id: execution.module_id.as_uuid(),
            module_version: execution.module_version,
            requested_by: execution.requested_by.clone(),
            params: execution.params.clone(),
            status: execution.status,
            reason: execution.end.and_then(EndReason::as_str),
            exit_code: execution.end.and_then(EndReason::exit_code),
            created_at: execution.created_at,
            started_at: execution.started_at,
            finished_at: execution.finished_at,
            output_bytes: execution.output_bytes,
            truncated: execution.truncated,
            approvals_required: execution.approvals_required,
            approval_expires_at: execution.approval_expires_at,
            purged_at: execution.purged_at,
            approvals: execution
                .approvals
                .iter()
                .map(|approval| ApprovalView {
                    approver: approval.approver.clone(),
                    decision: approval.decision.clone(),
                    comment: approval.comment.clone(),
                    decided_at: approval.decided_at,
                })
                .collect(),
        }
    }
}

/// Runs a module: 202 with the execution, queued or awaiting approval. A run of an
/// older version needs at least the approvals of the latest; a retired version is 409.
#[utoipa::path(post, path = "/api/v1/modules/{id}/executions", tag = "executions", request_body = RunRequest,
    params(("id" = uuid::Uuid, Path, description = "The module's id")),
    responses((status = 202, body = ExecutionView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404),
              (status = 409, body = crate::http::error::ErrorBody, description = "the version is retired")))]
#[post("/api/v1/modules/{id}/executions")]
pub async fn submit(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ModuleId>,
    body: ValidatedJson<RunRequest>,
) -> Result<HttpResponse, ApiError> {
    let module = Access::new(&state, &caller).runnable_module(*id).await?;
    let submission = Submission {
        module: &module,
        version: body.0.version,
        params: &body.0.params,
    };
    let execution = submit_run(&state, &caller, submission).await?;
    Ok(HttpResponse::Accepted().json(ExecutionView::from(&execution)))
}

#[utoipa::path(get, path = "/api/v1/executions/{id}", tag = "executions",
    params(("id" = uuid::Uuid, Path, description = "The execution's id")),
    responses((status = 200, body = ExecutionView), (status = 404)))]
#[routes]
#[get("/api/v1/executions/{id}")]
#[get("/oss/api/runs/{id}")]
pub async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ExecutionId>,
) -> Result<HttpResponse, ApiError> {
    let execution = Access::new(&state, &caller).execution(*id).await?;
    Ok(HttpResponse::Ok().json(ExecutionView::from(&execution)))
}

/// Cancels a run that has not ended: 202 with the execution, now `cancelled`. A
/// running container is killed by its worker within moments. The requester or an
/// admin; an execution that already ended is a 409.
#[utoipa::path(post, path = "/api/v1/executions/{id}/cancel", tag = "executions",
    params(("id" = uuid::Uuid, Path, description = "The execution's id")),
    responses((status = 202, body = ExecutionView), (status = 403), (status = 404), (status = 409)))]
#[post("/api/v1/executions/{id}/cancel")]
pub async fn cancel(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ExecutionId>,
) -> Result<HttpResponse, ApiError> {
    let execution = Access::new(&state, &caller)
        .cancellable_execution(*id)
        .await?;
    match state
        .db
        .cancel_execution(execution.id, &caller.audit)
        .await?
    {
        CancelOutcome::Cancelled(execution) => {
            state.metrics.ended(&state.db, &execution).await;
            Ok(HttpResponse::Accepted().json(ExecutionView::from(&*execution)))
        }
        CancelOutcome::AlreadyEnded(status) => Err(ApiError::Conflict(format!(
            "the execution already ended ({status}); there is nothing to cancel"
        ))),
    }
}

/// Which runs to cancel at once: of a module, of a user, in some statuses (default:
/// every status a run has not ended in).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelManyRequest {
    #[schema(value_type = Option<uuid::Uuid>)]
    pub module_id: Option<ModuleId>,
    /// A user's email: your own (the default), or anyone's for an admin.
    pub requested_by: Option<String>,
    /// Of `queued`, `awaiting_approval`, `running`.
    pub status: Option<Vec<String>>,
}

/// What a cancellation of many did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CancelManyView {
    pub cancelled: usize,
    /// Of them, running: their workers were told to stop.
    pub running: usize,
}

/// Cancels every run that matches, in one request: your own runs, or an admin's
/// choice of a module's or a user's; 200 with how many. Audited as
/// `execution.cancel_many`, one event per 1,000 runs, each naming its runs.
#[utoipa::path(post, path = "/api/v1/executions/cancel", tag = "executions", request_body = CancelManyRequest,
    responses((status = 200, body = CancelManyView), (status = 400, body = crate::http::error::ErrorBody), (status = 403)))]
#[post("/api/v1/executions/cancel")]
pub async fn cancel_many(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<CancelManyRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let unended = [
        ExecutionStatus::Queued,
        ExecutionStatus::AwaitingApproval,
        ExecutionStatus::Running,
    ];
    let statuses = match request.status {
        None => unended.to_vec(),
        Some(names) => names
            .iter()
            .map(|name| {
                unended
                    .into_iter()
                    .find(|s| s.as_str() == name)
                    .ok_or_else(|| {
                        ApiError::invalid(vec![FieldProblem::new(
                            "status",
                            format!("{name:?} is not one of queued, awaiting_approval, running"),
                        )])
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    if statuses.is_empty() {
        return Err(ApiError::invalid(vec![FieldProblem::new(
            "status",
            "name at least one status, or leave it out",
        )]));
    }
    let requested_by = Access::new(&state, &caller)
        .cancel_filter(request.module_id, request.requested_by.as_deref())?;
    let filter = CancelFilter {
        module: request.module_id,
        requested_by,
        statuses,
    };
    let done = state.db.cancel_many(&filter, &caller.audit).await?;
    Ok(HttpResponse::Ok().json(CancelManyView {
        cancelled: done.cancelled,
        running: done.running,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Why: kept with the decision and shown in the execution's `approvals`.
    pub comment: String,
}

/// Longest decision comment, in characters.
const MAX_COMMENT_CHARS: usize = 2000;

/// Approves a run waiting for approval: 200 with the execution, queued once enough
/// distinct approvers approved. Admins and approvers who may see the run; never its
/// requester.
#[utoipa::path(post, path = "/api/v1/executions/{id}/approve", tag = "executions", request_body = DecisionRequest,
    params(("id" = uuid::Uuid, Path, description = "The execution's id")),
    responses((status = 200, body = ExecutionView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404), (status = 409)))]
#[post("/api/v1/executions/{id}/approve")]
pub async fn approve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ExecutionId>,
    body: ValidatedJson<DecisionRequest>,
) -> Result<HttpResponse, ApiError> {
    decide(&caller, &state, *id, &body.0, Decision::Approve).await
}

/// Rejects a run waiting for approval: 200 with the execution, now `rejected`.
#[utoipa::path(post, path = "/api/v1/executions/{id}/reject", tag = "executions", request_body = DecisionRequest,
    params(("id" = uuid::Uuid, Path, description = "The execution's id")),
    responses((status = 200, body = ExecutionView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404), (status = 409)))]
#[post("/api/v1/executions/{id}/reject")]
pub async fn reject(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ExecutionId>,
    body: ValidatedJson<DecisionRequest>,
) -> Result<HttpResponse, ApiError> {
    decide(&caller, &state, *id, &body.0, Decision::Reject).await
}

async fn decide(
    caller: &Caller,
    state: &AppState,
    id: ExecutionId,
    request: &DecisionRequest,
    decision: Decision,
) -> Result<HttpResponse, ApiError> {
    let execution = Access::new(state, caller).decidable_execution(id).await?;
    let comment = request.comment.trim();
    if comment.chars().count() > MAX_COMMENT_CHARS
        || comment.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::invalid(vec![FieldProblem::new(
            "comment",
            "must be at most 2000 characters without control characters",
        )]));
    }
    match state
        .db
        .decide(
            execution.id,
            caller.user.id,
            decision,
            comment,
            &caller.audit,
        )
        .await?
    {
        DecisionOutcome::Decided(execution) => {
            state.metrics.ended(&state.db, &execution).await;
            Ok(HttpResponse::Ok().json(ExecutionView::from(&*execution)))
        }
        DecisionOutcome::NotAwaiting(status) => Err(ApiError::Conflict(format!(
            "the execution is {status}, not awaiting approval"
        ))),
        DecisionOutcome::AlreadyDecided => {
            Err(ApiError::Conflict("you already decided on this run".into()))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub module_id: Option<ModuleId>,
    pub status: Option<String>,
    pub requested_by: Option<String>,
    /// Submitted at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Submitted before this time (RFC 3339).
    pub until: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Cursors are `<created_at>_<id>` of the last item of the previous page.
fn parse_cursor(cursor: &str) -> Option<(DateTime<Utc>, ExecutionId)> {
    let (at, id) = cursor.rsplit_once('_')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        id.parse().ok()?,
    ))
}

/// The executions the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/executions", tag = "executions",
    responses((status = 200, body = Listing<ExecutionView>), (status = 400, body = crate::http::error::ErrorBody)))]
#[routes]
#[get("/api/v1/executions")]
#[get("/runs")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut problems = Vec::new();
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let status = match query.status.as_deref().map(str::parse::<ExecutionStatus>) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(_)) => {
            problems.push(FieldProblem::new("status", "is not an execution status"));
            None
        }
    };
    let after = match query.cursor.as_deref().map(parse_cursor) {
        None => None,
        Some(Some(after)) => Some(after),
        Some(None) => {
            problems.push(FieldProblem::new("cursor", "is not a cursor this api gave"));
            None
        }
    };
    let mut time = |field: &'static str, value: Option<&str>| {
        let parsed = value.map(DateTime::parse_from_rfc3339)?;
        parsed
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| {
                problems.push(FieldProblem::new(
                    field,
                    "is not an RFC 3339 time such as 2026-12-01T09:00:00Z",
                ));
            })
            .ok()
    };
    let since = time("since", query.since.as_deref());
    let until = time("until", query.until.as_deref());
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    let viewer = Access::new(&state, &caller).execution_viewer();
    let filter = ExecutionFilter {
        module_id: query.module_id,
        status,
        requested_by: query.requested_by.map(|e| e.to_lowercase()),
        since,
        until,
        after,
        limit: limit + 1,
    };
    let mut items = state.db.executions(&viewer, &filter).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items
            .last()
            // `Z`, not `+00:00`: a `+` pasted into a query string arrives as a space.
            .map(|e| {
                let at = e.created_at.to_rfc3339_opts(SecondsFormat::Micros, true);
                format!("{at}_{}", e.id)
            })
    } else {
        None
    };
    let items = items.iter().map(ExecutionView::from).collect();
    Ok(HttpResponse::Ok().json(Listing { items, next_cursor }))
}
