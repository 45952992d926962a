//! The audit trail (admin, auditor).

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use sage_store::audit::{AuditEvent, AuditFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Access;
use crate::auth::Caller;
use crate::error::{ApiError, FieldProblem};
use crate::routes::pagination::{Listing, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who: an email, `worker:<id>` or `system`.
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            at: event.at,
            actor: event.actor,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            before: event.before,
            after: event.after,
            ip: event.ip,
            user_agent: event.user_agent,
            request_id: event.request_id,
        }
    }
}

/// The outcome of walking the hash chain from the first event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChainReportView {
    pub ok: bool,
    /// Events checked.
    pub checked: u64,
    /// The first event whose link is broken; absent when `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Audit events, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    responses((status = 200, body = Listing<AuditEventView>), (status = 400, body = crate::error::ErrorBody), (status = 403)))]
#[get("/api/v1/audit")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_audit_reader()?;
    let query = query.into_inner();
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let before_id = match query.cursor.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            return Err(ApiError::invalid(vec![FieldProblem::new(
                "cursor",
                "is not a cursor this api gave",
            )]));
        }
    };
    let filter = AuditFilter {
        actor: query.actor.map(|a| a.to_lowercase()),
        action: query.action,
        target_id: query.target_id,
        since: query.since,
        before_id,
        limit: limit + 1,
    };
    let mut items = state.db.audit_events(&filter).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.id.to_string())
    } else {
        None
    };
    let items = items.into_iter().map(AuditEventView::from).collect();
    Ok(HttpResponse::Ok().json(Listing { items, next_cursor }))
}

/// Walks the hash chain: `{"ok": true, "checked": n}` or the first broken row.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = ChainReportView), (status = 403)))]
#[get("/api/v1/audit/verify")]
pub async fn verify(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_audit_reader()?;
    let report = state.db.verify_audit_chain().await?;
    Ok(HttpResponse::Ok().json(ChainReportView {
        ok: report.ok,
        checked: report.checked,
        broken_at: report.broken_at,
        reason: report.reason,
    }))
}
