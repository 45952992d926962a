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

pub use sage_model::logs::Stream;
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

/// How the run ended, and how much it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub end: End,
    /// Bytes printed in all, including what went past the cap and was not passed on.
    pub output_bytes: u64,
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
            Stream::Stderr => self.stderr.extend_from_slice(bytes),
        }
    }
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
    sink: &mut impl OutputSink,
) -> Result<Finished, SandboxError> {
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let created = docker
        .create_container(Some(options), spec.container_body())
        .await?;
    let outcome = start_and_wait(docker, &created.id, bounds, stop, sink).await;
    remove(docker, &created.id).await;
    outcome
}

async fn start_and_wait(
    docker: &Docker,
    id: &str,
    bounds: RunBounds,
    stop: &CancellationToken,
    sink: &mut impl OutputSink,
) -> Result<Finished, SandboxError> {
    if stop.is_cancelled() {
        return Ok(Finished {
            end: End::Stopped,
            output_bytes: 0,
        });
    }
    docker.start_container(id, None).await?;
    let mut total = 0;
    let stopped_by_us = tokio::select! {
        collected = tokio::time::timeout(
            bounds.timeout,
            collect(docker, id, bounds.output_cap, sink, &mut total),
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
        output_bytes: total,
    })
}

/// Passes the container's output on as it comes, until it closes; true when it went
/// past the cap (what is past the cap is not passed on).
async fn collect(
    docker: &Docker,
    id: &str,
    cap: u64,
    sink: &mut impl OutputSink,
    total: &mut u64,
) -> Result<bool, SandboxError> {
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = docker.logs(id, Some(options));
    while let Some(chunk) = logs.next().await {
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
