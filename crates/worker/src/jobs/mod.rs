//! One job, start to end: claim the execution, prepare its sandbox (verified script
//! copy, argv, environment with opened secrets), run it under its limits, store how it
//! ended. `process` is the single step the consumer loop and the tests drive.

use sage_model::ExecutionId;
use sage_model::logs::Redactor;
use sage_model::tools::Tool;
use sage_model::{EndReason, ExecutionStatus, StartFailure};
use sage_store::runs::{ClaimedRun, RunEnd};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::artifacts;
use crate::context::Context;
use crate::control::remove_execution_folders;
use crate::logs::LogPump;
use crate::sandbox::{End, Finished, Removal, Spool, run_to_end};
use crate::tool_runs::{self, Outcome};
use keep::{KeepRequest, Notices, SPOOL_FILE, keep_artifacts};
use prepare::{NotStarted, Prepared, prepare};

mod keep;
mod prepare;

/// Claims and runs one execution; one already claimed, finished or cancelled is
/// skipped. Errors are store errors only (transient: the job is retried); anything
/// wrong with the execution itself ends it as failed.
#[tracing::instrument(skip(ctx), fields(worker_id = %ctx.settings.worker_id))]
pub async fn process(
    ctx: &Context,
    execution_id: ExecutionId,
) -> Result<(), sage_store::StoreError> {
    let worker_id = &ctx.settings.worker_id;
    let Some(claimed) = ctx
        .db
        .claim_execution(execution_id, worker_id, ctx.settings.lease)
        .instrument(tracing::info_span!("job_claim"))
        .await?
    else {
        tracing::info!("execution is not queued any more; skipping the job");
        return Ok(());
    };
    let started = std::time::Instant::now();
    let runs = &ctx.metrics.runs;
    runs.started(&claimed.module_name, claimed.waited);
    let tool = claimed.tool;
    let prefix = match tool {
        Some(_) => tool_runs::prefix(execution_id, chrono::Utc::now()),
        None => artifacts::default_prefix(execution_id),
    };
    let ran = {
        let registered = ctx.running.register(execution_id);
        let run = run_claimed(ctx, &claimed, tool, &prefix, &registered.stop);
        tokio::pin!(run);
        tokio::select! {
            end = &mut run => end,
            () = keep_lease(ctx, execution_id, &registered.stop) => run.await,
        }
    };
    match ran.end {
        Some(end) => {
            // A tool run's record and findings are stored before its end, as artifacts
            // are: whoever sees the end finds them. Until the end is stored the run is
            // not anyone's latest (that takes a succeeded execution), and a run declared
            // lost meanwhile never becomes it.
            if let Some(tool) = tool {
                let outcome = ran.outcome.unwrap_or_default();
                if let Err(error) = Box::pin(tool_runs::record(
                    ctx, &claimed, tool, &end, &prefix, outcome,
                ))
                .await
                {
                    tracing::error!(%error, "the tool run's record was not stored");
                }
            }
            // False when it ended meanwhile (cancelled, or declared lost): that end stands.
            let stored = ctx
                .db
                .finish_execution(execution_id, worker_id, &end)
                .instrument(tracing::info_span!("job_store_end"))
                .await?;
            tracing::info!(reason = ?end.reason, stored, "execution finished");
            if stored {
                runs.ended(&claimed.module_name, end.reason, Some(started.elapsed()));
            }
        }
        None => tracing::info!("execution stopped; its end was stored by whoever stopped it"),
    }
    ctx.publisher
        .end(execution_id)
        .instrument(tracing::info_span!("job_announce_end"))
        .await;
    if let Some(removal) = ran.removal {
        removal.done().await;
    }
    Ok(())
}

/// Renews the lease every third of its length. Returns once the execution is not ours
/// any more (cancelled, or declared lost), after telling the run to stop.
async fn keep_lease(ctx: &Context, execution_id: ExecutionId, stop: &CancellationToken) {
    let every = ctx.settings.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        match ctx
            .db
            .renew_lease(execution_id, &ctx.settings.worker_id, ctx.settings.lease)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the execution is not ours any more; stopping it");
                stop.cancel();
                return;
            }
            Err(error) => tracing::warn!(?error, "could not renew the lease; retrying"),
        }
    }
}

fn cannot_start(failure: StartFailure) -> Option<RunEnd> {
    Some(RunEnd {
        reason: EndReason::CannotStart(failure),
        output_bytes: 0,
    })
}

/// What became of a claimed run.
struct Ran {
    /// How it ended; `None` when it was stopped because it ended elsewhere.
    end: Option<RunEnd>,
    /// For a tool run, the findings of its outputs.
    outcome: Option<Outcome>,
    /// Its sandbox's removal, waited for once the end is stored.
    removal: Option<Removal>,
}

async fn run_claimed(
    ctx: &Context,
    claimed: &ClaimedRun,
    tool: Option<Tool>,
    prefix: &str,
    stop: &CancellationToken,
) -> Ran {
    let mut outcome = None;
    let mut removal = None;
    let mut artifacts_lost = false;
    let staging = ctx
        .settings
        .staging_dir
        .join(claimed.execution_id.to_string());
    let end = match prepare(ctx, claimed, &staging)
        .instrument(tracing::info_span!("job_prepare"))
        .await
    {
        Ok(Prepared {
            spec,
            bounds,
            outputs,
            redactor,
        }) => {
            let name = format!("sage-{}", claimed.execution_id);
            let mut pump = log_of(ctx, claimed.execution_id, redactor);
            let spool = staging.join(SPOOL_FILE);
            let (finished, removing) = run_to_end(
                &ctx.docker,
                &name,
                &spec,
                bounds,
                stop,
                &mut pump,
                Some(Spool {
                    path: &spool,
                    cap: outputs.keep.spool_cap(),
                }),
            )
            .await;
            removal = Some(removing);
            if let Ok(finished) = &finished {
                let mut notices = Notices {
                    room: bounds.output_cap.saturating_sub(finished.output_bytes),
                    held_back: 0,
                    log: &mut pump,
                };
                let kept = keep_artifacts(
                    ctx,
                    KeepRequest {
                        execution_id: claimed.execution_id,
                        prefix,
                        is_tool_run: tool.is_some(),
                        limits: outputs.keep,
                        stop,
                    },
                    &finished.outputs,
                    &spool,
                    &mut notices,
                )
                .instrument(tracing::info_span!("job_keep_artifacts"))
                .await;
                artifacts_lost = kept.not_stored.is_some();
                // A stopped run's end is someone else's: it gets no record.
                if let (Some(tool), End::As(reason)) = (tool, &finished.end) {
                    let run = tool_runs::new_run(ctx, claimed, tool, prefix);
                    let succeeded = reason.status() == ExecutionStatus::Succeeded;
                    let account = tool_runs::assumed_account(&claimed.params);
                    let read = tool_runs::store_outputs(
                        ctx,
                        &run,
                        &spool,
                        kept,
                        outputs.bytes,
                        succeeded,
                        account,
                    )
                    .instrument(tracing::info_span!("job_store_findings"))
                    .await;
                    for cut in &read.cut {
                        notices.tell(format!("outputs cut: {cut}")).await;
                    }
                    if let Some(problem) = &read.problem {
                        notices.tell(format!("findings: {problem}")).await;
                    }
                    if let Some(recorded) = &read.recorded {
                        notices
                            .tell(format!(
                                "findings: {} read from the outputs, {} stored",
                                read.read, recorded.findings
                            ))
                            .await;
                    }
                    outcome = Some(read);
                }
                notices.close().await;
            }
            pump.finish()
                .instrument(tracing::info_span!("job_store_log"))
                .await;
            match finished {
                Ok(Finished {
                    end: End::As(reason),
                    output_bytes,
                    ..
                }) => Some(RunEnd {
                    // Never a success with its outputs missing.
                    reason: if artifacts_lost && reason.status() == ExecutionStatus::Succeeded {
                        EndReason::ArtifactsNotKept
                    } else {
                        reason
                    },
                    output_bytes,
                }),
                Ok(Finished {
                    end: End::Stopped, ..
                }) => None,
                Err(error) => {
                    tracing::error!(error = %sage_infra::error_text(&error), "sandbox failed");
                    cannot_start(StartFailure::SandboxError)
                }
            }
        }
        Err(NotStarted { failure, notice }) => {
            tracing::warn!(reason = failure.as_str(), "execution cannot start");
            if let Some((redactor, text)) = notice {
                let mut pump = log_of(ctx, claimed.execution_id, redactor);
                pump.notice(&text).await;
                pump.finish().await;
            }
            cannot_start(failure)
        }
    };
    remove_execution_folders(&ctx.settings.execution_folders(), claimed.execution_id)
        .instrument(tracing::info_span!("job_clean_up"))
        .await;
    Ran {
        end,
        outcome,
        removal,
    }
}

/// The log of one run, its lines masked by `redactor`.
fn log_of(ctx: &Context, execution_id: ExecutionId, redactor: Redactor) -> LogPump {
    LogPump::start(
        ctx.db.clone(),
        ctx.publisher.clone(),
        ctx.metrics.logs.clone(),
        execution_id,
        redactor,
    )
}
