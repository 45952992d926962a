//! A claimed run made ready for its sandbox: its secrets opened, its parameters
//! admitted again, its AWS role assumed, its script copied and checked, its secret
//! files written; or why it cannot start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sage_model::StartFailure;
use sage_model::catalog::cloud::SandboxImage;
use sage_model::catalog::module::NetworkPolicy;
use sage_model::plan::{RunPlan, SecretFile};
use sage_store::runs::{ClaimedRun, RunVersion};
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::sandbox::spec::{LABEL_EXECUTION, LABEL_FLEET, LABEL_WORKER, run_uid};
use crate::sandbox::{Limits, Network, ReadOnlyFile, RunBounds, SandboxSpec};
use crate::settings::{OutputSpace, RuntimeNames};
use sage_model::logs::Redactor;

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
pub(super) struct NotStarted {
    pub(super) failure: StartFailure,
    pub(super) notice: Option<(Redactor, String)>,
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
pub(super) struct Prepared {
    pub(super) spec: SandboxSpec,
    pub(super) bounds: RunBounds,
    /// Where it writes its files and what of them is kept.
    pub(super) outputs: OutputSpace,
    /// Masks its secrets and credentials in its log and artifacts.
    pub(super) redactor: Redactor,
}

/// Builds the sandbox of a claimed execution and the redactor of its secrets: opens the
/// secrets, takes the run plan, assumes its AWS role and turns it into a container; the
/// error is why it cannot start.
pub(super) async fn prepare(
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
            (LABEL_WORKER.to_owned(), ctx.settings.worker_id.to_string()),
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
