//! Risk acceptance, decided by two people: anyone who sees findings may ask that they
//! be accepted until a date, with a reason; a second person (an admin or approver who
//! sees them, never the requester) approves or rejects; the requester or a decider may
//! revoke. An approved acceptance holds its findings `accepted` until it ends.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sage_model::acceptance::{AcceptanceRequest, AcceptanceScope, AcceptanceStatus};
use sage_model::tools::Tool;
use sage_store::risk_acceptances::{Acceptance, AcceptanceDecision, AcceptanceFilter, StepOutcome};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::pagination::{Listing, PageQuery, page_of, read_time_cursor, time_cursor};
use crate::state::AppState;

/// A request: one finding (`fingerprint`), or a check's findings (`tool` and `check`,
/// narrowed by `accounts`, `regions` and a `resource` pattern where `*` is any run of
/// characters; each absent: any), with a reason and an expiry.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceBody {
    /// Required with `check`; a finding names its own.
    pub tool: Option<String>,
    pub fingerprint: Option<String>,
    pub check: Option<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    pub resource: Option<String>,
    pub reason: Option<String>,
    /// At most `ACCEPTANCE_MAX_DAYS` (default 365) ahead.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A risk acceptance and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AcceptanceView {
    pub id: Uuid,
    pub tool: String,
    /// One finding's fingerprint, or none for a check's pattern.
    pub fingerprint: Option<String>,
    pub check: Option<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub resource: Option<String>,
    pub reason: String,
    pub expires_at: DateTime<Utc>,
    /// requested, approved, rejected, revoked or expired.
    pub status: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// Who approved or rejected it, when, and why.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_comment: Option<String>,
    /// Who revoked it, when, and why (none when it expired by itself).
    pub ended_by: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_comment: Option<String>,
    /// The findings it holds accepted now.
    pub findings: i64,
}

impl From<&Acceptance> for AcceptanceView {
    fn from(acceptance: &Acceptance) -> Self {
        let (fingerprint, check, accounts, regions, resource) = match &acceptance.scope {
            AcceptanceScope::Finding { fingerprint } => (
                Some(fingerprint.clone()),
                None,
                Vec::new(),
                Vec::new(),
                None,
            ),
            AcceptanceScope::Pattern(pattern) => (
                None,
                Some(pattern.check.clone()),
                pattern.accounts.clone(),
                pattern.regions.clone(),
                pattern.resource.as_ref().map(ToString::to_string),
            ),
        };
        Self {
            id: acceptance.id,
            tool: acceptance.tool.as_str().to_owned(),
            fingerprint,
            check,
            accounts,
            regions,
            resource,
            reason: acceptance.reason.clone(),
            expires_at: acceptance.expires_at,
            status: acceptance.status.as_str().to_owned(),
            requested_by: acceptance.requested_by.clone(),
            requested_at: acceptance.requested_at,
            decided_by: acceptance.decided_by.clone(),
            decided_at: acceptance.decided_at,
            decision_comment: acceptance.decision_comment.clone(),
            ended_by: acceptance.ended_by.clone(),
            ended_at: acceptance.ended_at,
            end_comment: acceptance.end_comment.clone(),
            findings: acceptance.findings,
        }
    }
}

/// Asks that findings be accepted: 201 with the request, which changes nothing until
/// a second person approves it.
#[utoipa::path(post, path = "/api/v1/risk-acceptances", tag = "findings", request_body = AcceptanceBody,
    responses((status = 201, body = AcceptanceView), (status = 400, body = crate::http::error::ErrorBody), (status = 403)))]
#[post("/api/v1/risk-acceptances")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<AcceptanceBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let access = Access::new(&state, &caller);
    // A finding names its tool, if the caller may see it.
    let finding_tool = match body.fingerprint.as_deref() {
        Some(fingerprint) => state
            .db
            .tracked_finding(&access.execution_viewer(), fingerprint)
            .await?
            .map(|(finding, _)| finding.tool),
        None => None,
    };
    let request = AcceptanceRequest {
        tool: body.tool,
        fingerprint: body.fingerprint,
        check: body.check,
        accounts: body.accounts,
        regions: body.regions,
        resource: body.resource,
        reason: body.reason,
        expires_at: body.expires_at,
    };
    let new = request.check(Utc::now(), state.runs.acceptance_max_days, finding_tool)?;
    access.may_request_acceptance(new.tool, &new.scope).await?;
    let acceptance = state
        .db
        .request_acceptance(&new, caller.user.id, &caller.audit)
        .await?;
    Ok(HttpResponse::Created().json(AcceptanceView::from(&acceptance)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceQuery {
    pub status: Option<String>,
    pub tool: Option<String>,
    /// `true`: only the caller's own requests.
    pub mine: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Risk acceptances the caller may see (their own, and those of the tools whose every
/// finding they see), newest first.
#[utoipa::path(get, path = "/api/v1/risk-acceptances", tag = "findings",
    params(
        ("status" = Option<String>, Query, description = "requested, approved, rejected, revoked or expired"),
        ("tool" = Option<String>, Query),
        ("mine" = Option<bool>, Query, description = "only the caller's own requests"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the page before"),
    ),
    responses((status = 200, body = Listing<AcceptanceView>), (status = 400, body = crate::http::error::ErrorBody)))]
#[get("/api/v1/risk-acceptances")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<AcceptanceQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let mut problems = Vec::new();
    let status = query
        .status
        .as_deref()
        .map(str::parse::<AcceptanceStatus>)
        .transpose()
        .map_err(|why| problems.push(FieldProblem::new("status", why)))
        .ok()
        .flatten();
    let tool = query
        .tool
        .as_deref()
        .map(str::parse::<Tool>)
        .transpose()
        .map_err(|why| problems.push(FieldProblem::new("tool", why)))
        .ok()
        .flatten();
    let after = query
        .cursor
        .as_deref()
        .map(|cursor| {
            read_time_cursor(cursor).ok_or_else(|| {
                problems.push(FieldProblem::new("cursor", "is not a cursor this api gave"));
            })
        })
        .transpose()
        .ok()
        .flatten();
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    let access = Access::new(&state, &caller);
    let filter = AcceptanceFilter {
        status,
        tool,
        requested_by: query.mine.unwrap_or(false).then_some(caller.user.id),
        visible_tools: access.tools_seen_whole().await?,
        reader: Some(caller.user.id),
        after,
        limit: limit + 1,
    };
    let (items, next_cursor) = page_of(state.db.acceptances(&filter).await?, limit, |last| {
        time_cursor(last.requested_at, last.id)
    });
    Ok(HttpResponse::Ok().json(Listing {
        items: items.iter().map(AcceptanceView::from).collect(),
        next_cursor,
    }))
}

/// One risk acceptance.
#[utoipa::path(get, path = "/api/v1/risk-acceptances/{id}", tag = "findings",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AcceptanceView), (status = 404)))]
#[get("/api/v1/risk-acceptances/{id}")]
pub async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let acceptance = Access::new(&state, &caller).acceptance(*id).await?;
    Ok(HttpResponse::Ok().json(AcceptanceView::from(&acceptance)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    /// Why: kept with the step, audited and shown.
    pub comment: String,
}

/// Longest comment, in characters.
const MAX_COMMENT_CHARS: usize = 2000;

fn comment_of(body: &StepBody) -> Result<&str, ApiError> {
    let comment = body.comment.trim();
    if comment.is_empty()
        || comment.chars().count() > MAX_COMMENT_CHARS
        || comment.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::invalid(vec![FieldProblem::new(
            "comment",
            format!("must be 1 to {MAX_COMMENT_CHARS} characters without control characters"),
        )]));
    }
    Ok(comment)
}

/// Approves a request: its findings stand accepted at once, and new ones its pattern
/// covers as they appear. Admins and approvers who see its findings; never its
/// requester.
#[utoipa::path(post, path = "/api/v1/risk-acceptances/{id}/approve", tag = "findings", request_body = StepBody,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AcceptanceView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404), (status = 409)))]
#[post("/api/v1/risk-acceptances/{id}/approve")]
pub async fn approve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: ValidatedJson<StepBody>,
) -> Result<HttpResponse, ApiError> {
    decide(&caller, &state, *id, &body.0, AcceptanceDecision::Approve).await
}

/// Rejects a request.
#[utoipa::path(post, path = "/api/v1/risk-acceptances/{id}/reject", tag = "findings", request_body = StepBody,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AcceptanceView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404), (status = 409)))]
#[post("/api/v1/risk-acceptances/{id}/reject")]
pub async fn reject(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: ValidatedJson<StepBody>,
) -> Result<HttpResponse, ApiError> {
    decide(&caller, &state, *id, &body.0, AcceptanceDecision::Reject).await
}

async fn decide(
    caller: &Caller,
    state: &AppState,
    id: Uuid,
    body: &StepBody,
    decision: AcceptanceDecision,
) -> Result<HttpResponse, ApiError> {
    Access::new(state, caller).decidable_acceptance(id).await?;
    let comment = comment_of(body)?;
    let outcome = state
        .db
        .decide_acceptance(id, caller.user.id, decision, comment, &caller.audit)
        .await?;
    answer(outcome, "decided on")
}

/// Ends a request or an approved acceptance before its expiry: its findings return to
/// open or reopened. The requester (withdrawing it) or whoever may decide on it.
#[utoipa::path(post, path = "/api/v1/risk-acceptances/{id}/revoke", tag = "findings", request_body = StepBody,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AcceptanceView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404), (status = 409)))]
#[post("/api/v1/risk-acceptances/{id}/revoke")]
pub async fn revoke(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: ValidatedJson<StepBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller)
        .revocable_acceptance(*id)
        .await?;
    let comment = comment_of(&body.0)?;
    let outcome = state
        .db
        .revoke_acceptance(*id, caller.user.id, comment, &caller.audit)
        .await?;
    answer(outcome, "revoked")
}

fn answer(outcome: StepOutcome, step: &str) -> Result<HttpResponse, ApiError> {
    match outcome {
        StepOutcome::Done(acceptance) => {
            Ok(HttpResponse::Ok().json(AcceptanceView::from(&*acceptance)))
        }
        StepOutcome::NotApplicable(status) => Err(ApiError::Conflict(format!(
            "the risk acceptance is {} (or past its expiry) and cannot be {step} now",
            status.as_str()
        ))),
    }
}
