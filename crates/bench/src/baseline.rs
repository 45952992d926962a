//! The baseline: the same work under plain `docker run --rm --network none` of the same
//! image, through the Docker CLI as a user would type it.

use std::process::Stdio;
use std::time::{Duration, Instant};

/// `docker run --rm --network none <image> <command…>` with its output discarded;
/// returns how long it took.
pub async fn docker_run(image: &str, command: &[&str]) -> Duration {
    docker_run_under("runc", image, command).await
}

/// [`docker_run`] under the engine runtime `runtime` (`runsc` for gVisor).
pub async fn docker_run_under(runtime: &str, image: &str, command: &[&str]) -> Duration {
    let started = Instant::now();
    // The baseline is the Docker CLI itself; Sage Runner's own code never shells out.
    #[allow(clippy::disallowed_methods)]
    let status = tokio::process::Command::new("docker")
        .args([
            "run",
            "--rm",
            "--runtime",
            runtime,
            "--network",
            "none",
            image,
        ])
        .args(command)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .await
        .expect("the docker CLI runs");
    assert!(status.success(), "docker run failed: {status}");
    started.elapsed()
}

/// `docker run --rm --network none <image> <command…>` with its output read line by
/// line as it comes: the delay of each line written with its wall-clock time, through
/// the engine's own output stream and nothing of Sage Runner's.
pub async fn docker_run_delays(image: &str, command: &[&str]) -> crate::stats::Samples {
    use tokio::io::AsyncBufReadExt;
    // The baseline is the Docker CLI itself; Sage Runner's own code never shells out.
    #[allow(clippy::disallowed_methods)]
    let mut child = tokio::process::Command::new("docker")
        .args(["run", "--rm", "--network", "none", image])
        .args(command)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the docker CLI runs");
    let stdout = child.stdout.take().expect("a piped stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut samples = crate::stats::Samples::default();
    while let Some(line) = lines.next_line().await.expect("docker's output reads") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970");
        let (_, written) = line.split_once(' ').expect("'<n> <time>' lines");
        let written = Duration::from_nanos(written.parse().expect("a time in ns"));
        samples.push(now.saturating_sub(written));
    }
    let status = child.wait().await.expect("docker run ends");
    assert!(status.success(), "docker run failed: {status}");
    samples
}
