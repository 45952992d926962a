//! `POST /api/v1/evidence`: a report over executions the caller may view, or over the
//! latest finished run of each named tool; a worker builds it (202 here).
//! `GET /api/v1/evidence/{id}` shows its state and, once ready, its files.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::{HttpResponse, get, routes, web};
use chrono::{DateTime, SecondsFormat, Utc};
use sage_model::evidence::Lang;
use sage_model::tools::Tool;
use sage_model::{EvidenceId, ExecutionId};
use sage_store::evidence::{
    Evidence, EvidenceFilter, EvidenceRequest as NewRequest, EvidenceStatus,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::artifacts::{ArtifactView, view};
use crate::routes::pagination::{Listing, PageQuery, page_of, read_time_cursor, time_cursor};
use crate::state::AppState;

/// Executions one report may cover: each brings up to its artifact limit to parse.
const MAX_EXECUTIONS: usize = 10;
/// A scan's report covers one run per account; the worker's fetch budget
/// (`EVIDENCE_FETCH_BYTES`) bounds what it reads of them.
const MAX_SCAN_EXECUTIONS: usize = 5000;
const MAX_TITLE_CHARS: usize = 200;
const MAX_PER_CHECK: i32 = 100_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    /// The runs to report on; without them, the latest finished run of each of `tools`.
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub execution_ids: Option<Vec<ExecutionId>>,
    /// A scan that ended: its runs that succeeded, one per account.
    pub scan_id: Option<Uuid>,
    pub title: Option<String>,
    pub lang: Option<String>,
    pub tools: Option<Vec<String>>,
    /// Findings listed per check (default: the worker's EVIDENCE_MAX_FINDINGS_PER_CHECK);
    /// the summaries count them all.
    pub max_findings_per_check: Option<i32>,
    /// A framework the scanner image holds (`kisa_isms_p_2023_aws`, `cis_5.0_aws`; GET
    /// /api/v1/compliance/frameworks): each of its requirements is assessed from the
    /// runs' Prowler check results and accepted risks.
    pub compliance: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceView {
    pub id: Uuid,
    /// `pending`, `building`, `ready` or `failed`.
    pub status: &'static str,
    /// Why it failed.
    pub error: Option<String>,
    pub title: String,
    pub lang: String,
    pub execution_ids: Vec<Uuid>,
    pub tools: Option<Vec<String>>,
    pub max_findings_per_check: Option<i32>,
    /// The framework whose requirements it assesses.
    pub compliance: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Once ready.
    pub pdf: Option<ArtifactView>,
    /// The JSON summary as a file beside the PDF, once ready.
    pub summary_file: Option<ArtifactView>,
    /// The signed evidence pack (`sage-findings verify` checks it), once ready, when
    /// the building worker holds a signing key.
    pub pack: Option<ArtifactView>,
    #[schema(value_type = Option<Object>)]
    pub summary: Option<serde_json::Value>,
}

/// A checked request, its runs still to resolve.
struct Order {
    execution_ids: Option<Vec<ExecutionId>>,
    scan_id: Option<Uuid>,
    title: Option<String>,
    lang: Lang,
    tools: Option<Vec<Tool>>,
    per_check: Option<i32>,
    compliance: Option<String>,
}

fn order(request: EvidenceRequest) -> Result<Order, ApiError> {
    let mut problems = Vec::new();
    if let Some(ids) = &request.execution_ids {
        let distinct: BTreeSet<&ExecutionId> = ids.iter().collect();
        if ids.is_empty() || ids.len() > MAX_EXECUTIONS || distinct.len() != ids.len() {
            problems.push(FieldProblem::new(
                "execution_ids",
                format!("must name 1 to {MAX_EXECUTIONS} distinct executions"),
            ));
        }
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
            .into_iter()
            .collect::<Vec<Tool>>()
    });
    if request.scan_id.is_some() && request.execution_ids.is_some() {
        problems.push(FieldProblem::new(
            "scan_id",
            "name the runs or a scan, not both",
        ));
    }
    if request.execution_ids.is_none()
        && request.scan_id.is_none()
        && tools.as_ref().is_none_or(Vec::is_empty)
    {
        problems.push(FieldProblem::new(
            "tools",
            "name the tools whose latest runs to report on, execution_ids, or scan_id",
        ));
    }
    let per_check = request.max_findings_per_check;
    if per_check.is_some_and(|n| !(1..=MAX_PER_CHECK).contains(&n)) {
        problems.push(FieldProblem::new(
            "max_findings_per_check",
            format!("must be from 1 to {MAX_PER_CHECK}"),
        ));
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    Ok(Order {
        execution_ids: request.execution_ids,
        scan_id: request.scan_id,
        title: request.title.map(|t| t.trim().to_owned()),
        lang,
        tools,
        per_check,
        compliance: request.compliance,
    })
}

/// The runs a report covers: those named, each visible to the caller and ended; or
/// the latest finished run of each tool that the caller may see.
async fn runs(
    state: &AppState,
    caller: &Caller,
    order: &Order,
) -> Result<Vec<ExecutionId>, ApiError> {
    let access = Access::new(state, caller);
    if let Some(scan) = order.scan_id {
        return scan_runs(state, caller, scan).await;
    }
    if let Some(ids) = &order.execution_ids {
        for id in ids {
            let execution = access.execution(*id).await?;
            if !execution.status.is_terminal() {
                return Err(ApiError::Conflict(format!(
                    "execution {id} is {}: its artifacts are not complete yet",
                    execution.status
                )));
            }
        }
        return Ok(ids.clone());
    }
    let mut ids = Vec::new();
    for (i, tool) in order.tools.iter().flatten().enumerate() {
        let latest = state.db.latest_tool_run(*tool, true).await?;
        let visible = match latest {
            Some(run) => access.execution(run.execution_id).await.ok().map(|e| e.id),
            None => None,
        };
        let id = visible.ok_or_else(|| {
            ApiError::FieldConflict(FieldProblem::new(
                format!("tools[{i}]"),
                format!("{tool} has no finished run that you may see"),
            ))
        })?;
        ids.push(id);
    }
    Ok(ids)
}

/// The runs of a scan that ended which succeeded, each one the caller may see.
async fn scan_runs(
    state: &AppState,
    caller: &Caller,
    scan: Uuid,
) -> Result<Vec<ExecutionId>, ApiError> {
    let scan = crate::routes::scans::visible(state, caller, scan).await?;
    if scan.status == "running" {
        return Err(ApiError::FieldConflict(FieldProblem::new(
            "scan_id",
            "is still running: its report waits until every account's run ended",
        )));
    }
    let access = Access::new(state, caller);
    let mut ids = Vec::new();
    for target in state.db.scan_targets(scan.id).await? {
        if let (Some(id), Some("succeeded")) = (target.execution_id, target.status.as_deref()) {
            let id = ExecutionId::from(id);
            if access.execution(id).await.is_ok() {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() || ids.len() > MAX_SCAN_EXECUTIONS {
        return Err(ApiError::FieldConflict(FieldProblem::new(
            "scan_id",
            format!(
                "has {} runs that succeeded and that you may see: a report covers 1 to {MAX_SCAN_EXECUTIONS}",
                ids.len()
            ),
        )));
    }
    Ok(ids)
}

/// Asks a worker for a report over the scanner outputs among the runs' artifacts: 202
/// with the report, `pending`; `GET /api/v1/evidence/{id}` follows it.
#[utoipa::path(post, path = "/api/v1/evidence", tag = "evidence", request_body = EvidenceRequest,
    responses((status = 202, body = EvidenceView), (status = 400, body = crate::http::error::ErrorBody), (status = 404), (status = 409)))]
#[routes]
#[post("/api/v1/evidence")]
#[post("/oss/api/evidence/pdf")]
pub async fn create_report(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<EvidenceRequest>,
) -> Result<HttpResponse, ApiError> {
    let order = order(body.0)?;
    if let Some(named) = &order.compliance {
        let held = state.db.framework_names().await?;
        if !held.iter().any(|name| name.as_str() == named) {
            return Err(ApiError::invalid(vec![FieldProblem::new(
                "compliance",
                format!(
                    "{named:?} is not a framework the scanner image holds (GET /api/v1/compliance/frameworks lists them)"
                ),
            )]));
        }
    }
    let execution_ids = runs(&state, &caller, &order).await?;
    let request = NewRequest {
        id: EvidenceId::new(),
        title: order
            .title
            .unwrap_or_else(|| order.lang.default_title().to_owned()),
        lang: order.lang.as_str().to_owned(),
        execution_ids,
        tools: order
            .tools
            .map(|tools| tools.iter().map(|t| t.as_str().to_owned()).collect()),
        max_findings_per_check: order.per_check,
        compliance: order.compliance,
        created_by: caller.user.id,
    };
    let evidence = state.db.request_evidence(&request, &caller.audit).await?;
    respond(&state, evidence, HttpResponse::Accepted()).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceQuery {
    pub tool: Option<String>,
    pub lang: Option<String>,
    pub status: Option<String>,
    /// The creator's email.
    pub created_by: Option<String>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created before (RFC 3339).
    pub until: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Past reports, newest first: all of them for admins and auditors, one's own for
/// anyone else. Each as `GET /api/v1/evidence/{id}` shows it, without download URLs
/// (that route gives fresh ones).
#[utoipa::path(get, path = "/api/v1/evidence", tag = "evidence",
    params(
        ("tool" = Option<String>, Query, description = "reports over this tool's findings"),
        ("lang" = Option<String>, Query, description = "en or ko"),
        ("status" = Option<String>, Query, description = "pending, building, ready or failed"),
        ("created_by" = Option<String>, Query, description = "the creator's email"),
        ("since" = Option<String>, Query, description = "created at or after (RFC 3339)"),
        ("until" = Option<String>, Query, description = "created before (RFC 3339)"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the page before"),
    ),
    responses((status = 200, body = Listing<EvidenceView>), (status = 400, body = crate::http::error::ErrorBody)))]
#[get("/api/v1/evidence")]
pub async fn list_reports(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<EvidenceQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let mut problems = Vec::new();
    let mut check = |field: &'static str, ok: bool, why: &str| {
        if !ok {
            problems.push(FieldProblem::new(field, why));
        }
    };
    if let Some(tool) = &query.tool {
        check(
            "tool",
            tool.parse::<Tool>().is_ok(),
            "is not one of prowler, scout, steampipe, custodian",
        );
    }
    if let Some(lang) = &query.lang {
        check("lang", lang.parse::<Lang>().is_ok(), "is not one of en, ko");
    }
    let status = query.status.as_deref().map(EvidenceStatus::named);
    check(
        "status",
        status != Some(None),
        "is not one of pending, building, ready, failed",
    );
    let time = |value: Option<&str>| {
        value.map(|v| DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)))
    };
    let (since, until) = (time(query.since.as_deref()), time(query.until.as_deref()));
    check(
        "since",
        !matches!(since, Some(Err(_))),
        "is not an RFC 3339 time such as 2026-12-01T09:00:00Z",
    );
    check(
        "until",
        !matches!(until, Some(Err(_))),
        "is not an RFC 3339 time such as 2026-12-01T09:00:00Z",
    );
    let after = query.cursor.as_deref().map(read_cursor);
    check(
        "cursor",
        !matches!(after, Some(None)),
        "is not a cursor this api gave",
    );
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    let access = Access::new(&state, &caller);
    let filter = EvidenceFilter {
        only_of: (!access.reads_all_evidence()).then_some(caller.user.id),
        tool: query.tool,
        lang: query.lang,
        status: status.flatten(),
        created_by: query.created_by,
        since: since.and_then(Result::ok),
        until: until.and_then(Result::ok),
        after: after.flatten(),
        limit: limit + 1,
    };
    let (reports, next_cursor) = page_of(state.db.evidence_list(&filter).await?, limit, |last| {
        time_cursor(last.created_at, last.id.as_uuid())
    });
    Ok(HttpResponse::Ok().json(Listing {
        items: reports
            .into_iter()
            .map(|report| view_of(report, None, None, None))
            .collect(),
        next_cursor,
    }))
}

fn read_cursor(cursor: &str) -> Option<(DateTime<Utc>, EvidenceId)> {
    read_time_cursor(cursor).map(|(at, id)| (at, EvidenceId::from(id)))
}

/// A report's state and, once ready, fresh download URLs: for its creator, admins and
/// auditors.
#[utoipa::path(get, path = "/api/v1/evidence/{id}", tag = "evidence",
    params(("id" = Uuid, Path, description = "The report's id")),
    responses((status = 200, body = EvidenceView), (status = 404)))]
#[get("/api/v1/evidence/{id}")]
pub async fn get_report(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<EvidenceId>,
) -> Result<HttpResponse, ApiError> {
    let evidence = Access::new(&state, &caller).readable_evidence(*id).await?;
    respond(&state, evidence, HttpResponse::Ok()).await
}

async fn respond(
    state: &AppState,
    evidence: Evidence,
    mut response: actix_web::HttpResponseBuilder,
) -> Result<HttpResponse, ApiError> {
    let expires_at = Utc::now() + state.artifacts.ttl;
    let file = |name: &str| evidence.files.iter().find(|f| f.name == name).cloned();
    let pack = match (evidence.status, file("pack.zip")) {
        (EvidenceStatus::Ready, Some(pack)) => Some(view(state, pack, expires_at).await?),
        _ => None,
    };
    let (pdf, summary_file) = match (evidence.status, file("report.pdf"), file("summary.json")) {
        (EvidenceStatus::Ready, Some(pdf), Some(summary)) => (
            Some(view(state, pdf, expires_at).await?),
            Some(view(state, summary, expires_at).await?),
        ),
        (EvidenceStatus::Ready, _, _) => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "evidence {} lacks its files",
                evidence.id
            )));
        }
        _ => (None, None),
    };
    Ok(response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view_of(evidence, pdf, summary_file, pack)))
}

fn view_of(
    evidence: Evidence,
    pdf: Option<ArtifactView>,
    summary_file: Option<ArtifactView>,
    pack: Option<ArtifactView>,
) -> EvidenceView {
    let time = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
    EvidenceView {
        id: evidence.id.as_uuid(),
        status: evidence.status.as_str(),
        error: evidence.error,
        title: evidence.title,
        lang: evidence.lang,
        execution_ids: evidence
            .execution_ids
            .iter()
            .map(ExecutionId::as_uuid)
            .collect(),
        tools: evidence.tools,
        max_findings_per_check: evidence.max_findings_per_check,
        compliance: evidence.compliance,
        created_by: evidence.created_by,
        created_at: time(evidence.created_at),
        finished_at: evidence.finished_at.map(time),
        pdf,
        summary_file,
        pack,
        summary: evidence.summary,
    }
}

/// A report's signed evidence pack with a fresh download link; 404 when the report is
/// not ready, has no pack, or the caller may not read it.
#[utoipa::path(get, path = "/api/v1/evidence/{id}/pack", tag = "evidence",
    params(("id" = Uuid, Path, description = "The report's id")),
    responses((status = 200, body = ArtifactView), (status = 404)))]
#[get("/api/v1/evidence/{id}/pack")]
pub async fn get_pack(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<EvidenceId>,
) -> Result<HttpResponse, ApiError> {
    let evidence = Access::new(&state, &caller).readable_evidence(*id).await?;
    let pack = evidence
        .files
        .into_iter()
        .find(|f| f.name == "pack.zip")
        .ok_or(ApiError::NotFound)?;
    let link = view(&state, pack, Utc::now() + state.artifacts.ttl).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(link))
}

/// An Ed25519 public key, as `sage-findings verify --public-key` reads it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicKeyView {
    /// `Ed25519`.
    pub algorithm: String,
    /// The 32-byte key, base64.
    pub public_key: String,
    /// sha256 of the key, its first 16 hex digits, as a pack's manifest names it.
    pub key_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyQuery {
    /// A key's id, as a pack's manifest names it; without: the latest used.
    pub key_id: Option<String>,
}

/// The Ed25519 public key evidence packs are signed with (`{"algorithm", "public_key",
/// "key_id"}`): save the body as it is and give it to `sage-findings verify`. 404
/// until a worker with a signing key built a pack.
#[utoipa::path(get, path = "/api/v1/evidence/public-key", tag = "evidence",
    params(("key_id" = Option<String>, Query, description = "a key's id; default: the latest used")),
    responses((status = 200, body = PublicKeyView), (status = 404)))]
#[get("/api/v1/evidence/public-key")]
pub async fn public_key(
    _caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<KeyQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .db
        .signing_key(query.key_id.as_deref())
        .await?
        .ok_or(ApiError::NotFound)?;
    let key: PublicKeyView = serde_json::from_value(key).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(key))
}
