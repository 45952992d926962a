//! Schedules: a module's run, with its parameters, at each fire time of a cron
//! expression in an IANA time zone; created, edited, paused, resumed and deleted by
//! their owner (or an admin), each step audited. The api replicas' scheduler fires
//! them ([`crate::background::schedules`]).

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use sage_model::ModuleId;
use sage_model::schedules::{CronSchedule, MissedPolicy};
use sage_store::schedules::{Fire, NewSchedule, Schedule};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::scans::ScanBody;
use crate::state::AppState;
use crate::submission::{Submission, admit};

/// A schedule: `name`, `cron` (five fields, or six with seconds first), `timezone`
/// (IANA, default UTC), the module to run (`module_id`, optionally `version`) with its
/// `params`, `enabled` (default true) and `missed_policy` (`skip`, the default, or
/// `run_once`: what to do about fires that came while no scheduler ran).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    pub name: Option<String>,
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub module_id: Option<Uuid>,
    pub version: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
    pub enabled: Option<bool>,
    pub missed_policy: Option<String>,
    /// A scan to start at each fire, as `POST /api/v1/scans` takes it, in place of
    /// `module_id` and `params`.
    pub scan: Option<ScanBody>,
}

/// A schedule and when it fires next.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    pub id: Uuid,
    /// `run` (a module's run) or `scan`.
    pub kind: String,
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub missed_policy: String,
    pub enabled: bool,
    pub module_id: Uuid,
    pub module_version: Option<i32>,
    /// Secrets shown as `***`.
    #[schema(value_type = Object)]
    pub params: Value,
    pub owner: String,
    pub version: i32,
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The next five fire times (none while paused).
    pub next_fires: Vec<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest fires, newest first (`GET /api/v1/schedules/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fires: Option<Vec<FireView>>,
    /// The standing approvals in effect of this version (`GET …/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals: Option<Vec<StandingApprovalView>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StandingApprovalView {
    pub approver: String,
    pub comment: String,
    pub approved_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A standing approval: why, and until when (at most a year ahead).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    pub comment: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The furthest a standing approval may reach.
const APPROVAL_MAX_DAYS: i64 = 365;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FireView {
    pub fire_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    /// submitted, refused or missed.
    pub outcome: String,
    pub execution_id: Option<Uuid>,
    pub scan_id: Option<Uuid>,
    pub detail: Option<String>,
}

impl From<Fire> for FireView {
    fn from(fire: Fire) -> Self {
        Self {
            fire_at: fire.fire_at,
            fired_at: fire.fired_at,
            outcome: fire.outcome,
            execution_id: fire.execution_id,
            scan_id: fire.scan_id,
            detail: fire.detail,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleList {
    pub items: Vec<ScheduleView>,
}

/// How many fires a schedule's page lists.
const FIRES_SHOWN: i64 = 50;

fn view(schedule: Schedule, fires: Option<Vec<Fire>>) -> ScheduleView {
    let next_fires = match (schedule.next_fire_at, cron_of(&schedule)) {
        (Some(next), Some(cron)) => {
            let mut times = vec![next];
            times.extend(cron.upcoming(next, 4));
            times
        }
        _ => Vec::new(),
    };
    ScheduleView {
        id: schedule.id,
        kind: schedule.kind,
        name: schedule.name,
        cron: schedule.cron,
        timezone: schedule.timezone,
        missed_policy: schedule.missed_policy,
        enabled: schedule.enabled,
        module_id: schedule.module_id.as_uuid(),
        module_version: schedule.module_version,
        params: schedule.params,
        owner: schedule.owner_email,
        version: schedule.version,
        next_fire_at: schedule.next_fire_at,
        next_fires,
        created_at: schedule.created_at,
        updated_at: schedule.updated_at,
        fires: fires.map(|fires| fires.into_iter().map(FireView::from).collect()),
        approvals: None,
    }
}

/// A stored schedule's fire times (it was checked when written; any interval).
pub fn cron_of(schedule: &Schedule) -> Option<CronSchedule> {
    CronSchedule::parse(&schedule.cron, &schedule.timezone, 1).ok()
}

/// The checked schedule a body makes, for `id` (its parameters admitted as a run of
/// the caller's would be, then sealed with the schedule's id).
async fn checked(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    body: ScheduleBody,
) -> Result<NewSchedule, ApiError> {
    let mut problems = Vec::new();
    let name = body.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        problems.push(FieldProblem::new(
            "name",
            "is required: 1 to 200 characters",
        ));
    }
    let timezone = body.timezone.unwrap_or_else(|| "UTC".to_owned());
    let cron = match body.cron.as_deref() {
        None => {
            problems.push(FieldProblem::new("cron", "is required (0 9 * * 1-5)"));
            None
        }
        Some(pattern) => CronSchedule::parse(pattern, &timezone, state.runs.schedule_min_seconds)
            .map_err(|more| problems.extend(more.into_iter().map(FieldProblem::from)))
            .ok(),
    };
    let missed = body
        .missed_policy
        .as_deref()
        .map_or(Ok(MissedPolicy::Skip), str::parse::<MissedPolicy>)
        .map_err(|why| problems.push(FieldProblem::new("missed_policy", why)))
        .ok();
    let target = match body.scan {
        Some(scan) => {
            for (field, given) in [
                ("module_id", body.module_id.is_some()),
                ("version", body.version.is_some()),
                ("params", body.params.is_some()),
            ] {
                if given {
                    problems.push(FieldProblem::new(
                        field,
                        "goes with a module's run, not a scan",
                    ));
                }
            }
            scan_target(state, caller, scan, &mut problems).await?
        }
        None => {
            run_target(
                state,
                caller,
                body.module_id,
                body.version,
                body.params,
                &mut problems,
            )
            .await?
        }
    };
    let (Some(cron), Some(missed), Some(target), true) =
        (cron, missed, target, problems.is_empty())
    else {
        return Err(ApiError::invalid(problems));
    };
    let enabled = body.enabled.unwrap_or(true);
    let plain = serde_json::to_vec(&target.plain).map_err(ApiError::internal)?;
    Ok(NewSchedule {
        id,
        kind: target.kind.to_owned(),
        name: name.to_owned(),
        cron: body.cron.unwrap_or_default(),
        timezone,
        missed_policy: missed.as_str().to_owned(),
        enabled,
        module_id: target.module_id,
        module_version: target.version,
        params: target.shown,
        sealed_params: state.runs.secrets.seal(&plain, id.as_bytes()),
        owner: caller.user.id,
        next_fire_at: enabled.then(|| cron.next_after(Utc::now())).flatten(),
    })
}

/// What a schedule fires, checked: its kind, its module, the request as shown (secrets
/// masked) and whole (to seal).
struct Target {
    kind: &'static str,
    module_id: ModuleId,
    version: Option<i32>,
    shown: Value,
    plain: Value,
}

/// A scan, planned as `POST /api/v1/scans` would (nothing recorded); its problems
/// named under `scan.`.
async fn scan_target(
    state: &AppState,
    caller: &Caller,
    scan: ScanBody,
    problems: &mut Vec<FieldProblem>,
) -> Result<Option<Target>, ApiError> {
    let module = match crate::routes::scans::planned(state, caller, scan.clone()).await {
        Ok((_, _, module)) => module,
        Err(ApiError::Validation { fields, .. }) => {
            problems.extend(
                fields
                    .into_iter()
                    .map(|f| FieldProblem::new(format!("scan.{}", f.field), f.message)),
            );
            return Ok(None);
        }
        Err(other) => return Err(other),
    };
    let request = serde_json::to_value(&scan).map_err(ApiError::internal)?;
    Ok(Some(Target {
        kind: "scan",
        module_id: module.id,
        version: None,
        shown: request.clone(),
        plain: request,
    }))
}

/// A module's run, admitted as the caller's would be (nothing recorded).
async fn run_target(
    state: &AppState,
    caller: &Caller,
    module_id: Option<Uuid>,
    version: Option<i32>,
    params: Option<Value>,
    problems: &mut Vec<FieldProblem>,
) -> Result<Option<Target>, ApiError> {
    let Some(module_id) = module_id else {
        problems.push(FieldProblem::new(
            "module_id",
            "is required: the module to run (or a scan)",
        ));
        return Ok(None);
    };
    let module = Access::new(state, caller)
        .runnable_module(ModuleId::from(module_id))
        .await?;
    let params = params.unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    let submission = Submission {
        module: &module,
        version,
        params: &params,
    };
    match admit(state, caller, submission).await {
        Ok(run) => Ok(Some(Target {
            kind: "run",
            module_id: module.id,
            version,
            shown: run.params,
            plain: params,
        })),
        Err(ApiError::Validation { fields, .. }) => {
            problems.extend(fields);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// A schedule the caller owns, any for admins, and for approvers one whose module they
/// see (what they would approve); else 404.
async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<Schedule, ApiError> {
    let schedule = state.db.schedule(id).await?.ok_or(ApiError::NotFound)?;
    let access = Access::new(state, caller);
    if caller.is_admin()
        || schedule.owner == caller.user.id
        || access.may_approve_schedule(&schedule).await.is_ok()
    {
        Ok(schedule)
    } else {
        Err(ApiError::NotFound)
    }
}

/// A schedule the caller owns, or any for admins; else 404.
async fn owned(state: &AppState, caller: &Caller, id: Uuid) -> Result<Schedule, ApiError> {
    let schedule = state.db.schedule(id).await?.ok_or(ApiError::NotFound)?;
    if caller.is_admin() || schedule.owner == caller.user.id {
        Ok(schedule)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Creates a schedule: 201. The caller must be allowed to run the module now, and
/// its parameters must pass as a run's would.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = ScheduleBody,
    responses((status = 201, body = ScheduleView), (status = 400, body = crate::http::error::ErrorBody), (status = 404)))]
#[post("/api/v1/schedules")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<ScheduleBody>,
) -> Result<HttpResponse, ApiError> {
    let new = checked(&state, &caller, Uuid::new_v4(), body.0).await?;
    let schedule = state.db.create_schedule(&new, &caller.audit).await?;
    Ok(HttpResponse::Created().json(view(schedule, None)))
}

/// Schedules by name: the caller's own, or all for admins.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules",
    responses((status = 200, body = ScheduleList)))]
#[get("/api/v1/schedules")]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let owner = (!caller.is_admin()).then_some(caller.user.id);
    let schedules = state.db.schedules(owner).await?;
    Ok(HttpResponse::Ok().json(ScheduleList {
        items: schedules.into_iter().map(|s| view(s, None)).collect(),
    }))
}

/// A schedule, its next fire times and its latest fires.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleView), (status = 404)))]
#[get("/api/v1/schedules/{id}")]
pub async fn get_one(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let schedule = visible(&state, &caller, path.into_inner()).await?;
    let fires = state.db.schedule_fires(schedule.id, FIRES_SHOWN).await?;
    let approvals = state
        .db
        .standing_approvals(schedule.id, schedule.version)
        .await?;
    let mut shown = view(schedule, Some(fires));
    shown.approvals = Some(
        approvals
            .into_iter()
            .map(|a| StandingApprovalView {
                approver: a.approver,
                comment: a.comment,
                approved_at: a.approved_at,
                expires_at: a.expires_at,
            })
            .collect(),
    );
    Ok(HttpResponse::Ok().json(shown))
}

/// Approves the schedule's current version until `expires_at` (admins and approvers
/// who see its module, never its owner): each fire of this version then runs without
/// waiting once enough approvers did. An edit voids it.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/approve", tag = "schedules", request_body = ApproveBody,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleView), (status = 400, body = crate::http::error::ErrorBody),
              (status = 403), (status = 404)))]
#[post("/api/v1/schedules/{id}/approve")]
pub async fn approve(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    body: ValidatedJson<ApproveBody>,
) -> Result<HttpResponse, ApiError> {
    let schedule = state
        .db
        .schedule(path.into_inner())
        .await?
        .ok_or(ApiError::NotFound)?;
    Access::new(&state, &caller)
        .may_approve_schedule(&schedule)
        .await?;
    let body = body.0;
    let mut problems = Vec::new();
    let comment = body.comment.as_deref().map(str::trim).unwrap_or_default();
    if comment.is_empty() || comment.chars().count() > 2000 {
        problems.push(FieldProblem::new(
            "comment",
            "is required: 1 to 2000 characters",
        ));
    }
    let now = Utc::now();
    let latest = now + chrono::Duration::days(APPROVAL_MAX_DAYS);
    match body.expires_at {
        Some(at) if at > now && at <= latest => {}
        _ => problems.push(FieldProblem::new(
            "expires_at",
            format!("is required: a time in the next {APPROVAL_MAX_DAYS} days"),
        )),
    }
    let (Some(expires_at), true) = (body.expires_at, problems.is_empty()) else {
        return Err(ApiError::invalid(problems));
    };
    state
        .db
        .approve_schedule(
            schedule.id,
            schedule.version,
            caller.user.id,
            comment,
            expires_at,
            &caller.audit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(schedule, None)))
}

/// Replaces what a schedule is made of; its next fire time follows the new cron.
#[utoipa::path(put, path = "/api/v1/schedules/{id}", tag = "schedules", request_body = ScheduleBody,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleView), (status = 400, body = crate::http::error::ErrorBody), (status = 404)))]
#[put("/api/v1/schedules/{id}")]
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    body: ValidatedJson<ScheduleBody>,
) -> Result<HttpResponse, ApiError> {
    let current = owned(&state, &caller, path.into_inner()).await?;
    let mut new = checked(&state, &caller, current.id, body.0).await?;
    // The owner stays who made it, whoever edits it.
    new.owner = current.owner;
    let schedule = state
        .db
        .update_schedule(&new, &caller.audit)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(schedule, None)))
}

/// What pause, resume and delete do to a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateChange {
    Pause,
    Resume,
    Delete,
}

impl StateChange {
    fn action(self) -> &'static str {
        match self {
            Self::Pause => "schedule.pause",
            Self::Resume => "schedule.resume",
            Self::Delete => "schedule.delete",
        }
    }
}

async fn set_state(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    change: StateChange,
) -> Result<HttpResponse, ApiError> {
    let current = owned(state, caller, id).await?;
    let (enabled, deleted) = (change == StateChange::Resume, change == StateChange::Delete);
    let next = if enabled {
        cron_of(&current).and_then(|cron| cron.next_after(Utc::now()))
    } else {
        None
    };
    let schedule = state
        .db
        .set_schedule_state(id, enabled, next, deleted, change.action(), &caller.audit)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view(schedule, None)))
}

/// Pauses a schedule: it fires no more until resumed.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/pause", tag = "schedules",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleView), (status = 404)))]
#[post("/api/v1/schedules/{id}/pause")]
pub async fn pause(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_state(&state, &caller, path.into_inner(), StateChange::Pause).await
}

/// Resumes a schedule from its next fire time after now (fires while paused are not
/// made up).
#[utoipa::path(post, path = "/api/v1/schedules/{id}/resume", tag = "schedules",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleView), (status = 404)))]
#[post("/api/v1/schedules/{id}/resume")]
pub async fn resume(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_state(&state, &caller, path.into_inner(), StateChange::Resume).await
}

/// Deletes a schedule: it fires no more and is no longer listed; its fires and runs
/// stay.
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleView), (status = 404)))]
#[delete("/api/v1/schedules/{id}")]
pub async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_state(&state, &caller, path.into_inner(), StateChange::Delete).await
}
