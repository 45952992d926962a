//! Scripts of the library (admin).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sage_model::ScriptId;
use sage_model::catalog::script::{Interpreter, ScriptPath};
use sage_store::catalog::{NewScript, Script};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::library::{self, LibraryError};
use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::pagination::{Listing, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptRequest {
    /// Relative to the script library root.
    pub path: String,
    /// One of python3, bash, sh.
    pub interpreter: String,
    #[serde(default)]
    pub description: String,
}

/// A registered script.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScriptView {
    pub id: Uuid,
    /// Relative to the script library.
    pub path: String,
    /// `python3`, `bash` or `sh`.
    pub interpreter: &'static str,
    /// Pinned at registration: a run whose copy differs does not start.
    pub sha256: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl From<Script> for ScriptView {
    fn from(script: Script) -> Self {
        Self {
            id: script.id.as_uuid(),
            path: script.path.to_string(),
            interpreter: script.interpreter.as_str(),
            sha256: script.sha256,
            description: script.description,
            created_at: script.created_at,
        }
    }
}

/// Registers a file of the script library and pins its sha256.
#[utoipa::path(post, path = "/api/v1/scripts", tag = "scripts", request_body = ScriptRequest,
    responses((status = 201, body = ScriptView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 409)))]
#[post("/api/v1/scripts")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<ScriptRequest>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let body = body.0;
    let mut problems = Vec::new();
    let path = ScriptPath::parse(&body.path)
        .map_err(|e| problems.push(FieldProblem::new("path", e.to_string())))
        .ok();
    let interpreter = body
        .interpreter
        .parse::<Interpreter>()
        .map_err(|e| problems.push(FieldProblem::new("interpreter", e.to_string())))
        .ok();
    if body.description.chars().count() > 1000 {
        problems.push(FieldProblem::new(
            "description",
            "must be at most 1000 characters",
        ));
    }
    let sha256 = match &path {
        Some(path) => {
            let (root, path) = (state.catalog.scripts_dir.clone(), path.clone());
            match tokio::task::spawn_blocking(move || library::pin(&root, &path))
                .await
                .map_err(ApiError::internal)?
            {
                Ok(sha256) => Some(sha256),
                Err(LibraryError::Io(e)) => return Err(ApiError::internal(e)),
                Err(refused) => {
                    problems.push(FieldProblem::new("path", refused.to_string()));
                    None
                }
            }
        }
        None => None,
    };
    let (Some(path), Some(interpreter), Some(sha256), true) =
        (path, interpreter, sha256, problems.is_empty())
    else {
        return Err(ApiError::invalid(problems));
    };
    let new = NewScript {
        path,
        interpreter,
        sha256,
        description: body.description,
        created_by: caller.user.id,
    };
    let script = state.db.create_script(&new, &caller.audit).await?;
    Ok(HttpResponse::Created().json(ScriptView::from(script)))
}

#[utoipa::path(get, path = "/api/v1/scripts", tag = "scripts",
    responses((status = 200, body = Listing<ScriptView>), (status = 400, body = crate::http::error::ErrorBody), (status = 403)))]
#[get("/api/v1/scripts")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let page = state
        .db
        .scripts(query.cursor.as_deref(), query.limit()?)
        .await?;
    Ok(HttpResponse::Ok().json(Listing {
        items: page.items.into_iter().map(ScriptView::from).collect(),
        next_cursor: page.next,
    }))
}

#[utoipa::path(get, path = "/api/v1/scripts/{id}", tag = "scripts",
    params(("id" = uuid::Uuid, Path, description = "The script's id")),
    responses((status = 200, body = ScriptView), (status = 403), (status = 404)))]
#[get("/api/v1/scripts/{id}")]
pub async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ScriptId>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let script = state.db.script(*id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(ScriptView::from(script)))
}
