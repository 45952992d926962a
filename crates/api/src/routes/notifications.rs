//! Notification channels and rules: admins write them, admins, auditors and approvers
//! read them. A channel's secret (a webhook's signing key, a Slack webhook's URL, an
//! SMTP password) goes in sealed and never comes out.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use sage_model::ModuleId;
use sage_model::findings::Severity;
use sage_model::notifications::{ChannelRequest, RuleRequest};
use sage_store::notifications::{Channel, ChannelRecord, ChannelRemoval, Delivery, Rule};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::background::notifications::seal_context;
use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::state::AppState;

/// How many of a channel's latest messages its page shows.
const DELIVERIES_SHOWN: i64 = 50;

/// A channel as an admin writes it; `kind` says which other fields it takes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    pub name: Option<String>,
    /// `webhook`, `slack` or `email`.
    pub kind: Option<String>,
    /// webhook and slack: https (plain http only to NOTIFY_HTTP_HOSTS). A Slack
    /// webhook's URL is its secret: kept sealed, only its host shown.
    pub url: Option<String>,
    /// webhook: the HMAC-SHA256 key receivers verify `X-Sage-Signature` with (16+).
    pub secret: Option<String>,
    /// email: the mail server.
    pub smtp_host: Option<String>,
    /// email: default 587 (starttls) or 465 (tls).
    pub smtp_port: Option<u16>,
    /// email: `starttls` (default) or `tls`; never in the clear.
    pub smtp_tls: Option<String>,
    pub username: Option<String>,
    /// email: kept sealed, never shown.
    pub password: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// email: PEM certificates to trust besides the system's.
    pub ca_certificate: Option<String>,
}

/// A channel, without its secret, with how its messages went.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    /// What may be shown: a webhook's URL, a Slack webhook's host, the mail server,
    /// sender and recipients.
    #[schema(value_type = Object)]
    pub config: Value,
    pub created_at: DateTime<Utc>,
    /// Messages waiting to be sent or tried again.
    pub pending: i64,
    /// Messages given up after their last attempt.
    pub failed: i64,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl From<&Channel> for ChannelView {
    fn from(channel: &Channel) -> Self {
        Self {
            id: channel.id,
            name: channel.name.clone(),
            kind: channel.kind.as_str().to_owned(),
            config: channel.config.clone(),
            created_at: channel.created_at,
            pending: channel.pending,
            failed: channel.failed,
            last_delivered_at: channel.last_delivered_at,
            last_error: channel.last_error.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    pub items: Vec<ChannelView>,
}

/// One message of a channel's record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub rule_id: Option<Uuid>,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// What the message told (a webhook's body).
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id,
            rule_id: d.rule_id,
            event: d.event.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            last_error: d.last_error.clone(),
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            payload: d.payload.clone(),
        }
    }
}

/// A channel with its latest messages, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelDetail {
    #[serde(flatten)]
    pub channel: ChannelView,
    pub deliveries: Vec<DeliveryView>,
}

/// A test message queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestQueued {
    /// The message's id in the channel's record.
    pub message_id: i64,
}

/// A rule as an admin writes it. On an edit, `version` is the one read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub name: Option<String>,
    pub channel_id: Option<Uuid>,
    /// `run.finished`, `scan.finished`, `findings.new`, `acceptance.expiring` or
    /// `approval.requested`.
    pub event: Option<String>,
    /// run.finished, approval.requested: this module's runs only.
    pub module_id: Option<Uuid>,
    /// scan.finished, findings.new: this tool's only.
    pub tool: Option<String>,
    /// run.finished, scan.finished: these ends only (empty: every end).
    #[serde(default)]
    pub statuses: Vec<String>,
    /// findings.new: the least severity told (default `high`).
    pub min_severity: Option<String>,
    /// acceptance.expiring: how many days before the expiry (default 7).
    pub days_before: Option<i32>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Edits only: the version read.
    pub version: Option<i32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    pub id: Uuid,
    pub name: String,
    pub channel_id: Uuid,
    pub event: String,
    pub module_id: Option<Uuid>,
    pub tool: Option<String>,
    pub statuses: Vec<String>,
    pub min_severity: Option<String>,
    pub days_before: Option<i32>,
    pub enabled: bool,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl From<&Rule> for RuleView {
    fn from(rule: &Rule) -> Self {
        let min_severity = rule.min_severity_rank.and_then(|rank| {
            usize::try_from(rank)
                .ok()
                .and_then(|rank| Severity::ALL.get(rank))
                .map(|s| s.as_str().to_owned())
        });
        Self {
            id: rule.id,
            name: rule.name.clone(),
            channel_id: rule.channel_id,
            event: rule.event.clone(),
            module_id: rule.module_id,
            tool: rule.tool.clone(),
            statuses: rule.statuses.clone(),
            min_severity,
            days_before: rule.days_before,
            enabled: rule.enabled,
            version: rule.version,
            updated_at: rule.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleList {
    pub items: Vec<RuleView>,
}

/// Every channel, by name.
#[utoipa::path(get, path = "/api/v1/notification-channels", tag = "notifications",
    responses((status = 200, body = ChannelList), (status = 403)))]
#[get("/api/v1/notification-channels")]
pub async fn list_channels(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).may_read_notifications()?;
    let channels = state.db.channels().await?;
    Ok(HttpResponse::Ok().json(ChannelList {
        items: channels.iter().map(ChannelView::from).collect(),
    }))
}

/// Adds a channel (admins): 201, or 409 when its name is taken.
#[utoipa::path(post, path = "/api/v1/notification-channels", tag = "notifications",
    request_body = ChannelBody,
    responses((status = 201, body = ChannelView), (status = 400, body = crate::http::error::ErrorBody),
              (status = 403), (status = 409, body = crate::http::error::ErrorBody)))]
#[post("/api/v1/notification-channels")]
pub async fn create_channel(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<ChannelBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let body = body.0;
    let new = ChannelRequest {
        name: body.name,
        kind: body.kind,
        url: body.url,
        secret: body.secret,
        smtp_host: body.smtp_host,
        smtp_port: body.smtp_port,
        smtp_tls: body.smtp_tls,
        username: body.username,
        password: body.password,
        from: body.from,
        to: body.to,
        ca_certificate: body.ca_certificate,
    }
    .check(&state.notify.destinations())
    .map_err(|problems| {
        ApiError::invalid(problems.into_iter().map(FieldProblem::from).collect())
    })?;
    let id = Uuid::new_v4();
    let sealed = new.target.secret().map(|secret| {
        state
            .runs
            .secrets
            .seal(secret.as_bytes(), &seal_context(id))
    });
    let channel = state
        .db
        .create_channel(
            ChannelRecord {
                id,
                name: &new.name,
                kind: new.target.kind(),
                config: &new.target.shown(),
                sealed: sealed.as_deref(),
            },
            caller.user.id,
            &caller.audit,
        )
        .await?;
    Ok(HttpResponse::Created().json(ChannelView::from(&channel)))
}

/// A channel with its latest messages.
#[utoipa::path(get, path = "/api/v1/notification-channels/{id}", tag = "notifications",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ChannelDetail), (status = 403), (status = 404)))]
#[get("/api/v1/notification-channels/{id}")]
pub async fn get_channel(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).may_read_notifications()?;
    let id = path.into_inner();
    let channel = state.db.channel(id).await?.ok_or(ApiError::NotFound)?;
    let deliveries = state.db.channel_deliveries(id, DELIVERIES_SHOWN).await?;
    Ok(HttpResponse::Ok().json(ChannelDetail {
        channel: ChannelView::from(&channel),
        deliveries: deliveries.iter().map(DeliveryView::from).collect(),
    }))
}

/// Deletes a channel no rule sends to (409 names the rules that do); answers the
/// channel as it was.
#[utoipa::path(delete, path = "/api/v1/notification-channels/{id}", tag = "notifications",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ChannelView), (status = 403), (status = 404),
              (status = 409, body = crate::http::error::ErrorBody)))]
#[delete("/api/v1/notification-channels/{id}")]
pub async fn delete_channel(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let id = path.into_inner();
    let channel = state.db.channel(id).await?.ok_or(ApiError::NotFound)?;
    match state.db.delete_channel(id, &caller.audit).await? {
        ChannelRemoval::Deleted => Ok(HttpResponse::Ok().json(ChannelView::from(&channel))),
        ChannelRemoval::Missing => Err(ApiError::NotFound),
        ChannelRemoval::InUse(rules) => Err(ApiError::Conflict(format!(
            "rules still send to this channel: {}",
            rules.join(", ")
        ))),
    }
}

/// Queues a test message to the channel (admins): its record shows how it went.
#[utoipa::path(post, path = "/api/v1/notification-channels/{id}/test", tag = "notifications",
    params(("id" = Uuid, Path)),
    responses((status = 202, body = TestQueued), (status = 403), (status = 404)))]
#[post("/api/v1/notification-channels/{id}/test")]
pub async fn test_channel(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let id = path.into_inner();
    let channel = state.db.channel(id).await?.ok_or(ApiError::NotFound)?;
    let payload = json!({
        "event": "test",
        "at": Utc::now(),
        "subject": format!("Test message to {}", channel.name),
        "text": format!("{} asked Sage Runner to send this to {}.", caller.user.email, channel.name),
    });
    let message_id = state
        .db
        .queue_test_message(id, &payload, &caller.audit)
        .await?;
    Ok(HttpResponse::Accepted().json(TestQueued { message_id }))
}

/// Every rule, by name.
#[utoipa::path(get, path = "/api/v1/notification-rules", tag = "notifications",
    responses((status = 200, body = RuleList), (status = 403)))]
#[get("/api/v1/notification-rules")]
pub async fn list_rules(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).may_read_notifications()?;
    let rules = state.db.rules().await?;
    Ok(HttpResponse::Ok().json(RuleList {
        items: rules.iter().map(RuleView::from).collect(),
    }))
}

/// Checks a rule's fields, and that its channel and module exist.
async fn checked_rule(
    state: &AppState,
    body: RuleBody,
) -> Result<sage_model::notifications::NewRule, ApiError> {
    let request = RuleRequest {
        name: body.name,
        channel_id: body.channel_id,
        event: body.event,
        module_id: body.module_id,
        tool: body.tool,
        statuses: body.statuses,
        min_severity: body.min_severity,
        days_before: body.days_before,
        enabled: body.enabled,
    };
    let mut problems: Vec<FieldProblem> = Vec::new();
    if let Some(channel) = request.channel_id
        && state.db.channel(channel).await?.is_none()
    {
        problems.push(FieldProblem::new("channel_id", "names no channel"));
    }
    if let Some(module) = request.module_id
        && state.db.module(ModuleId::from(module)).await?.is_none()
    {
        problems.push(FieldProblem::new("module_id", "names no module"));
    }
    match request.check() {
        Ok(rule) if problems.is_empty() => Ok(rule),
        Ok(_) => Err(ApiError::invalid(problems)),
        Err(more) => {
            problems.extend(more.into_iter().map(FieldProblem::from));
            Err(ApiError::invalid(problems))
        }
    }
}

/// Adds a rule (admins).
#[utoipa::path(post, path = "/api/v1/notification-rules", tag = "notifications",
    request_body = RuleBody,
    responses((status = 201, body = RuleView), (status = 400, body = crate::http::error::ErrorBody),
              (status = 403)))]
#[post("/api/v1/notification-rules")]
pub async fn create_rule(
    caller: Caller,
    state: web::Data<AppState>,
    body: ValidatedJson<RuleBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let mut body = body.0;
    if body.version.take().is_some() {
        return Err(ApiError::invalid(vec![FieldProblem::new(
            "version",
            "is for edits only",
        )]));
    }
    let new = checked_rule(&state, body).await?;
    let rule = state
        .db
        .create_rule(Uuid::new_v4(), &new, caller.user.id, &caller.audit)
        .await?;
    Ok(HttpResponse::Created().json(RuleView::from(&rule)))
}

#[utoipa::path(get, path = "/api/v1/notification-rules/{id}", tag = "notifications",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RuleView), (status = 403), (status = 404)))]
#[get("/api/v1/notification-rules/{id}")]
pub async fn get_rule(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).may_read_notifications()?;
    let rule = state
        .db
        .rule(path.into_inner())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(RuleView::from(&rule)))
}

/// Rewrites a rule (admins) at the version read: 409 when it changed since.
#[utoipa::path(put, path = "/api/v1/notification-rules/{id}", tag = "notifications",
    params(("id" = Uuid, Path)), request_body = RuleBody,
    responses((status = 200, body = RuleView), (status = 400, body = crate::http::error::ErrorBody),
              (status = 403), (status = 404), (status = 409, body = crate::http::error::ErrorBody)))]
#[put("/api/v1/notification-rules/{id}")]
pub async fn update_rule(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    body: ValidatedJson<RuleBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let id = path.into_inner();
    if state.db.rule(id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let mut body = body.0;
    let Some(version) = body.version.take() else {
        return Err(ApiError::invalid(vec![FieldProblem::new(
            "version",
            "is required: the version read",
        )]));
    };
    let new = checked_rule(&state, body).await?;
    let rule = state
        .db
        .update_rule(id, &new, version, &caller.audit)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(RuleView::from(&rule)))
}

/// Deletes a rule (admins); answers it as it was.
#[utoipa::path(delete, path = "/api/v1/notification-rules/{id}", tag = "notifications",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RuleView), (status = 403), (status = 404)))]
#[delete("/api/v1/notification-rules/{id}")]
pub async fn delete_rule(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let id = path.into_inner();
    let rule = state.db.rule(id).await?.ok_or(ApiError::NotFound)?;
    if !state.db.delete_rule(id, &caller.audit).await? {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Ok().json(RuleView::from(&rule)))
}
