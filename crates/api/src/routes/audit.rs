//! The audit trail (admin, auditor).

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use sage_store::audit::AuditFilter;
use serde::Deserialize;

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

/// Audit events, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", responses((status = 200), (status = 403)))]
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
    Ok(HttpResponse::Ok().json(Listing { items, next_cursor }))
}

/// Walks the hash chain: `{"ok": true, "checked": n}` or the first broken row.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200), (status = 403)))]
#[get("/api/v1/audit/verify")]
pub async fn verify(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_audit_reader()?;
    Ok(HttpResponse::Ok().json(state.db.verify_audit_chain().await?))
}
