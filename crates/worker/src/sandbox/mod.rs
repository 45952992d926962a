//! The sandbox: one container per execution, through the one shared bollard client.
//! One lifecycle: create with labels, start the container holding itself open, run the
//! script in it and pass its output on, end it one way (exit, OOM, timeout, output
//! limit, stop), copy `/work/out` out when the script ended by itself, always remove.
//! How it ended is chosen in one place.

pub mod spec;

use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptions, KillContainerOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::{Stream as FuturesStream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use sage_model::EndReason;
pub use sage_model::logs::Stream;
pub use spec::{Limits, Network, ReadOnlyFile, Runtime, SandboxSpec};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the Docker engine refused the container")]
    Docker(#[from] bollard::errors::Error),
    #[error("the Docker engine did not attach to the script")]
    Detached,
    #[error("the outputs could not be written to the worker's disk")]
    Spool(#[from] std::io::Error),
    #[error("the Docker engine took too long {0}")]
    Stuck(&'static str),
    #[error("the sandbox's container stopped while its script ran")]
    ContainerStopped,
}

/// Longest wait for `/work/out` to be copied out. Nothing of the script runs by then,
/// and the folder is a bounded tmpfs, so this only guards against a stuck engine.
const COPY_OUT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a container's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It ended one of the ways an execution ends: an exit code, OOM, timeout, output
    /// limit.
    As(EndReason),
    /// Stopped on request: the execution ended elsewhere (cancelled, or declared lost),
    /// and that end stands.
    Stopped,
}

/// How the run ended, how much it printed, and what became of its outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub end: End,
    /// Bytes printed in all, including what went past the cap and was not passed on.
    pub output_bytes: u64,
    pub outputs: Outputs,
}

/// Where `/work/out` is copied to, as a tar archive on the worker's disk, and the most
/// of it kept.
#[derive(Debug, Clone, Copy)]
pub struct Spool<'a> {
    pub path: &'a Path,
    pub cap: u64,
}

/// The script's `/work/out` after the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outputs {
    /// Not asked for, or the script did not end by itself (its sandbox was killed).
    NotCollected,
    /// The archive is in the spool (empty when there was no `/work/out`); `cut` when it
    /// went past the spool's cap and its end was dropped.
    Spooled {
        bytes: u64,
        cut: bool,
    },
    Failed(String),
}

/// Where a sandbox's output goes as it is printed, up to the output cap.
pub trait OutputSink: Send {
    fn write(&mut self, stream: Stream, bytes: &[u8]) -> impl Future<Output = ()> + Send;
}

/// Keeps the output in memory (tests, small tools).
#[derive(Debug, Default)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl OutputSink for Captured {
    async fn write(&mut self, stream: Stream, bytes: &[u8]) {
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(bytes),
            // A sandbox only writes these two; notices are the worker's.
            Stream::Stderr | Stream::Sage => self.stderr.extend_from_slice(bytes),
        }
    }
}

impl Finished {
    pub fn exit_code(&self) -> Option<i32> {
        match self.end {
            End::As(reason) => reason.exit_code(),
            End::Stopped => None,
        }
    }
}

/// Bounds of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunBounds {
    pub timeout: Duration,
    /// Total bytes of stdout and stderr allowed; more ends the run.
    pub output_cap: u64,
}

/// Runs a sandbox to its end and removes it, whether it succeeded or not. `stop`
/// ends it early (SIGKILL, like a timeout). With a `spool`, `/work/out` is copied
/// there once the script ended by itself. Nothing of the script runs any more when this
/// returns; the container's removal is then under way, so the caller can store the end
/// meanwhile and wait for [`Removal::done`] after.
#[tracing::instrument(skip_all, fields(name = %name))]
pub async fn run_to_end(
    docker: &Docker,
    name: &str,
    spec: &SandboxSpec,
    bounds: RunBounds,
    stop: &CancellationToken,
    sink: &mut impl OutputSink,
    spool: Option<Spool<'_>>,
) -> (Result<Finished, SandboxError>, Removal) {
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let created = match docker
        .create_container(Some(options), spec.container_body())
        .instrument(tracing::info_span!("sandbox_create"))
        .await
    {
        Ok(created) => created,
        Err(error) => return (Err(error.into()), Removal(None)),
    };
    let outcome = start_and_wait(docker, &created.id, spec, bounds, stop, sink, spool).await;
    (outcome, Removal::start(docker, created.id))
}

/// A sandbox container's removal, under way in the background.
#[must_use = "a removal is waited for once the run's end is stored"]
pub struct Removal(Option<tokio::task::JoinHandle<()>>);

impl Removal {
    fn start(docker: &Docker, id: String) -> Self {
        let docker = docker.clone();
        let removing = async move { remove(&docker, &id).await };
        Self(Some(tokio::spawn(
            removing.instrument(tracing::info_span!("sandbox_remove")),
        )))
    }

    /// Returns once the container is gone (or its removal failed, which is logged; the
    /// sweep finds it by label).
    pub async fn done(self) {
        if let Some(removing) = self.0
            && let Err(error) = removing.await
        {
            tracing::warn!(%error, "a sandbox removal did not finish");
        }
    }
}

async fn start_and_wait(
    docker: &Docker,
    id: &str,
    spec: &SandboxSpec,
    bounds: RunBounds,
    stop: &CancellationToken,
    sink: &mut impl OutputSink,
    spool: Option<Spool<'_>>,
) -> Result<Finished, SandboxError> {
    if stop.is_cancelled() {
        return Ok(Finished {
            end: End::Stopped,
            output_bytes: 0,
            outputs: Outputs::NotCollected,
        });
    }
    docker
        .start_container(id, None)
        .instrument(tracing::info_span!("sandbox_start"))
        .await?;
    let started = SystemTime::now();
    let (script, output) = async {
        let script = docker.create_exec(id, spec.script()).await?.id;
        let output = attach(docker, &script).await?;
        Ok::<_, SandboxError>((script, output))
    }
    .instrument(tracing::info_span!("sandbox_exec"))
    .await?;
    let mut total = 0;
    // The container stops only when something ended it whole: under runc nothing but
    // the worker does, under gVisor a memory limit does (the cgroup's OOM killer takes
    // the sandbox's kernel with it), and then the script's output may never close.
    let container_stopped = async {
        let mut waits = docker.wait_container(id, None);
        let _ = waits.next().await;
    };
    let stopped_by_us = tokio::select! {
        collected = tokio::time::timeout(
            bounds.timeout,
            collect(output, bounds.output_cap, sink, &mut total),
        ).instrument(tracing::info_span!("sandbox_script")) => match collected {
            Err(_) => Some(End::As(EndReason::Timeout)),
            Ok(Ok(true)) => Some(End::As(EndReason::OutputLimit)),
            Ok(Ok(false)) => None,
            Ok(Err(error)) => return Err(error),
        },
        () = stop.cancelled() => Some(End::Stopped),
        () = container_stopped => {
            if stopped_by_oom(docker, id, started).await? {
                Some(End::As(EndReason::Oom))
            } else {
                return Err(SandboxError::ContainerStopped);
            }
        }
    };
    let end = match stopped_by_us {
        Some(end) => {
            // SIGKILL to the whole container: a script that ignores SIGTERM or left
            // children behind still ends now.
            let kill = KillContainerOptionsBuilder::default()
                .signal("SIGKILL")
                .build();
            if let Err(error) = docker.kill_container(id, Some(kill)).await {
                tracing::debug!(%error, "kill after the end of a run");
            }
            end
        }
        None => match exec_exit_code(docker, &script)
            .instrument(tracing::info_span!("sandbox_exit_code"))
            .await?
        {
            code if code != 0 && oom_killed_since(docker, id, started).await? => {
                End::As(EndReason::Oom)
            }
            // Exit codes are 0 to 255; anything else is the engine not knowing it.
            code => End::As(EndReason::exited(i32::try_from(code).unwrap_or(-1))),
        },
    };
    let outputs = match (end, spool) {
        (End::As(EndReason::Succeeded | EndReason::ExitCode(_) | EndReason::Oom), Some(spool)) => {
            copy_out(docker, id, spec, spool)
                .instrument(tracing::info_span!("sandbox_copy_out"))
                .await
                .unwrap_or_else(|error| Outputs::Failed(sage_infra::error_text(&error)))
        }
        _ => Outputs::NotCollected,
    };
    Ok(Finished {
        end,
        output_bytes: total,
        outputs,
    })
}

type ExecOutput =
    Pin<Box<dyn FuturesStream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// Starts a created exec with its output attached.
async fn attach(docker: &Docker, exec: &str) -> Result<ExecOutput, SandboxError> {
    let options = StartExecOptions {
        detach: false,
        tty: false,
        output_capacity: None,
    };
    match docker.start_exec(exec, Some(options)).await? {
        StartExecResults::Attached { output, .. } => Ok(output),
        StartExecResults::Detached => Err(SandboxError::Detached),
    }
}

/// Passes the script's output on as it comes, until it closes; true when it went past
/// the cap (what is past the cap is not passed on).
async fn collect(
    mut output: ExecOutput,
    cap: u64,
    sink: &mut impl OutputSink,
    total: &mut u64,
) -> Result<bool, SandboxError> {
    while let Some(chunk) = output.next().await {
        let (stream, message) = match chunk? {
            LogOutput::StdOut { message } => (Stream::Stdout, message),
            LogOutput::StdErr { message } => (Stream::Stderr, message),
            LogOutput::StdIn { .. } | LogOutput::Console { .. } => continue,
        };
        let room = usize::try_from(cap.saturating_sub(*total)).unwrap_or(usize::MAX);
        let kept = &message[..message.len().min(room)];
        if !kept.is_empty() {
            sink.write(stream, kept).await;
        }
        *total += message.len() as u64;
        if *total > cap {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The exit code of an exec whose output closed. The engine stores it before it
/// closes the output, so the first answer is nearly always final.
async fn exec_exit_code(docker: &Docker, exec: &str) -> Result<i64, SandboxError> {
    for _ in 0..100 {
        let inspected = docker.inspect_exec(exec).await?;
        if inspected.running != Some(true) {
            return Ok(inspected.exit_code.unwrap_or(-1));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::warn!(exec, "the exec still runs after its output closed");
    Ok(-1)
}

/// Whether a container that stopped by itself was stopped by the OOM killer: the engine
/// marks it so when the process it holds died of it (all of gVisor's sandbox does), and
/// its `oom` event may be recorded a moment after the stop, so it is looked for again.
async fn stopped_by_oom(
    docker: &Docker,
    id: &str,
    since: SystemTime,
) -> Result<bool, SandboxError> {
    for _ in 0..10 {
        let marked = docker
            .inspect_container(id, None)
            .await?
            .state
            .and_then(|state| state.oom_killed)
            == Some(true);
        if marked || oom_killed_since(docker, id, since).await? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(false)
}

/// Whether the kernel's OOM killer struck in the container since `since`. The engine
/// marks a container OOM-killed only when its own process dies, which the holding
/// process does not; its `oom` event is recorded either way, before the exec's exit.
async fn oom_killed_since(
    docker: &Docker,
    id: &str,
    since: SystemTime,
) -> Result<bool, SandboxError> {
    let timestamp = |at: SystemTime| {
        let at = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        format!("{}.{:09}", at.as_secs(), at.subsec_nanos())
    };
    let options = EventsOptions {
        since: Some(timestamp(since - Duration::from_secs(1))),
        // A bound in the past ends the stream once the recorded events are read.
        until: Some(timestamp(SystemTime::now())),
        filters: Some(
            [
                ("type".to_owned(), vec!["container".to_owned()]),
                ("container".to_owned(), vec![id.to_owned()]),
                ("event".to_owned(), vec!["oom".to_owned()]),
            ]
            .into_iter()
            .collect(),
        ),
    };
    let mut events = docker.events(Some(options));
    match events.next().await {
        Some(event) => Ok(event.is_ok()),
        None => Ok(false),
    }
}

/// Ends what the script left running, then copies `/work/out` into the spool as a tar
/// archive (empty when there is none), up to the spool's cap.
async fn copy_out(
    docker: &Docker,
    id: &str,
    spec: &SandboxSpec,
    spool: Spool<'_>,
) -> Result<Outputs, SandboxError> {
    let exec = docker.create_exec(id, spec.copy_outputs()).await?.id;
    let mut output = attach(docker, &exec).await?;
    let mut file = tokio::fs::File::create(spool.path).await?;
    let (mut bytes, mut cut) = (0u64, false);
    let copying = async {
        while let Some(chunk) = output.next().await {
            match chunk? {
                LogOutput::StdOut { message } => {
                    let room = usize::try_from(spool.cap - bytes).unwrap_or(usize::MAX);
                    let kept = &message[..message.len().min(room)];
                    file.write_all(kept).await?;
                    bytes += kept.len() as u64;
                    if kept.len() < message.len() {
                        cut = true;
                        break;
                    }
                }
                LogOutput::StdErr { message } => {
                    tracing::debug!(tar = %String::from_utf8_lossy(&message), "copying the outputs");
                }
                LogOutput::StdIn { .. } | LogOutput::Console { .. } => {}
            }
        }
        file.flush().await?;
        Ok::<_, SandboxError>(())
    };
    match tokio::time::timeout(COPY_OUT_TIMEOUT, copying).await {
        Ok(copied) => copied?,
        Err(_) => return Ok(Outputs::Failed("copying /work/out timed out".to_owned())),
    }
    Ok(Outputs::Spooled { bytes, cut })
}

/// Removes a container and its anonymous volumes; one already gone is fine. Other
/// failures are logged: the sweep finds what is left by label.
pub async fn remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(error) => {
            tracing::warn!(%error, container = id, "could not remove a sandbox container");
        }
    }
}
