//! Benchmarks of the whole system against the real local stack: the api and a worker
//! started as processes (the optimised binaries) on a fresh database, each figure beside
//! the same work done by plain `docker run` on the same engine, in the same run, as a
//! ratio. Absolute times depend on the machine; the ratios are what to compare.

// A benchmark reports on standard output; its set-up panics like a test's would.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod baseline;
mod cpu;
mod fanout;
mod findings;
mod history;
mod logs;
mod pipeline;
mod processes;
mod reads;
mod scans;
mod stats;
pub mod stored;

const SUITES: [&str; 5] = ["pipeline", "logs", "reads", "findings", "history"];
/// Suites `all` leaves out: a scan of hundreds of scanner runs takes the better part of
/// an hour on two cores.
const ON_REQUEST: [&str; 2] = ["scan", "fanout"];

/// Runs one suite, or all of them with `all`.
pub async fn run(suite: &str) -> anyhow::Result<()> {
    let chosen: Vec<&str> = match suite {
        "all" => SUITES.to_vec(),
        one if SUITES.contains(&one) || ON_REQUEST.contains(&one) => vec![one],
        other => {
            anyhow::bail!("unknown suite {other:?}: one of {SUITES:?}, {ON_REQUEST:?} or all")
        }
    };
    for suite in chosen {
        // Boxed: each suite starts a whole api and worker, a large future.
        match suite {
            "pipeline" => Box::pin(pipeline::run()).await?,
            "logs" => Box::pin(logs::run()).await?,
            "reads" => Box::pin(reads::run()).await?,
            // CPU-bound: off the runtime's threads.
            "findings" => {
                tokio::task::spawn_blocking(findings::run).await??;
                Box::pin(stored::run()).await?;
            }
            // Findings at scale: long (a history of ten million rows), so a suite of its own.
            "history" => Box::pin(history::run()).await?,
            "scan" => Box::pin(scans::run()).await?,
            "fanout" => Box::pin(fanout::run()).await?,
            _ => unreachable!("SUITES lists every suite"),
        }
    }
    Ok(())
}
