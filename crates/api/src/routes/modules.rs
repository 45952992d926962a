//! Modules and their immutable versions.

use actix_web::{HttpResponse, get, post, put, web};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sage_model::ModuleId;
use sage_model::catalog::module::{ModuleDefinition, ModuleRequest, RawArg};
use sage_model::catalog::params::RawParam;
use sage_model::names::ModuleName;
use sage_store::catalog::{Module, ModuleVersion, NewVersion, Permissions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::pagination::{Listing, PageQuery};
use crate::state::AppState;

/// A module definition as the HTTP contract describes it (the model crate owns its rules and
/// stays free of HTTP documentation concerns, hence the wrapper).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct ModuleBody(pub ModuleRequest);

/// Checks a definition, including that its script exists; every problem at once.
async fn check_definition(
    state: &AppState,
    request: &ModuleRequest,
) -> Result<ModuleDefinition, ApiError> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    let definition = ModuleDefinition::parse(request, &state.catalog.limit_ceiling)
        .map_err(|errors| {
            problems.extend(
                errors
                    .into_iter()
                    .map(|e| FieldProblem::new(e.field, e.message)),
            );
        })
        .ok();
    if state.db.script(request.script_id).await?.is_none() {
        problems.push(FieldProblem::new("script_id", "is not a registered script"));
    }
    match definition {
        Some(definition) if problems.is_empty() => Ok(definition),
        _ => Err(ApiError::invalid(problems)),
    }
}

/// One module version as the HTTP contract describes it: the definition as written, the limits
/// it resolved to, and the JSON Schema of its run parameters.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModuleVersionView {
    pub id: Uuid,
    pub name: String,
    pub version: i32,
    pub latest_version: i32,
    pub description: String,
    pub script_id: Uuid,
    /// The parameter declarations, as written.
    #[schema(value_type = Vec<Object>)]
    pub params: Vec<RawParam>,
    /// Each element a template, or a group of templates left out together when one of
    /// them names a parameter without a value.
    #[schema(value_type = Vec<serde_json::Value>)]
    pub args: Vec<RawArg>,
    pub env: BTreeMap<String, String>,
    pub limits: LimitsView,
    /// `none` or `egress`.
    pub network: &'static str,
    /// `runner`, or `scanner`: the image with the cloud scanners.
    pub image: &'static str,
    /// `none`, or `aws_assume_role`: the worker assumes the role a run names in
    /// `iam_role_arn` and passes the temporary credentials in.
    pub credentials: &'static str,
    pub approval: ApprovalPolicyView,
    /// The JSON Schema a run's `params` must satisfy.
    #[schema(value_type = Object)]
    pub params_schema: Value,
    pub permissions: PermissionsView,
    /// When this version stopped taking new runs; `null` while it takes them.
    pub retired_at: Option<DateTime<Utc>>,
    /// The versions a run may name, oldest first.
    pub runnable_versions: Vec<i32>,
    pub retention: RetentionView,
    pub created_at: DateTime<Utc>,
    pub version_created_at: DateTime<Utc>,
}

/// The limits a version runs under, every default resolved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LimitsView {
    pub timeout_sec: u64,
    pub memory_mb: u64,
    pub cpus: f64,
    pub pids: u64,
    pub open_files: u64,
    pub max_output_bytes: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovalPolicyView {
    /// Distinct approvals a run needs before it is queued (0: none).
    pub required: u32,
}

/// How long the module's runs keep their logs, artifacts and finding history.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct RetentionView {
    /// The module's own number of days; `null`: the deployment's default.
    pub days: Option<i32>,
    /// What applies: the module's days, else RETENTION_DAYS.
    pub effective_days: i32,
}

impl RetentionView {
    fn of(module: &Module, state: &AppState) -> Self {
        Self {
            days: module.retention_days,
            effective_days: module
                .retention_days
                .unwrap_or(state.catalog.retention_days),
        }
    }
}

/// A module's retention as an admin sets it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// 1 to 36500 days; `null` returns to the deployment's default.
    pub days: Option<i32>,
}

/// What the caller may do with the module.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PermissionsView {
    pub run: bool,
    pub view: bool,
}

impl ModuleVersionView {
    fn new(
        module: &Module,
        version: &ModuleVersion,
        permissions: Permissions,
        runnable_versions: Vec<i32>,
        retention: RetentionView,
    ) -> Self {
        let definition = &version.definition;
        let limits = definition.limits();
        Self {
            id: module.id.as_uuid(),
            name: module.name.clone(),
            version: version.version,
            latest_version: module.latest_version,
            description: definition.description().to_owned(),
            script_id: definition.script_id().as_uuid(),
            params: definition
                .params()
                .iter()
                .map(|p| p.raw().clone())
                .collect(),
            args: definition.args(),
            env: definition
                .env()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            limits: LimitsView {
                timeout_sec: limits.timeout_sec,
                memory_mb: limits.memory_mb,
                cpus: limits.cpus,
                pids: limits.pids,
                open_files: limits.open_files,
                max_output_bytes: limits.max_output_bytes,
            },
            network: definition.network().as_str(),
            image: definition.image().as_str(),
            credentials: definition.credentials().as_str(),
            approval: ApprovalPolicyView {
                required: definition.approvals_required(),
            },
            params_schema: definition.params_schema(),
            permissions: PermissionsView {
                run: permissions.run,
                view: permissions.view,
            },
            retired_at: version.retired_at,
            runnable_versions,
            retention,
            created_at: module.created_at,
            version_created_at: version.created_at,
        }
    }
}

/// A module in a list: its name and newest version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModuleSummaryView {
    pub id: Uuid,
    pub name: String,
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
    pub retention: RetentionView,
}

impl ModuleSummaryView {
    fn new(module: Module, state: &AppState) -> Self {
        Self {
            retention: RetentionView::of(&module, state),
            id: module.id.as_uuid(),
            name: module.name,
            latest_version: module.latest_version,
            created_at: module.created_at,
        }
    }
}

/// The answer for one version, with the versions a run may name.
async fn view(
    state: &AppState,
    module: &Module,
    version: &ModuleVersion,
    permissions: Permissions,
) -> Result<ModuleVersionView, ApiError> {
    let runnable = state.db.runnable_versions(module.id).await?;
    Ok(ModuleVersionView::new(
        module,
        version,
        permissions,
        runnable,
        RetentionView::of(module, state),
    ))
}

/// Creates a module with its version 1 (admin).
#[utoipa::path(post, path = "/api/v1/modules", tag = "modules", request_body = ModuleBody,
    responses((status = 201, body = ModuleVersionView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 409)))]
#[post("/api/v1/modules")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<ModuleBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let request = body.0.0;
    let name = match request.name.as_deref() {
        None => Err(FieldProblem::new("name", "is required")),
        Some(name) => ModuleName::parse(name).map_err(|m| FieldProblem::new("name", m)),
    };
    let (definition, name) = match (check_definition(&state, &request).await, name) {
        (Ok(definition), Ok(name)) => (definition, name),
        (Ok(_), Err(problem)) => return Err(ApiError::invalid(vec![problem])),
        (Err(ApiError::Validation { mut fields, .. }), name) => {
            fields.extend(name.err());
            return Err(ApiError::invalid(fields));
        }
        (Err(other), _) => return Err(other),
    };
    let new = NewVersion {
        definition,
        created_by: caller.user.id,
    };
    let (module, version) = state.db.create_module(&name, &new, &caller.audit).await?;
    Ok(HttpResponse::Created().json(view(&state, &module, &version, Permissions::ALL).await?))
}

/// Adds an immutable version (admin). The name cannot change.
#[utoipa::path(post, path = "/api/v1/modules/{id}/versions", tag = "modules", request_body = ModuleBody,
    params(("id" = uuid::Uuid, Path, description = "The module's id")),
    responses((status = 201, body = ModuleVersionView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404)))]
#[post("/api/v1/modules/{id}/versions")]
pub async fn create_version(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ModuleId>,
    body: ValidatedJson<ModuleBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let request = body.0.0;
    if request.name.is_some() {
        return Err(ApiError::invalid(vec![FieldProblem::new(
            "name",
            "cannot change; leave it out",
        )]));
    }
    let module = state.db.module(*id).await?.ok_or(ApiError::NotFound)?;
    let definition = check_definition(&state, &request).await?;
    let new = NewVersion {
        definition,
        created_by: caller.user.id,
    };
    let version = state
        .db
        .add_module_version(module.id, &new, &caller.audit)
        .await?
        .ok_or(ApiError::NotFound)?;
    let module = Module {
        latest_version: version.version,
        ..module
    };
    Ok(HttpResponse::Created().json(view(&state, &module, &version, Permissions::ALL).await?))
}

/// The modules the caller may run or view (admins: all), by name.
#[utoipa::path(get, path = "/api/v1/modules", tag = "modules",
    responses((status = 200, body = Listing<ModuleSummaryView>), (status = 400, body = crate::http::error::ErrorBody)))]
#[get("/api/v1/modules")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let visible_to = Access::new(&state, &caller).module_viewer();
    let page = state
        .db
        .modules(visible_to, query.cursor.as_deref(), query.limit()?)
        .await?;
    Ok(HttpResponse::Ok().json(Listing {
        items: page
            .items
            .into_iter()
            .map(|module| ModuleSummaryView::new(module, &state))
            .collect(),
        next_cursor: page.next,
    }))
}

/// A module with its latest version.
#[utoipa::path(get, path = "/api/v1/modules/{id}", tag = "modules",
    params(("id" = uuid::Uuid, Path, description = "The module's id")),
    responses((status = 200, body = ModuleVersionView), (status = 404)))]
#[get("/api/v1/modules/{id}")]
pub async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ModuleId>,
) -> Result<HttpResponse, ApiError> {
    let (module, permissions) = Access::new(&state, &caller).module(*id).await?;
    let version = state
        .db
        .module_version(module.id, module.latest_version)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(&state, &module, &version, permissions).await?))
}

/// One version of a module.
#[utoipa::path(get, path = "/api/v1/modules/{id}/versions/{version}", tag = "modules",
    responses((status = 200, body = ModuleVersionView), (status = 404)))]
#[get("/api/v1/modules/{id}/versions/{version}")]
pub async fn get_version(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    // utoipa documents a tuple of path parts from its types, which the model keeps free
    // of schema derives: the id is typed here instead.
    let id = ModuleId::from(id);
    let (module, permissions) = Access::new(&state, &caller).module(id).await?;
    let version = state
        .db
        .module_version(module.id, number)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(&state, &module, &version, permissions).await?))
}

/// Retires a version (admin): it takes no new runs, runs already made are kept. Retiring
/// a retired version changes nothing.
#[utoipa::path(post, path = "/api/v1/modules/{id}/versions/{version}/retire", tag = "modules",
    params(("id" = uuid::Uuid, Path, description = "The module's id"),
           ("version" = i32, Path, description = "The version to retire")),
    responses((status = 200, body = ModuleVersionView), (status = 403), (status = 404)))]
#[post("/api/v1/modules/{id}/versions/{version}/retire")]
pub async fn retire_version(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, i32)>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let (id, number) = path.into_inner();
    let module = state
        .db
        .module(ModuleId::from(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let version = state
        .db
        .retire_module_version(module.id, number, caller.user.id, &caller.audit)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(&state, &module, &version, Permissions::ALL).await?))
}

/// Sets how many days the module's runs keep their logs, artifacts and finding history
/// (admin); `null` returns to the deployment's RETENTION_DAYS. Answers the latest
/// version with it.
#[utoipa::path(put, path = "/api/v1/modules/{id}/retention", tag = "modules",
    params(("id" = uuid::Uuid, Path, description = "The module's id")),
    request_body = RetentionBody,
    responses((status = 200, body = ModuleVersionView), (status = 400, body = crate::http::error::ErrorBody),
              (status = 403), (status = 404)))]
#[put("/api/v1/modules/{id}/retention")]
pub async fn set_retention(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ModuleId>,
    body: ValidatedJson<RetentionBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    if let Some(days) = body.0.days
        && !(1..=36_500).contains(&days)
    {
        return Err(ApiError::invalid(vec![FieldProblem::new(
            "days",
            "must be 1 to 36500, or null for the deployment's default",
        )]));
    }
    let module = state
        .db
        .set_module_retention(*id, body.0.days, &caller.audit)
        .await?
        .ok_or(ApiError::NotFound)?;
    let version = state
        .db
        .module_version(module.id, module.latest_version)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(&state, &module, &version, Permissions::ALL).await?))
}
