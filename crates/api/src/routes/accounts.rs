//! The organisation's cloud accounts: admins write them or import them from AWS
//! Organizations (a worker lists them with a role in the management account); admins,
//! auditors and approvers read them. External ids go in sealed and never come out.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use sage_model::accounts::{
    AccountId, AccountRequest, AccountRole, ORGANIZATIONS_ROLE, Tags, regions,
};
use sage_model::catalog::cloud::RoleArn;
use sage_store::accounts::{AccountImport, CloudAccount, ExternalId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::state::AppState;

/// An account as an admin writes it. On an edit, `version` is the one read (409 when
/// it changed since) and an absent `external_id` keeps the one held.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    /// The 12-digit account id (an edit's is the path's).
    pub id: Option<String>,
    pub name: Option<String>,
    /// The role runs assume: a name (`SecurityAudit`, expanded in the account) or its
    /// ARN in the account. Default `OrganizationAccountAccessRole`.
    pub role: Option<String>,
    /// A secret the role's trust policy asks for; kept sealed, never shown.
    pub external_id: Option<String>,
    /// Edits only: `true` removes the external id held.
    #[serde(default)]
    pub clear_external_id: bool,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub tags: Tags,
    /// Edits only: the version read.
    pub version: Option<i32>,
}

/// An account of the inventory.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub role: String,
    /// The ARN runs assume in this account.
    pub role_arn: String,
    pub external_id_set: bool,
    pub regions: Vec<String>,
    pub tags: Tags,
    /// `manual` or `organizations`.
    pub source: String,
    /// As AWS Organizations last said (ACTIVE, SUSPENDED, …).
    pub org_status: Option<String>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl From<&CloudAccount> for AccountView {
    fn from(account: &CloudAccount) -> Self {
        let role_arn = AccountRole::parse(&account.role, &account.id)
            .map(|role| role.arn_in(&account.id).to_string())
            .unwrap_or_default();
        Self {
            id: account.id.to_string(),
            name: account.name.clone(),
            role: account.role.clone(),
            role_arn,
            external_id_set: account.external_id_set,
            regions: account.regions.clone(),
            tags: account.tags.clone(),
            source: account.source.clone(),
            org_status: account.org_status.clone(),
            version: account.version,
            updated_at: account.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountList {
    pub items: Vec<AccountView>,
}

/// One account with each of its versions, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountDetail {
    #[serde(flatten)]
    pub account: AccountView,
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    /// `key=value` pairs, comma-separated: accounts holding every one.
    pub tags: Option<String>,
}

fn account_id(path: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(path).map_err(|_| ApiError::NotFound)
}

/// Seals an external id with the account's id as context, so a sealed value moved to
/// another account does not open.
fn sealed(state: &AppState, id: &AccountId, external_id: &str) -> Vec<u8> {
    state
        .runs
        .secrets
        .seal(external_id.as_bytes(), id.as_str().as_bytes())
}

/// Reads `key=value,key=value`.
fn tag_filter(text: &str) -> Result<Tags, ApiError> {
    text.split(',')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(ApiError::invalid(vec![FieldProblem::new(
                "tags",
                "must be key=value pairs, comma-separated",
            )])),
        })
        .collect()
}

/// Every account, or those holding all the tags given, by id.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    params(("tags" = Option<String>, Query, description = "key=value pairs, comma-separated")),
    responses((status = 200, body = AccountList), (status = 400, body = crate::http::error::ErrorBody), (status = 403)))]
#[get("/api/v1/accounts")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<AccountQuery>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).may_read_accounts()?;
    let tags = query.tags.as_deref().map(tag_filter).transpose()?;
    let accounts = state.db.accounts(tags.as_ref()).await?;
    Ok(HttpResponse::Ok().json(AccountList {
        items: accounts.iter().map(AccountView::from).collect(),
    }))
}

/// Adds an account (admins): 201, or 409 when the inventory holds its id.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = AccountBody,
    responses((status = 201, body = AccountView), (status = 400, body = crate::http::error::ErrorBody),
              (status = 403), (status = 409, body = crate::http::error::ErrorBody)))]
#[post("/api/v1/accounts")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<AccountBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let body = body.0;
    let mut problems = Vec::new();
    for (field, given) in [
        ("version", body.version.is_some()),
        ("clear_external_id", body.clear_external_id),
    ] {
        if given {
            problems.push(FieldProblem::new(field, "is for edits only"));
        }
    }
    let new = request(body).check(None);
    let new = match (new, problems.is_empty()) {
        (Ok(new), true) => new,
        (Ok(_), false) => return Err(ApiError::invalid(problems)),
        (Err(more), _) => {
            problems.extend(more.into_iter().map(FieldProblem::from));
            return Err(ApiError::invalid(problems));
        }
    };
    let seal = new
        .external_id
        .as_deref()
        .map(|external_id| sealed(&state, &new.id, external_id));
    let account = state
        .db
        .create_account(&new, seal.as_deref(), caller.user.id, &caller.audit)
        .await?;
    Ok(HttpResponse::Created().json(AccountView::from(&account)))
}

fn request(body: AccountBody) -> AccountRequest {
    AccountRequest {
        id: body.id,
        name: body.name,
        role: body.role,
        external_id: body.external_id,
        regions: body.regions,
        tags: body.tags,
    }
}

/// One account with its versions.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path)),
    responses((status = 200, body = AccountDetail), (status = 403), (status = 404)))]
#[get("/api/v1/accounts/{id}")]
pub async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).may_read_accounts()?;
    let id = account_id(&path)?;
    let account = state.db.account(&id).await?.ok_or(ApiError::NotFound)?;
    let versions = state.db.account_versions(&id).await?;
    Ok(HttpResponse::Ok().json(AccountDetail {
        account: AccountView::from(&account),
        versions,
    }))
}

/// Changes an account (admins), as of the version read.
#[utoipa::path(put, path = "/api/v1/accounts/{id}", tag = "accounts", request_body = AccountBody,
    params(("id" = String, Path)),
    responses((status = 200, body = AccountView), (status = 400, body = crate::http::error::ErrorBody),
              (status = 403), (status = 404), (status = 409, body = crate::http::error::ErrorBody)))]
#[put("/api/v1/accounts/{id}")]
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidatedJson<AccountBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let id = account_id(&path)?;
    let body = body.0;
    let mut problems = Vec::new();
    let version = body.version;
    if version.is_none() {
        problems.push(FieldProblem::new(
            "version",
            "is required: the version read, so no one's change is lost",
        ));
    }
    let clear = body.clear_external_id;
    if clear && body.external_id.is_some() {
        problems.push(FieldProblem::new(
            "clear_external_id",
            "cannot go with a new external_id",
        ));
    }
    let checked = request(body).check(Some(&id));
    let (new, version) = match (checked, version, problems.is_empty()) {
        (Ok(new), Some(version), true) => (new, version),
        (Ok(_), _, _) => return Err(ApiError::invalid(problems)),
        (Err(more), _, _) => {
            problems.extend(more.into_iter().map(FieldProblem::from));
            return Err(ApiError::invalid(problems));
        }
    };
    let external_id = match (&new.external_id, clear) {
        (Some(external_id), _) => ExternalId::Set(sealed(&state, &id, external_id)),
        (None, true) => ExternalId::Clear,
        (None, false) => ExternalId::Keep,
    };
    let account = state
        .db
        .update_account(&new, &external_id, version, caller.user.id, &caller.audit)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(AccountView::from(&account)))
}

/// An import: which management account's role lists the organisation, and what
/// accounts new to the inventory get.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// A role in the organisation's management account that may call
    /// `organizations:ListAccounts`; the workers assume it.
    pub management_role_arn: Option<String>,
    /// The role's name runs assume in each new account. Default
    /// `OrganizationAccountAccessRole`.
    pub role: Option<String>,
    /// The regions new accounts are scanned in.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// An import and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportView {
    pub id: Uuid,
    pub management_role_arn: String,
    pub role: String,
    pub regions: Vec<String>,
    /// queued, running, succeeded or failed.
    pub status: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Accounts the organisation listed, added and changed.
    pub found: Option<i32>,
    pub created: Option<i32>,
    pub updated: Option<i32>,
    pub error: Option<String>,
}

impl From<AccountImport> for ImportView {
    fn from(import: AccountImport) -> Self {
        Self {
            id: import.id,
            management_role_arn: import.management_role_arn,
            role: import.role,
            regions: import.regions,
            status: import.status,
            requested_by: import.requested_by,
            requested_at: import.requested_at,
            finished_at: import.finished_at,
            found: import.found,
            created: import.created,
            updated: import.updated,
            error: import.error,
        }
    }
}

/// Queues an import of the organisation's accounts (admins): 202 with the import,
/// which a worker carries out.
#[utoipa::path(post, path = "/api/v1/accounts/import", tag = "accounts", request_body = ImportBody,
    responses((status = 202, body = ImportView), (status = 400, body = crate::http::error::ErrorBody), (status = 403)))]
#[post("/api/v1/accounts/import")]
pub async fn import_accounts(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<ImportBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let body = body.0;
    let mut problems = Vec::new();
    let arn = match body.management_role_arn.as_deref().map(RoleArn::parse) {
        None => {
            problems.push(FieldProblem::new("management_role_arn", "is required"));
            None
        }
        Some(Err(why)) => {
            problems.push(FieldProblem::new("management_role_arn", why));
            None
        }
        Some(Ok(arn)) if !state.runs.assume_roles.allows(&arn) => {
            problems.push(FieldProblem::new(
                "management_role_arn",
                "is not a role this deployment lets the workers assume (ASSUME_ROLE_ALLOWED)",
            ));
            None
        }
        Some(Ok(arn)) => Some(arn),
    };
    let role = body.role.unwrap_or_else(|| ORGANIZATIONS_ROLE.to_owned());
    if AccountRole::name(&role).is_err() {
        problems.push(FieldProblem::new(
            "role",
            "must be a role's name, which each account's ARN is made from",
        ));
    }
    let mut region_problems = Vec::new();
    let regions = regions(body.regions, "regions", &mut region_problems);
    problems.extend(region_problems.into_iter().map(FieldProblem::from));
    let Some(arn) = arn.filter(|_| problems.is_empty()) else {
        return Err(ApiError::invalid(problems));
    };
    let import = state
        .db
        .request_import(arn.as_str(), &role, &regions, caller.user.id, &caller.audit)
        .await?;
    Ok(HttpResponse::Accepted().json(ImportView::from(import)))
}

/// An import and where it stands (admins).
#[utoipa::path(get, path = "/api/v1/accounts/imports/{id}", tag = "accounts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ImportView), (status = 403), (status = 404)))]
#[get("/api/v1/accounts/imports/{id}")]
pub async fn get_import(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let import = state
        .db
        .account_import(path.into_inner())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(ImportView::from(import)))
}
