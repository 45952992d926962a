//! The baseline: the same work under plain `docker run --rm --network none` of the same
//! image, through the Docker CLI as a user would type it.

use std::process::Stdio;
use std::time::{Duration, Instant};

/// `docker run --rm --network none <image> <command…>` with its output discarded;
/// returns how long it took.
pub async fn docker_run(image: &str, command: &[&str]) -> Duration {
    let started = Instant::now();
    // The baseline is the Docker CLI itself; Sage Runner's own code never shells out.
    #[allow(clippy::disallowed_methods)]
    let status = tokio::process::Command::new("docker")
        .args(["run", "--rm", "--network", "none", image])
        .args(command)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .await
        .expect("the docker CLI runs");
    assert!(status.success(), "docker run failed: {status}");
    started.elapsed()
}
