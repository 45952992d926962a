//! The scheduler: every api replica looks each second for schedules whose fire time
//! came, admits each one's run as its owner would submit it, and lets the store decide
//! the fire once ([`sage_store::Db::fire_schedule`]). A fire later than
//! [`MISSED_AFTER_SECONDS`] came while no scheduler ran: the schedule's policy skips it
//! or runs once for all that were missed.

use std::time::Duration;

use chrono::Utc;
use sage_model::schedules::{MISSED_AFTER_SECONDS, MissedPolicy};
use sage_store::audit::AuditContext;
use sage_store::executions::NewExecution;
use sage_store::schedules::{FireOutcome, Schedule};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::http::error::ApiError;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::scans::{ScanBody, planned};
use crate::routes::schedules::cron_of;
use crate::state::AppState;
use crate::submission::{Submission, admit};

const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Schedules taken per look.
const BATCH: i64 = 50;

pub async fn fire_until_stopped(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(LOOK_EVERY) => {}
        }
        let due = match state.db.due_schedules(BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(error = %sage_infra::error_text(&error), "looking for due schedules failed");
                continue;
            }
        };
        for schedule in due {
            if let Err(error) = fire(&state, &schedule).await {
                tracing::warn!(schedule = %schedule.id, error = %sage_infra::error_text(&error), "firing a schedule failed");
            }
        }
    }
}

async fn fire(state: &AppState, schedule: &Schedule) -> Result<(), sage_store::StoreError> {
    let (Some(fire_at), Some(cron)) = (schedule.next_fire_at, cron_of(schedule)) else {
        return Ok(());
    };
    let now = Utc::now();
    let next = cron.next_after(now.max(fire_at));
    let missed = (now - fire_at).num_seconds() > MISSED_AFTER_SECONDS;
    let policy = schedule
        .missed_policy
        .parse::<MissedPolicy>()
        .unwrap_or(MissedPolicy::Skip);
    let outcome = if missed && policy == MissedPolicy::Skip {
        FireOutcome::Missed
    } else if schedule.kind == "scan" {
        scan(state, schedule).await?
    } else {
        match run(state, schedule).await? {
            Ok(run) => standing(state, schedule, run).await?,
            Err(why) => FireOutcome::Refused(why),
        }
    };
    let fired = state
        .db
        .fire_schedule(schedule.id, fire_at, &outcome, next)
        .await?;
    if fired && let FireOutcome::Run(run, _) = &outcome {
        tracing::info!(schedule = %schedule.id, execution = %run.id, "schedule fired");
    }
    Ok(())
}

/// A run that needs approvals goes without waiting when enough approvers (never its
/// owner) approved this version of the schedule and their approvals have not expired;
/// the fire says whose approvals let it.
async fn standing(
    state: &AppState,
    schedule: &Schedule,
    mut run: NewExecution,
) -> Result<FireOutcome, sage_store::StoreError> {
    if run.approvals_required == 0 {
        return Ok(FireOutcome::Run(run, None));
    }
    let approvals = state
        .db
        .standing_approvals(schedule.id, schedule.version)
        .await?;
    let required = usize::try_from(run.approvals_required).unwrap_or(usize::MAX);
    if approvals.len() < required {
        return Ok(FireOutcome::Run(run, None));
    }
    run.approvals_required = 0;
    let who: Vec<String> = approvals
        .iter()
        .map(|a| format!("{} (until {})", a.approver, a.expires_at.to_rfc3339()))
        .collect();
    Ok(FireOutcome::Run(
        run,
        Some(format!(
            "approved by the standing approval of version {} by {}",
            schedule.version,
            who.join(", ")
        )),
    ))
}

/// The fire's scan as the schedule's owner starts it now, or why it is refused.
async fn scan(
    state: &AppState,
    schedule: &Schedule,
) -> Result<FireOutcome, sage_store::StoreError> {
    let (caller, request) = match owner_and_request(state, schedule).await? {
        Ok(both) => both,
        Err(why) => return Ok(FireOutcome::Refused(why)),
    };
    let Ok(body) = serde_json::from_value::<ScanBody>(request) else {
        return Ok(FireOutcome::Refused("its scan no longer reads".to_owned()));
    };
    Ok(match planned(state, &caller, body).await {
        Ok((record, targets, _)) => FireOutcome::Scan(record, targets),
        Err(error) => FireOutcome::Refused(refusal(&error)),
    })
}

/// The schedule's owner as a caller, and what it asks for (its parameters, or its
/// scan), opened; why not, in words.
async fn owner_and_request(
    state: &AppState,
    schedule: &Schedule,
) -> Result<Result<(Caller, Value), String>, sage_store::StoreError> {
    let Some(user) = state.db.user(schedule.owner).await? else {
        return Ok(Err("its owner is gone".to_owned()));
    };
    let caller = Caller {
        user,
        audit: AuditContext {
            actor: format!("schedule {}", schedule.id),
            ..AuditContext::system()
        },
    };
    let Some(sealed) = state.db.sealed_schedule_params(schedule.id).await? else {
        return Ok(Err("its parameters are gone".to_owned()));
    };
    let Some(request) = state
        .runs
        .secrets
        .open(&sealed, schedule.id.as_bytes())
        .ok()
        .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok())
    else {
        return Ok(Err(
            "its parameters do not open with this deployment's key".to_owned()
        ));
    };
    Ok(Ok((caller, request)))
}

/// The fire's run as the schedule's owner submits it now (their permissions as they
/// stand), or why it is refused.
async fn run(
    state: &AppState,
    schedule: &Schedule,
) -> Result<Result<NewExecution, String>, sage_store::StoreError> {
    let (caller, params) = match owner_and_request(state, schedule).await? {
        Ok(both) => both,
        Err(why) => return Ok(Err(why)),
    };
    let module = match Access::new(state, &caller)
        .runnable_module(schedule.module_id)
        .await
    {
        Ok(module) => module,
        Err(error) => return Ok(Err(refusal(&error))),
    };
    let submission = Submission {
        module: &module,
        version: schedule.module_version,
        params: &params,
    };
    Ok(admit(state, &caller, submission)
        .await
        .map_err(|error| refusal(&error)))
}

fn refusal(error: &ApiError) -> String {
    match error {
        ApiError::NotFound => "its owner may no longer run the module".to_owned(),
        other => other.in_words(),
    }
}
