//! One job, start to end: claim the execution, prepare its sandbox (verified script
//! copy, argv, environment with opened secrets), run it under its limits, store how it
//! ended. `process` is the single step the consumer loop and the tests drive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sage_model::ExecutionId;
use sage_model::catalog::cloud::SandboxImage;
use sage_model::catalog::module::NetworkPolicy;
use sage_model::plan::{RunPlan, SecretFile};
use sage_model::{EndReason, StartFailure};
use sage_store::runs::{ClaimedRun, RunEnd, RunVersion};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::artifacts::{self, Kept, SecretScan};
use crate::context::Context;
use crate::control::remove_execution_folders;
use crate::logs::LogPump;
use crate::sandbox::spec::{LABEL_EXECUTION, LABEL_FLEET, LABEL_WORKER, run_uid};
use crate::sandbox::{
    End, Finished, Limits, Network, Outputs, ReadOnlyFile, Removal, RunBounds, SandboxSpec, Spool,
    run_to_end,
};
use crate::settings::{OutputSpace, RuntimeNames};
use crate::tool_runs::{self, Outcome};
use sage_model::logs::Redactor;
use sage_model::tools::Tool;
use tokio_util::sync::CancellationToken;

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
            let mut pump = LogPump::start(
                ctx.db.clone(),
                ctx.publisher.clone(),
                ctx.metrics.logs.clone(),
                claimed.execution_id,
                redactor,
            );
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
                    },
                    &finished.outputs,
                    &spool,
                    &mut notices,
                )
                .instrument(tracing::info_span!("job_keep_artifacts"))
                .await;
                if tool.is_some() {
                    let read =
                        read_tool_outputs(&spool, kept, outputs.bytes, claimed.execution_id).await;
                    for cut in &read.cut {
                        notices.tell(format!("outputs cut: {cut}")).await;
                    }
                    if let Some(problem) = &read.problem {
                        notices.tell(format!("findings: {problem}")).await;
                    } else {
                        let total = read.findings.len();
                        notices
                            .tell(format!("findings: {total} read from the outputs"))
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
                    reason,
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
                let mut pump = LogPump::start(
                    ctx.db.clone(),
                    ctx.publisher.clone(),
                    ctx.metrics.logs.clone(),
                    claimed.execution_id,
                    redactor,
                );
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

async fn read_tool_outputs(spool: &Path, kept: Kept, space: u64, id: ExecutionId) -> Outcome {
    let spool = spool.to_owned();
    tokio::task::spawn_blocking(move || tool_runs::read_outputs(&spool, &kept, space, id))
        .await
        .unwrap_or_else(|_| Outcome {
            problem: Some("reading the outputs failed".to_owned()),
            ..Outcome::default()
        })
}

/// The archive of `/work/out`, in the execution's staging folder (removed with it).
const SPOOL_FILE: &str = "outputs.tar";

/// The worker's notices about one run, in the log's `sage` stream. They count against
/// the run's output limit like the script's own lines, so a script cannot flood the
/// log through them (a million files with bad names); past it, one last notice says how
/// many were held back.
struct Notices<'a> {
    log: &'a mut LogPump,
    /// Bytes of the output limit the script left unused.
    room: u64,
    held_back: usize,
}

impl Notices<'_> {
    async fn tell(&mut self, line: String) {
        let bytes = line.len() as u64 + 1;
        if bytes > self.room {
            self.held_back += 1;
            return;
        }
        self.room -= bytes;
        self.log.notice(&line).await;
    }

    async fn close(self) {
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
struct KeepRequest<'a> {
    execution_id: ExecutionId,
    prefix: &'a str,
    is_tool_run: bool,
    limits: artifacts::ArtifactLimits,
}

/// Uploads and records what the script left under `/work/out`, under the request's
/// prefix, and returns what was kept. What is skipped or goes wrong is told in the
/// execution's log; it does not change how the script ended. A tool run's own
/// `result.json` is the worker's record, so a file of that name from the tool is not
/// kept.
async fn keep_artifacts(
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
    let bucket = &ctx.settings.common.s3.bucket;
    let uploaded = match artifacts::upload(&ctx.s3, bucket, request.prefix, spool, &plan.keep).await
    {
        Ok(uploaded) => uploaded,
        Err(error) => {
            tracing::warn!(%error, "artifacts not uploaded");
            notices
                .tell(format!("the artifacts were not kept: {error}"))
                .await;
            return Kept {
                not_kept: vec![format!("none was kept: {error}")],
                written: plan.written,
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
    }
}

/// Writes file secrets into the execution's folder under SECRETS_DIR (a tmpfs, so they
/// never reach a disk), readable by the sandbox user only, each bound read-only where
/// the plan places it. The folder goes when the execution ends.
async fn write_secret_files(
    folder: &Path,
    secrets: &[SecretFile],
    uid: u32,
) -> Result<Vec<ReadOnlyFile>, StartFailure> {
    if secrets.is_empty() {
        return Ok(Vec::new());
    }
    let folder = folder.to_owned();
    let secrets = secrets.to_vec();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&folder)?;
        let mut files = Vec::with_capacity(secrets.len());
        for secret in &secrets {
            let path = folder.join(&secret.name);
            // Created 0400 from the start: there is no moment it is readable by others.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o400)
                .open(&path)?;
            file.write_all(secret.value().as_bytes())?;
            match std::os::unix::fs::chown(&path, Some(uid), Some(uid)) {
                Ok(()) => {}
                // A worker that is not root cannot give the file away: it stays the
                // worker's, readable by all, and the folder (0700, the worker's)
                // keeps other host users out; inside the sandbox only the run's user
                // runs scripts.
                Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444))?;
                }
                Err(error) => return Err(error),
            }
            files.push(ReadOnlyFile {
                host_path: path.to_string_lossy().into_owned(),
                container_path: secret.container_path.clone(),
            });
        }
        Ok::<_, std::io::Error>(files)
    })
    .await
    .map_err(|_| StartFailure::SecretFilesUnwritable)?
    .map_err(|error| {
        tracing::error!(%error, "cannot write secret files");
        StartFailure::SecretFilesUnwritable
    })
}

/// Why a run cannot start, and what its log should say about it (with the redactor of
/// its secrets) when the requester needs more than the reason.
struct NotStarted {
    failure: StartFailure,
    notice: Option<(Redactor, String)>,
}

impl From<StartFailure> for NotStarted {
    fn from(failure: StartFailure) -> Self {
        Self {
            failure,
            notice: None,
        }
    }
}

/// A claimed run, ready for its sandbox.
struct Prepared {
    spec: SandboxSpec,
    bounds: RunBounds,
    /// Where it writes its files and what of them is kept.
    outputs: OutputSpace,
    /// Masks its secrets and credentials in its log and artifacts.
    redactor: Redactor,
}

/// Builds the sandbox of a claimed execution and the redactor of its secrets: opens the
/// secrets, takes the run plan, assumes its AWS role and turns it into a container; the
/// error is why it cannot start.
async fn prepare(
    ctx: &Context,
    claimed: &ClaimedRun,
    staging: &Path,
) -> Result<Prepared, NotStarted> {
    let version = claimed.version.as_ref().map_err(|failure| *failure)?;
    let secrets: BTreeMap<String, String> = match &claimed.sealed_secrets {
        None => BTreeMap::new(),
        Some(sealed) => {
            let plain = ctx
                .secrets
                .open(sealed, claimed.execution_id.as_uuid().as_bytes())
                .map_err(|_| StartFailure::SecretsUnreadable)?;
            serde_json::from_slice(&plain).map_err(|_| StartFailure::SecretsUnreadable)?
        }
    };
    let params = version
        .definition
        .readmit(&claimed.params, secrets)
        .map_err(|problems| {
            // Field names and our own wording only: never a value.
            tracing::error!(?problems, "stored parameters do not pass their version");
            StartFailure::ParamsInvalid
        })?;
    let plan = RunPlan::new(
        claimed.execution_id,
        &version.script_path,
        version.interpreter,
        &version.definition,
        &params,
    );
    let runtime = ctx.runtimes.for_image(plan.image).clone();
    if plan.network == NetworkPolicy::Egress && !runtime.networks {
        // Before any credential is made: it would have nowhere to go.
        return Err(NotStarted {
            failure: StartFailure::SandboxError,
            notice: Some((
                Redactor::new(params.redacted_values()),
                format!(
                    "this run needs a network (its module says egress), and its sandbox runtime {} gives containers none on this worker (it is registered with --network=none); an admin runs such modules under runc ({})",
                    runtime.name,
                    RuntimeNames::variable(plan.image)
                ),
            )),
        });
    }
    let mut env = plan.env;
    let mut cloud_secrets = Vec::new();
    if let Some((role, session_name)) = &plan.assume_role {
        // Checked at submission too; the lists may have changed since.
        let refused = if !ctx.settings.common.assume_roles.allows(&role.role_arn) {
            Some(format!(
                "{} is not a role this deployment lets runs assume (ASSUME_ROLE_ALLOWED)",
                role.role_arn
            ))
        } else {
            role.profile.as_deref().and_then(|profile| {
                (ctx.settings.common.aws_profiles.refusal(profile))
                    .map(|why| format!("the AWS profile {profile}: {why}"))
            })
        };
        if let Some(why) = refused {
            return Err(NotStarted {
                failure: StartFailure::AssumeRoleFailed,
                notice: Some((Redactor::new(params.redacted_values()), why)),
            });
        }
        // Boxed: the SDK's futures are large, and each run awaits one.
        let credentials = Box::pin(ctx.sts.assume(role, session_name))
            .await
            .map_err(|error| NotStarted {
                failure: StartFailure::AssumeRoleFailed,
                notice: Some((
                    Redactor::new(params.redacted_values()),
                    format!(
                        "AssumeRole of {} (session {session_name}{}) failed: {error}",
                        role.role_arn,
                        role.profile
                            .as_deref()
                            .map(|p| format!(", as profile {p}"))
                            .unwrap_or_default()
                    ),
                )),
            })?;
        tracing::info!(role_arn = %role.role_arn, %session_name, "assumed the run's role");
        env.extend(credentials.env());
        if let Some(endpoint) = &ctx.settings.sandbox_aws_endpoint {
            env.push(("AWS_ENDPOINT_URL".to_owned(), endpoint.clone()));
        }
        cloud_secrets.extend(credentials.values().map(str::to_owned));
    }
    let redactor = Redactor::new(
        params
            .redacted_values()
            .chain(cloud_secrets.iter().map(String::as_str)),
    );
    let uid = run_uid(&claimed.execution_id.to_string());
    let mut files = write_secret_files(
        &ctx.settings
            .secrets_dir
            .join(claimed.execution_id.to_string()),
        &plan.secret_files,
        uid,
    )
    .await?;
    files.push(ReadOnlyFile {
        host_path: stage_script(&ctx.settings.common.scripts_dir, version, staging)
            .await?
            .to_string_lossy()
            .into_owned(),
        container_path: plan.script_path,
    });
    let limits = plan.limits;
    let outputs = ctx.settings.output_space(plan.image);
    let image = match plan.image {
        SandboxImage::Runner => &ctx.settings.runner_image,
        SandboxImage::Scanner => &ctx.settings.scanner_image,
    };
    let spec = SandboxSpec {
        image: image.clone(),
        uid,
        argv: plan.argv,
        env,
        files,
        limits: Limits {
            work_tmpfs_bytes: outputs.bytes,
            ..Limits::for_module(&limits)
        },
        network: Network::for_module(plan.network, ctx.settings.egress_target()),
        runtime,
        labels: [
            (LABEL_EXECUTION.to_owned(), claimed.execution_id.to_string()),
            (LABEL_WORKER.to_owned(), ctx.settings.worker_id.clone()),
            (
                LABEL_FLEET.to_owned(),
                ctx.settings.common.amqp.queue_prefix.clone(),
            ),
        ]
        .into_iter()
        .collect(),
    };
    let bounds = RunBounds {
        timeout: std::time::Duration::from_secs(limits.timeout_sec),
        output_cap: limits.max_output_bytes,
    };
    Ok(Prepared {
        spec,
        bounds,
        outputs,
        redactor,
    })
}

/// Copies the script out of the library into the execution's staging folder and
/// checks the copy against the sha256 pinned at registration, so what runs is what
/// was registered even if the library changes meanwhile.
async fn stage_script(
    library: &Path,
    version: &RunVersion,
    staging: &Path,
) -> Result<PathBuf, StartFailure> {
    let source = library.join(version.script_path.as_str());
    let bytes = tokio::fs::read(&source)
        .await
        .map_err(|_| StartFailure::ScriptMissing)?;
    if sage_model::hex(&Sha256::digest(&bytes)) != version.script_sha256 {
        return Err(StartFailure::ScriptChanged);
    }
    tokio::fs::create_dir_all(staging)
        .await
        .map_err(|_| StartFailure::StagingUnwritable)?;
    let staged = staging.join(version.script_path.file_name());
    tokio::fs::write(&staged, &bytes)
        .await
        .map_err(|_| StartFailure::StagingUnwritable)?;
    set_read_only(&staged)
        .await
        .map_err(|_| StartFailure::StagingUnwritable)?;
    Ok(staged)
}

async fn set_read_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).await
}
