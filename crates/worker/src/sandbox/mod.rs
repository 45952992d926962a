//! The sandbox: one container per execution, through the one shared bollard client.
//! One lifecycle: create with labels, start, collect output, end it one way (exit,
//! timeout, output limit), wait, always remove. How it ended is chosen in one place.

pub mod spec;

use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

pub use spec::{Limits, Network, ReadOnlyFile, SandboxSpec};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the Docker engine refused the container")]
    Docker(#[from] bollard::errors::Error),
}

/// How a container's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Exited(i64),
    OomKilled,
    TimedOut,
    OutputLimit,
    /// Stopped on request (cancelled, or no longer ours to run).
    Stopped,
}

/// The end and what the container printed, each stream kept up to the output cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub end: End,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes printed in all, including what was not kept.
    pub output_bytes: u64,
}

impl Finished {
    pub fn exit_code(&self) -> Option<i64> {
        match self.end {
            End::Exited(code) => Some(code),
            _ => None,
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
/// ends it early (SIGKILL, like a timeout).
#[tracing::instrument(skip_all, fields(name = %name))]
pub async fn run_to_end(
    docker: &Docker,
    name: &str,
    spec: &SandboxSpec,
    bounds: RunBounds,
    stop: &CancellationToken,
) -> Result<Finished, SandboxError> {
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let created = docker
        .create_container(Some(options), spec.container_body())
        .await?;
    let outcome = start_and_wait(docker, &created.id, bounds, stop).await;
    remove(docker, &created.id).await;
    outcome
}

#[derive(Default)]
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    total: u64,
}

async fn start_and_wait(
    docker: &Docker,
    id: &str,
    bounds: RunBounds,
    stop: &CancellationToken,
) -> Result<Finished, SandboxError> {
    if stop.is_cancelled() {
        return Ok(Finished {
            end: End::Stopped,
            stdout: Vec::new(),
            stderr: Vec::new(),
            output_bytes: 0,
        });
    }
    docker.start_container(id, None).await?;
    let mut output = Output::default();
    let stopped_by_us = tokio::select! {
        collected = tokio::time::timeout(
            bounds.timeout,
            collect(docker, id, bounds.output_cap, &mut output),
        ) => match collected {
            Err(_) => Some(End::TimedOut),
            Ok(Ok(true)) => Some(End::OutputLimit),
            Ok(Ok(false)) => None,
            Ok(Err(error)) => return Err(error),
        },
        () = stop.cancelled() => Some(End::Stopped),
    };
    if stopped_by_us.is_some() {
        // SIGKILL: a script that ignores SIGTERM or left children behind still ends now.
        let kill = KillContainerOptionsBuilder::default()
            .signal("SIGKILL")
            .build();
        if let Err(error) = docker.kill_container(id, Some(kill)).await {
            tracing::debug!(%error, "kill after the end of a run");
        }
    }
    let code = exit_code(docker, id).await?;
    let oom = docker
        .inspect_container(id, None)
        .await?
        .state
        .and_then(|state| state.oom_killed)
        .unwrap_or(false);
    let end = match stopped_by_us {
        Some(end) => end,
        None if oom => End::OomKilled,
        None => End::Exited(code),
    };
    Ok(Finished {
        end,
        stdout: output.stdout,
        stderr: output.stderr,
        output_bytes: output.total,
    })
}

/// Reads the container's output until it closes; true when it went past the cap.
async fn collect(
    docker: &Docker,
    id: &str,
    cap: u64,
    output: &mut Output,
) -> Result<bool, SandboxError> {
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = docker.logs(id, Some(options));
    while let Some(chunk) = logs.next().await {
        let (buffer, message) = match chunk? {
            LogOutput::StdOut { message } => (&mut output.stdout, message),
            LogOutput::StdErr { message } => (&mut output.stderr, message),
            LogOutput::StdIn { .. } | LogOutput::Console { .. } => continue,
        };
        let room = cap.saturating_sub(output.total) as usize;
        buffer.extend_from_slice(&message[..message.len().min(room)]);
        output.total += message.len() as u64;
        if output.total > cap {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The exit code once the container stopped. bollard reports a non-zero exit as an
/// error carrying the code; that is an ordinary end here.
async fn exit_code(docker: &Docker, id: &str) -> Result<i64, SandboxError> {
    let mut wait = docker.wait_container(id, None);
    match wait.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(error)) => Err(error.into()),
        None => Ok(docker
            .inspect_container(id, None)
            .await?
            .state
            .and_then(|state| state.exit_code)
            .unwrap_or(-1)),
    }
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
