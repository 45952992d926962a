//! The audit trail (admin, auditor).

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use sage_store::audit::{AuditEvent, AuditFilter, ChainHead};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::error::{ApiError, FieldProblem};
use crate::identity::access::Access;
use crate::identity::caller::Caller;
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
    responses((status = 200, body = Listing<AuditEventView>), (status = 400, body = crate::http::error::ErrorBody), (status = 403)))]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// Events as the SIEM received them, `<id>:<hash>` separated by commas.
    pub heads: Option<String>,
}

/// The most SIEM heads one verification holds the trail against.
const MAX_HEADS: usize = 100;

/// Walks the keyed hash chain, then holds it against the events the SIEM received
/// (`?heads=<id>:<hash>,...`): `{"ok": true, "checked": n}` or the first broken row.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    params(("heads" = Option<String>, Query,
            description = "Events as the SIEM received them: `<id>:<hash>`, comma-separated, at most 100")),
    responses((status = 200, body = ChainReportView), (status = 400, body = crate::http::error::ErrorBody), (status = 403)))]
#[get("/api/v1/audit/verify")]
pub async fn verify(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<VerifyQuery>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_audit_reader()?;
    let heads = parse_heads(query.heads.as_deref().unwrap_or(""))
        .map_err(|message| ApiError::invalid(vec![FieldProblem::new("heads", message)]))?;
    let report = state.db.verify_audit_chain(&heads).await?;
    Ok(HttpResponse::Ok().json(ChainReportView {
        ok: report.ok,
        checked: report.checked,
        broken_at: report.broken_at,
        reason: report.reason,
    }))
}

fn parse_heads(text: &str) -> Result<Vec<ChainHead>, String> {
    let heads: Vec<ChainHead> = text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (id, hash) = item.split_once(':').unwrap_or((item, ""));
            let id = id.parse::<i64>().ok().filter(|id| *id > 0);
            let hash_ok =
                hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            match id {
                Some(id) if hash_ok => Ok(ChainHead {
                    id,
                    hash: hash.to_owned(),
                }),
                _ => Err(format!(
                    "{item:?} is not <id>:<hash> (an event id and its 64 lower-case hex hash)"
                )),
            }
        })
        .collect::<Result<_, _>>()?;
    if heads.len() > MAX_HEADS {
        return Err(format!("at most {MAX_HEADS} heads, not {}", heads.len()));
    }
    Ok(heads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_ids_with_their_hashes() {
        let hash = "ab".repeat(32);
        let heads = parse_heads(&format!("3:{hash}, 10:{hash}")).unwrap();
        assert_eq!(heads.iter().map(|h| h.id).collect::<Vec<_>>(), [3, 10]);
        assert!(parse_heads("").unwrap().is_empty());
        for bad in [
            "3",
            "x:ab",
            &format!("0:{hash}"),
            &format!("3:{}", "AB".repeat(32)),
            "3:abc",
        ] {
            let message = parse_heads(bad).unwrap_err();
            assert!(message.contains("is not <id>:<hash>"), "{bad}: {message}");
        }
        let many = vec![format!("1:{hash}"); 101].join(",");
        assert!(parse_heads(&many).unwrap_err().contains("at most 100"));
    }
}
