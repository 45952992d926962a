//! What a run leaves under `/work/out`, kept: uploaded, recorded, and told about in its
//! log through the worker's notices.

use std::path::Path;

use sage_model::ExecutionId;

use crate::artifacts::{self, Kept, SecretScan};
use crate::context::Context;
use crate::logs::LogPump;
use crate::sandbox::Outputs;
use crate::tool_runs;
use tokio_util::sync::CancellationToken;

/// The archive of `/work/out`, in the execution's staging folder (removed with it).
pub(super) const SPOOL_FILE: &str = "outputs.tar";

/// The worker's notices about one run, in the log's `sage` stream. They count against
/// the run's output limit like the script's own lines, so a script cannot flood the
/// log through them (a million files with bad names); past it, one last notice says how
/// many were held back.
pub(super) struct Notices<'a> {
    pub(super) log: &'a mut LogPump,
    /// Bytes of the output limit the script left unused.
    pub(super) room: u64,
    pub(super) held_back: usize,
}

impl Notices<'_> {
    pub(super) async fn tell(&mut self, line: String) {
        let bytes = line.len() as u64 + 1;
        if bytes > self.room {
            self.held_back += 1;
            return;
        }
        self.room -= bytes;
        self.log.notice(&line).await;
    }

    pub(super) async fn close(self) {
        if self.held_back > 0 {
            let line = format!(
                "{} more notices held back: the run reached its output limit",
                self.held_back
            );
            self.log.notice(&line).await;
        }
    }
}

/// Which run's outputs to keep, where, and under which limits.
pub(super) struct KeepRequest<'a> {
    pub(super) execution_id: ExecutionId,
    pub(super) prefix: &'a str,
    pub(super) is_tool_run: bool,
    pub(super) limits: artifacts::ArtifactLimits,
    /// Cancelled when the run ended elsewhere: a store that is down is not waited for.
    pub(super) stop: &'a CancellationToken,
}

/// Uploads and records what the script left under `/work/out`, under the request's
/// prefix, and returns what was kept. What is skipped or goes wrong is told in the
/// execution's log; it does not change how the script ended. A tool run's own
/// `result.json` is the worker's record, so a file of that name from the tool is not
/// kept.
pub(super) async fn keep_artifacts(
    ctx: &Context,
    request: KeepRequest<'_>,
    outputs: &Outputs,
    spool: &Path,
    notices: &mut Notices<'_>,
) -> Kept {
    match outputs {
        Outputs::NotCollected | Outputs::Spooled { bytes: 0, .. } => return Kept::default(),
        Outputs::Failed(why) => {
            tracing::warn!(why, "outputs not collected");
            notices
                .tell(format!("the artifacts could not be collected: {why}"))
                .await;
            return Kept {
                not_kept: vec![format!("/work/out could not be collected: {why}")],
                ..Kept::default()
            };
        }
        Outputs::Spooled { .. } => {}
    }
    let path = spool.to_owned();
    let redactor = notices.log.redactor().clone();
    let scan = if request.is_tool_run {
        SecretScan::NamesAndContents
    } else {
        SecretScan::Names
    };
    let limits = request.limits;
    let planned =
        tokio::task::spawn_blocking(move || artifacts::plan(&path, limits, &redactor, scan)).await;
    let mut plan = match planned {
        Ok(Ok(plan)) => plan,
        Ok(Err(error)) => {
            notices
                .tell(format!("the artifacts could not be read: {error}"))
                .await;
            return Kept::default();
        }
        Err(error) => {
            tracing::error!(%error, "reading the artifacts panicked");
            notices
                .tell("the artifacts could not be read".to_owned())
                .await;
            return Kept::default();
        }
    };
    if request.is_tool_run
        && let Some(at) = plan
            .keep
            .iter()
            .position(|p| p.name.as_str() == tool_runs::RESULT_FILE)
    {
        plan.keep.remove(at);
        // Left out on purpose, so no output lost: said, but not listed as cut.
        notices
            .tell(format!(
                "artifact skipped: /work/out/{} is the name of the run's record, written by the worker",
                tool_runs::RESULT_FILE
            ))
            .await;
    }
    for skipped in &plan.skipped {
        notices.tell(format!("artifact skipped: {skipped}")).await;
    }
    for masked in plan.masked {
        notices.tell(format!("artifact masked: {masked}")).await;
    }
    let uploaded = match upload_until_stored(ctx, &request, spool, &plan.keep, notices).await {
        Ok(uploaded) => uploaded,
        Err(error) => {
            tracing::warn!(%error, "artifacts not stored by the deadline");
            notices
                .tell(format!("the artifacts were not kept: {error}"))
                .await;
            return Kept {
                not_kept: vec![format!("none was kept: {error}")],
                written: plan.written,
                not_stored: Some(error.to_string()),
                ..Kept::default()
            };
        }
    };
    if let Err(error) = ctx
        .db
        .record_artifacts(request.execution_id, &uploaded)
        .await
    {
        tracing::error!(error = %sage_infra::error_text(&error), "artifacts not recorded");
        notices
            .tell("the artifacts were uploaded but not recorded".to_owned())
            .await;
    }
    Kept {
        planned: plan.keep,
        not_kept: plan.skipped,
        written: plan.written,
        not_stored: None,
    }
}

/// Uploads the planned files, again and again while the store fails (the spool stays
/// on disk meanwhile), pausing 1 s, then twice as long each time up to 30 s, until
/// `ARTIFACT_UPLOAD_DEADLINE_SEC` has passed or the run ended elsewhere; each failure
/// is told in the run's log.
async fn upload_until_stored(
    ctx: &Context,
    request: &KeepRequest<'_>,
    spool: &Path,
    keep: &[artifacts::Planned],
    notices: &mut Notices<'_>,
) -> Result<Vec<sage_store::artifacts::Artifact>, artifacts::UploadError> {
    let bucket = &ctx.settings.common.s3.bucket;
    let deadline = tokio::time::Instant::now() + ctx.settings.artifact_deadline;
    let mut pause = std::time::Duration::from_secs(1);
    let mut attempt = 1u32;
    loop {
        // One attempt is bounded too: by the deadline, and by the run ending elsewhere.
        let attempted = tokio::select! {
            uploaded = tokio::time::timeout_at(
                deadline,
                artifacts::upload(&ctx.s3, bucket, request.prefix, spool, keep),
            ) => uploaded.unwrap_or_else(|_| Err(artifacts::UploadError::timed_out())),
            () = request.stop.cancelled() => Err(artifacts::UploadError::stopped()),
        };
        let error = match attempted {
            Ok(uploaded) => {
                if attempt > 1 {
                    notices
                        .tell(format!("the artifacts were stored at attempt {attempt}"))
                        .await;
                }
                return Ok(uploaded);
            }
            Err(error) => error,
        };
        let next = tokio::time::Instant::now() + pause;
        if next > deadline || request.stop.is_cancelled() {
            return Err(error);
        }
        tracing::warn!(%error, attempt, "artifacts not stored yet; trying again");
        notices
            .tell(format!(
                "storing the artifacts failed ({error}); trying again in {} s (attempt {})",
                pause.as_secs(),
                attempt + 1
            ))
            .await;
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = request.stop.cancelled() => return Err(error),
        }
        pause = (pause * 2).min(std::time::Duration::from_secs(30));
        attempt += 1;
    }
}
