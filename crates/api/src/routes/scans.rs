//! Scans: one tool with its options over the accounts chosen by id or by tags, one run
//! per account, each admitted through the same door as any run (the roles, external
//! ids and regions come from the accounts). The scan shows its progress and can be
//! cancelled as a whole.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use sage_model::accounts::{
    AccountId, AccountRole, AccountSelection, NewScan, ScanAccount, ScanRequest, Tags,
};
use sage_model::tools::{THROTTLED_EXIT, Tool};
use sage_store::accounts::CloudAccount;
use sage_store::catalog::Module;
use sage_store::scans::{NewScanRecord, Scan, ScanTarget, TargetState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::state::AppState;
use crate::submission::{Submission, admit};

/// A scan: `tool`, the accounts (`account_ids`, or `account_tags` every one of which
/// an account must hold), optionally `regions` in place of each account's own, the
/// tool's options (`params`, without role, external id or regions, which come from the
/// accounts), and how many of its runs may be in flight at once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    pub tool: Option<String>,
    pub account_ids: Option<Vec<String>>,
    pub account_tags: Option<Tags>,
    pub regions: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// Default 10.
    pub max_concurrency: Option<u32>,
    /// One run per account and region (default: one per account, its regions inside).
    pub per_region: Option<bool>,
    /// Runs against one account at once, with any other scan's (default 1: never two).
    pub account_concurrency: Option<u32>,
}

/// A scan and where it stands: how many of its accounts are at each status
/// (`refused`: its run was refused at admission), and each account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScanView {
    pub id: Uuid,
    pub tool: String,
    #[schema(value_type = Object)]
    pub selection: Value,
    pub regions: Option<Vec<String>>,
    #[schema(value_type = Object)]
    pub params: Value,
    pub max_concurrency: i32,
    pub account_concurrency: i32,
    /// running, succeeded (every account's run succeeded), failed (some did not: see
    /// `failed_accounts`) or cancelled.
    pub status: String,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub total: i64,
    /// Accounts whose run ended (any way) or was refused.
    pub done: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub running: i64,
    pub queued: i64,
    #[schema(value_type = Object)]
    pub counts: BTreeMap<String, i64>,
    /// Each account whose run failed, timed out, was lost or refused, with why.
    pub failed_accounts: Vec<TargetView>,
    /// Every account (`GET /api/v1/scans/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<TargetView>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetView {
    pub account_id: String,
    /// The one region its run covers, when the scan runs per region.
    pub region: Option<String>,
    pub account_name: Option<String>,
    pub execution_id: Option<Uuid>,
    /// The run's status, or `refused`.
    pub status: String,
    /// Why the run ended as it did (`throttled` when the cloud's API throttled the tool),
    /// or why it was refused.
    pub reason: Option<String>,
    /// Runs so far for this account: more than one when earlier ones were throttled.
    pub attempts: i32,
    /// The throttled runs before the current one, oldest first.
    pub earlier_runs: Vec<Uuid>,
    /// The current run, a run again after a throttled one, waits until then.
    pub release_after: Option<DateTime<Utc>>,
}

impl From<&TargetState> for TargetView {
    fn from(target: &TargetState) -> Self {
        Self {
            account_id: target.account_id.clone(),
            region: target.region.clone(),
            account_name: target.account_name.clone(),
            execution_id: target.execution_id,
            status: target
                .status
                .clone()
                .unwrap_or_else(|| "refused".to_owned()),
            reason: target.refusal.clone().or_else(|| {
                if target.status.as_deref() == Some("failed")
                    && target.exit_code == Some(THROTTLED_EXIT)
                {
                    Some("throttled".to_owned())
                } else {
                    target.end_reason.clone()
                }
            }),
            attempts: target.attempts,
            earlier_runs: target.earlier_runs.clone(),
            release_after: target.release_after,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScanList {
    pub items: Vec<ScanView>,
}

/// Run statuses that count as an account that failed.
const FAILED: [&str; 5] = ["failed", "timed_out", "lost", "rejected", "refused"];

fn view(scan: &Scan, targets: &[TargetState], whole: bool) -> ScanView {
    let count = |status: &str| scan.counts.get(status).copied().unwrap_or(0);
    let failed = FAILED.iter().map(|s| count(s)).sum();
    let (succeeded, running, queued) = (
        count("succeeded"),
        count("running"),
        count("queued") + count("awaiting_approval"),
    );
    let targets: Vec<TargetView> = targets.iter().map(TargetView::from).collect();
    ScanView {
        id: scan.id,
        tool: scan.tool.clone(),
        selection: scan.selection.clone(),
        regions: scan.regions.clone(),
        params: scan.params.clone(),
        max_concurrency: scan.max_concurrency,
        account_concurrency: scan.account_concurrency,
        status: scan.status.clone(),
        requested_by: scan.requested_by.clone(),
        created_at: scan.created_at,
        finished_at: scan.finished_at,
        total: scan.total,
        done: scan.total - running - queued,
        succeeded,
        failed,
        running,
        queued,
        counts: scan.counts.clone(),
        failed_accounts: targets
            .iter()
            .filter(|t| FAILED.contains(&t.status.as_str()))
            .cloned()
            .collect(),
        accounts: whole.then_some(targets),
    }
}

/// A scan as `caller` asks for it, checked and each account's run admitted (or
/// refused), not yet recorded: `POST /api/v1/scans` records it at once, a schedule's
/// fire with the fire.
pub(crate) async fn planned(
    state: &AppState,
    caller: &Caller,
    body: ScanBody,
) -> Result<(NewScanRecord, Vec<ScanTarget>, Module), ApiError> {
    let scan = ScanRequest {
        tool: body.tool,
        account_ids: body.account_ids,
        account_tags: body.account_tags,
        regions: body.regions,
        params: body.params,
        max_concurrency: body.max_concurrency,
        per_region: body.per_region,
        account_concurrency: body.account_concurrency,
    }
    .check()?;
    let module = tool_module(state, caller, scan.tool).await?;
    let accounts = selected(state, &scan.selection).await?;
    let mut targets = Vec::with_capacity(accounts.len());
    let mut first_refusal = None;
    for account in &accounts {
        let runs = match account_runs(state, &scan, account).await? {
            Err(why) => vec![(
                None,
                Err(ApiError::invalid(vec![FieldProblem::new(
                    format!("accounts.{}", account.id),
                    why,
                )])),
            )],
            Ok(runs) => {
                let mut admitted = Vec::with_capacity(runs.len());
                for (region, params) in runs {
                    let submission = Submission {
                        module: &module,
                        version: None,
                        params: &Value::Object(params),
                    };
                    admitted.push((region, admit(state, caller, submission).await));
                }
                admitted
            }
        };
        for (region, run) in runs {
            let run = match run {
                Ok(run) => Ok(run),
                Err(error @ (ApiError::ToolUnavailable(_) | ApiError::Forbidden(_))) => {
                    return Err(error);
                }
                Err(error) => {
                    let why = error.in_words();
                    first_refusal.get_or_insert(error);
                    Err(why)
                }
            };
            targets.push(ScanTarget {
                account_id: account.id.clone(),
                region,
                run,
            });
        }
    }
    if let (Some(error), false) = (first_refusal, targets.iter().any(|t| t.run.is_ok())) {
        return Err(error);
    }
    let params = targets
        .iter()
        .find_map(|t| t.run.as_ref().ok())
        .map(|run| without_account_params(&run.params))
        .unwrap_or_default();
    let record = NewScanRecord {
        id: Uuid::new_v4(),
        tool: scan.tool.as_str().to_owned(),
        selection: match &scan.selection {
            AccountSelection::Ids(ids) => json!({"account_ids": ids}),
            AccountSelection::Tags(tags) => json!({"account_tags": tags}),
        },
        regions: scan.regions.clone(),
        params,
        max_concurrency: i32::try_from(scan.max_concurrency).unwrap_or(i32::MAX),
        account_concurrency: i32::try_from(scan.account_concurrency).unwrap_or(1),
        requested_by: caller.user.id,
    };
    Ok((record, targets, module))
}

/// Starts a scan: 201 with it. 400 naming each field that does not hold, or, when no
/// account's run may be admitted, the first account's problems; accounts whose own run
/// is refused (no regions, a role the deployment does not allow) are part of the scan,
/// refused, and the others run.
#[utoipa::path(post, path = "/api/v1/scans", tag = "accounts", request_body = ScanBody,
    responses((status = 201, body = ScanView), (status = 400, body = crate::http::error::ErrorBody),
              (status = 403), (status = 404), (status = 409, body = crate::http::error::ErrorBody)))]
#[post("/api/v1/scans")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<ScanBody>,
) -> Result<HttpResponse, ApiError> {
    let (record, targets, module) = planned(&state, &caller, body.0).await?;
    let created = state
        .db
        .create_scan(&record, &targets, &caller.audit)
        .await?;
    for _ in targets.iter().filter(|t| t.run.is_ok()) {
        state.metrics.runs.submitted(&module.name);
    }
    let states = state.db.scan_targets(created.id).await?;
    Ok(HttpResponse::Created().json(view(&created, &states, true)))
}

/// The tool's module, which the caller must be allowed to run.
async fn tool_module(
    state: &AppState,
    caller: &Caller,
    tool: Tool,
) -> Result<sage_store::catalog::Module, ApiError> {
    let entry = state
        .db
        .tools()
        .await?
        .into_iter()
        .find(|entry| entry.tool == tool)
        .ok_or_else(|| ApiError::invalid(vec![FieldProblem::new("tool", "is not installed")]))?;
    Access::new(state, caller)
        .runnable_module(entry.module_id)
        .await
}

/// The accounts a scan selects, in the order asked (ids) or by id (tags); 400 when an
/// id is not in the inventory or no account holds the tags.
async fn selected(
    state: &AppState,
    selection: &AccountSelection,
) -> Result<Vec<CloudAccount>, ApiError> {
    match selection {
        AccountSelection::Ids(ids) => {
            let mut held: std::collections::HashMap<AccountId, CloudAccount> = state
                .db
                .accounts_with_ids(ids)
                .await?
                .into_iter()
                .map(|account| (account.id.clone(), account))
                .collect();
            let mut accounts = Vec::with_capacity(ids.len());
            let mut unknown = Vec::new();
            for id in ids {
                match held.remove(id) {
                    Some(account) => accounts.push(account),
                    None => unknown.push(id.to_string()),
                }
            }
            if unknown.is_empty() {
                Ok(accounts)
            } else {
                Err(ApiError::invalid(vec![FieldProblem::new(
                    "account_ids",
                    format!("not in the accounts inventory: {}", unknown.join(", ")),
                )]))
            }
        }
        AccountSelection::Tags(tags) => {
            let accounts = state.db.accounts(Some(tags)).await?;
            if accounts.is_empty() {
                Err(ApiError::invalid(vec![FieldProblem::new(
                    "account_tags",
                    "no account of the inventory holds every one of these tags",
                )]))
            } else {
                Ok(accounts)
            }
        }
    }
}

/// The runs over `account` (one, or one per region), its external id opened; why not,
/// in words.
async fn account_runs(
    state: &AppState,
    scan: &NewScan,
    account: &CloudAccount,
) -> Result<Result<Vec<(Option<String>, Map<String, Value>)>, String>, ApiError> {
    let role = match AccountRole::parse(&account.role, &account.id) {
        Ok(role) => role,
        Err(why) => return Ok(Err(format!("its role {why}"))),
    };
    let external_id = if account.external_id_set {
        let Some(sealed) = state.db.sealed_external_id(&account.id).await? else {
            return Ok(Err("its external id is gone".to_owned()));
        };
        let opened = state
            .runs
            .secrets
            .open(&sealed, account.id.as_str().as_bytes())
            .ok()
            .and_then(|plain| String::from_utf8(plain).ok());
        match opened {
            Some(external_id) => Some(external_id),
            None => {
                return Ok(Err(
                    "its external id does not open with this deployment's key".to_owned(),
                ));
            }
        }
    } else {
        None
    };
    let target = ScanAccount {
        id: account.id.clone(),
        role,
        external_id,
        regions: account.regions.clone(),
    };
    let runs = scan.runs(&target);
    Ok(if runs.is_empty() {
        Err(
            "has no regions and the scan names none: give the account its regions, or the scan"
                .to_owned(),
        )
    } else {
        Ok(runs)
    })
}

/// The runs' parameters as the scan shows them: the tool's options, without what each
/// account decides.
fn without_account_params(params: &Value) -> Value {
    let mut params = params.clone();
    if let Some(object) = params.as_object_mut() {
        for name in sage_model::accounts::ACCOUNT_PARAMS {
            object.remove(name);
        }
        object.remove("provider");
    }
    params
}

/// A scan the caller may see: its requester's, or any for admins and auditors.
pub(crate) async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<Scan, ApiError> {
    let scan = state.db.scan(id).await?.ok_or(ApiError::NotFound)?;
    if Access::new(state, caller).sees_all_scans() || scan.requester_id == caller.user.id {
        Ok(scan)
    } else {
        Err(ApiError::NotFound)
    }
}

/// A scan with each of its accounts.
#[utoipa::path(get, path = "/api/v1/scans/{id}", tag = "accounts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScanView), (status = 404)))]
#[get("/api/v1/scans/{id}")]
pub async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let scan = visible(&state, &caller, path.into_inner()).await?;
    let targets = state.db.scan_targets(scan.id).await?;
    Ok(HttpResponse::Ok().json(view(&scan, &targets, true)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanQuery {
    pub limit: Option<i64>,
}

/// Scans newest first: the caller's own, or all for admins and auditors.
#[utoipa::path(get, path = "/api/v1/scans", tag = "accounts",
    params(("limit" = Option<i64>, Query, description = "1 to 500, default 50")),
    responses((status = 200, body = ScanList), (status = 400, body = crate::http::error::ErrorBody)))]
#[get("/api/v1/scans")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ScanQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = crate::routes::pagination::PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let requester = (!Access::new(&state, &caller).sees_all_scans()).then_some(caller.user.id);
    let scans = state.db.scans(requester, limit).await?;
    let mut items = Vec::with_capacity(scans.len());
    for scan in &scans {
        let targets = state.db.scan_targets(scan.id).await?;
        items.push(view(scan, &targets, false));
    }
    Ok(HttpResponse::Ok().json(ScanList { items }))
}

/// Cancels a running scan and every run of it that has not ended; 409 once it ended.
#[utoipa::path(post, path = "/api/v1/scans/{id}/cancel", tag = "accounts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScanView), (status = 404), (status = 409, body = crate::http::error::ErrorBody)))]
#[post("/api/v1/scans/{id}/cancel")]
pub async fn cancel(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let scan = visible(&state, &caller, path.into_inner()).await?;
    let Some(cancelled) = state.db.cancel_scan(scan.id, &caller.audit).await? else {
        return Err(ApiError::Conflict(format!(
            "the scan already ended {}",
            scan.status
        )));
    };
    let targets = state.db.scan_targets(cancelled.id).await?;
    Ok(HttpResponse::Ok().json(view(&cancelled, &targets, true)))
}
