//! The sandbox: one container per execution, through the one shared bollard client.
//! One lifecycle: create with labels, start, collect output, wait, always remove.

pub mod spec;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

pub use spec::{Limits, Network, ReadOnlyFile, SandboxSpec};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the Docker engine refused the container")]
    Docker(#[from] bollard::errors::Error),
}

/// How a container ended and what it printed, each stream cut at `output_cap` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs a sandbox to its end and removes it, whether it succeeded or not.
#[tracing::instrument(skip_all, fields(name = %name))]
pub async fn run_to_end(
    docker: &Docker,
    name: &str,
    spec: &SandboxSpec,
    output_cap: usize,
) -> Result<Finished, SandboxError> {
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let created = docker
        .create_container(Some(options), spec.container_body())
        .await?;
    let outcome = start_and_wait(docker, &created.id, output_cap).await;
    remove(docker, &created.id).await;
    outcome
}

async fn start_and_wait(
    docker: &Docker,
    id: &str,
    output_cap: usize,
) -> Result<Finished, SandboxError> {
    docker.start_container(id, None).await?;
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = docker.logs(id, Some(options));
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(chunk) = logs.next().await {
        let (buffer, message) = match chunk? {
            LogOutput::StdOut { message } => (&mut stdout, message),
            LogOutput::StdErr { message } => (&mut stderr, message),
            LogOutput::StdIn { .. } | LogOutput::Console { .. } => continue,
        };
        let room = output_cap.saturating_sub(buffer.len());
        buffer.extend_from_slice(&message[..message.len().min(room)]);
    }
    let exit_code = exit_code(docker, id).await?;
    Ok(Finished {
        exit_code,
        stdout,
        stderr,
    })
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

/// Removes a container and its anonymous volumes. Failures are logged: the reaper
/// finds what is left by label.
pub async fn remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    if let Err(error) = docker.remove_container(id, Some(options)).await {
        tracing::warn!(%error, container = id, "could not remove a sandbox container");
    }
}
