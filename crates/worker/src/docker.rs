//! The one Docker client of a worker process.

use bollard::{API_DEFAULT_VERSION, Docker};

/// Seconds a single Docker API call may take before it is abandoned.
const DOCKER_TIMEOUT_SECS: u64 = 120;

/// Connects to `unix://…` or `tcp://…`/`http://…` and settles on the API version the
/// engine speaks (Debian's docker.io 20.10 speaks 1.41), so any Docker-compatible
/// engine works.
pub async fn connect(host: &str) -> Result<Docker, bollard::errors::Error> {
    let docker = if host.starts_with("unix://") {
        Docker::connect_with_unix(host, DOCKER_TIMEOUT_SECS, API_DEFAULT_VERSION)?
    } else {
        Docker::connect_with_http(host, DOCKER_TIMEOUT_SECS, API_DEFAULT_VERSION)?
    };
    let docker = docker.negotiate_version().await?;
    docker.ping().await?;
    Ok(docker)
}
