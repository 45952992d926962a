//! The one door of a run. Every way in (a module's run route, a tool's, the DSPM
//! runner's aliases; later schedules and scans) submits through [`submit`]: the
//! version's rules, admission by its module version (every parameter check, the tool
//! inputs, the AWS role), the rules of its tool and of the deployment, then the run
//! stored with its job in one transaction. Routes only turn HTTP into a [`Submission`]
//! and the answer back.

use sage_model::ExecutionId;
use sage_model::catalog::admission::AdmittedRun;
use sage_model::catalog::module::ModuleDefinition;
use sage_model::tools::{NameCatalog, Tool};
use sage_store::catalog::Module;
use sage_store::executions::{Execution, NewExecution};
use sage_store::tools::ModuleTool;
use serde_json::Value;

use crate::http::error::{ApiError, FieldProblem};
use crate::identity::caller::Caller;
use crate::state::AppState;

/// A run as a route asks for it.
pub struct Submission<'a> {
    /// A module the caller may run (the route checked).
    pub module: &'a Module,
    /// A version of it; the latest when `None`.
    pub version: Option<i32>,
    pub params: &'a Value,
}

/// Submits a run: 400 naming each field that does not pass, 409 for a retired
/// version; nothing is recorded unless everything passed.
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    submission: Submission<'_>,
) -> Result<Execution, ApiError> {
    let module_name = submission.module.name.clone();
    let new = admit(state, caller, submission).await?;
    let execution = state
        .db
        .submit_execution(&new, state.runs.in_flight, &caller.audit)
        .await?;
    state.metrics.runs.submitted(&module_name);
    Ok(execution)
}

/// Everything [`submit`] checks, and the run it would record (its secrets sealed):
/// a scan admits each account's run this way, then records them all at once.
pub async fn admit(
    state: &AppState,
    caller: &Caller,
    submission: Submission<'_>,
) -> Result<NewExecution, ApiError> {
    let module = submission.module;
    let number = submission.version.unwrap_or(module.latest_version);
    let version = state
        .db
        .module_version(module.id, number)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(vec![FieldProblem::new(
                "version",
                "is not a version of this module",
            )])
        })?;
    if version.retired_at.is_some() {
        let runnable = state.db.runnable_versions(module.id).await?;
        return Err(ApiError::FieldConflict(FieldProblem::new(
            "version",
            format!("version {number} is retired; runnable versions: {runnable:?}"),
        )));
    }
    let approvals_required = approvals_required(state, module, number, &version.definition).await?;
    let definition = &version.definition;
    // A tool the workers' image lacks cannot run, whatever its parameters.
    let tool = state.db.tool_of_module(module.id).await?;
    if let Some(ModuleTool {
        tool,
        available: Err(why),
        ..
    }) = &tool
    {
        return Err(ApiError::ToolUnavailable(format!(
            "{tool} cannot run: {why}"
        )));
    }
    let run = definition.admit(submission.params)?;
    if let Some(tool) = &tool {
        tool_rules(tool.tool, &tool.names, &run)?;
    }
    deployment_rules(state, &run)?;

    let execution_id = ExecutionId::new();
    let sealed_secrets = (!run.secrets().is_empty())
        .then(|| {
            serde_json::to_vec(run.secrets()).map(|plain| {
                state
                    .runs
                    .secrets
                    .seal(&plain, execution_id.as_uuid().as_bytes())
            })
        })
        .transpose()
        .map_err(ApiError::internal)?;
    Ok(NewExecution {
        id: execution_id,
        module_id: module.id,
        module_version: number,
        requested_by: caller.user.id,
        params: run.masked(),
        sealed_secrets,
        approvals_required,
        approval_ttl: state.runs.approval_ttl,
    })
}

/// Approval rules only ever tighten: naming an older version cannot skip what the
/// latest requires.
async fn approvals_required(
    state: &AppState,
    module: &Module,
    number: i32,
    definition: &ModuleDefinition,
) -> Result<u32, ApiError> {
    let own = definition.approvals_required();
    let latest = if number == module.latest_version {
        own
    } else {
        match state
            .db
            .module_version(module.id, module.latest_version)
            .await?
        {
            Some(latest) => latest.definition.approvals_required(),
            None => {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "the latest version is missing"
                )));
            }
        }
    };
    Ok(own.max(latest))
}

/// What a tool's run needs beyond its module's schema: its cloud's credentials (which
/// a schema cannot make depend on `provider`), and only the frameworks, services and
/// checks the scanner image holds.
fn tool_rules(tool: Tool, names: &NameCatalog, run: &AdmittedRun) -> Result<(), ApiError> {
    let provider = run.text("provider").unwrap_or_default();
    let mut problems: Vec<FieldProblem> = tool
        .credentials_for(&provider)
        .iter()
        .filter(|name| run.text(name).is_none() && !run.secrets().contains_key(**name))
        .map(|name| {
            FieldProblem::new(
                format!("params.{name}"),
                format!("is required to scan {provider}"),
            )
        })
        .collect();
    problems.extend(
        names
            .unknown(tool, run)
            .into_iter()
            .map(|problem| FieldProblem::new(problem.field, problem.message)),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(problems))
    }
}

/// The roles and profiles this deployment lets runs use (the worker checks again).
fn deployment_rules(state: &AppState, run: &AdmittedRun) -> Result<(), ApiError> {
    let Some(role) = run.role() else {
        return Ok(());
    };
    let mut problems = Vec::new();
    if !state.runs.assume_roles.allows(&role.role_arn) {
        problems.push(FieldProblem::new(
            "params.iam_role_arn",
            "is not a role this deployment lets runs assume (ASSUME_ROLE_ALLOWED)",
        ));
    }
    if let Some(why) = role
        .profile
        .as_deref()
        .and_then(|profile| state.runs.aws_profiles.refusal(profile))
    {
        problems.push(FieldProblem::new("params.aws_profile", why));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(problems))
    }
}
