//! Submission to terminal state of a trivial module, one at a time (latency) and in
//! bulk at worker concurrency 1 and 4 (throughput), beside `docker run` of the same
//! command.

use std::time::{Duration, Instant};

use sage_testkit::{ANALYST, ScriptModule, TestApp, spawn_app};
use serde_json::json;

use crate::baseline::{docker_run, docker_run_under};
use crate::cpu;
use crate::processes;
use crate::stats::{Samples, header, row, seconds};

const SCRIPT: &str = "print('hello')\n";
const COMMAND: &[&str] = &["python3", "-c", "print('hello')"];
const LATENCY_RUNS: usize = 20;
const THROUGHPUT_RUNS: usize = 24;
/// More at concurrency 4, where a run takes a quarter of the time, for a steadier rate.
const THROUGHPUT_RUNS_FOUR: usize = 48;

pub async fn run() -> anyhow::Result<()> {
    let app = spawn_app().await;
    let image = app.env.raw("RUNNER_IMAGE").unwrap().to_owned();
    let module = app
        .module_with(ScriptModule {
            code: SCRIPT,
            ..Default::default()
        })
        .await;

    let (app, api) = processes::api(&app).await;
    let worker = processes::worker(&app, 1);
    // One of each first, so neither side pays for a cold cache in the figures (and the
    // worker is ready once its first run ends).
    run_one(&app, &module).await;
    docker_run(&image, COMMAND).await;

    // Interleaved, so a slow moment of the machine hits both sides alike.
    let (mut sage, mut docker) = (Samples::default(), Samples::default());
    for _ in 0..LATENCY_RUNS {
        sage.push(run_one(&app, &module).await);
        docker.push(docker_run(&image, COMMAND).await);
    }
    let steps = step_times(&processes::log_file("sage-worker"));
    let single = (
        throughput(&app, &module, THROUGHPUT_RUNS).await,
        docker_throughput(&image, THROUGHPUT_RUNS, 1).await,
    );
    worker.stop().await;

    let worker = processes::worker(&app, 4);
    run_one(&app, &module).await;
    let before = cpu::Snapshot::take();
    let ours = throughput(&app, &module, THROUGHPUT_RUNS_FOUR).await;
    let between = cpu::Snapshot::take();
    let theirs = docker_throughput(&image, THROUGHPUT_RUNS_FOUR, 4).await;
    let after = cpu::Snapshot::take();
    let four = (ours, theirs);
    let cpu = (
        between.per_unit_since(&before, THROUGHPUT_RUNS_FOUR),
        after.per_unit_since(&between, THROUGHPUT_RUNS_FOUR),
    );

    header(&format!(
        "pipeline: a trivial python3 module, submission to terminal status, beside \
         `docker run --rm --network none {image} python3 -c ...` \
         ({LATENCY_RUNS} runs each for latency, {THROUGHPUT_RUNS} and \
         {THROUGHPUT_RUNS_FOUR} for throughput)"
    ));
    latency_rows(&sage, &docker);
    row("throughput, concurrency 1", single.0, single.1, "runs/s");
    row("throughput, concurrency 4", four.0, four.1, "runs/s");
    println!("  where a run's time goes in the worker (p50 of the latency runs' steps):");
    for (step, samples) in &steps {
        println!(
            "    {step:<30} {:>8.1} ms",
            seconds(samples.percentile(50)) * 1000.0
        );
    }
    report_cpu(&cpu.0, &cpu.1);
    processes::report_memory(&[&api, &worker]);
    worker.stop().await;
    gvisor(&app, &module, &image, &sage).await;
    api.stop().await;
    Ok(())
}

/// The same latency runs under gVisor (`SANDBOX_RUNTIME_RUNNER=runsc`), beside `docker
/// run --runtime runsc`, and against the runs under runc measured above (`runc`).
async fn gvisor(app: &TestApp, module: &str, image: &str, runc: &Samples) {
    let worker = processes::worker_with(app, 1, &[("SANDBOX_RUNTIME_RUNNER", "runsc".to_owned())]);
    run_one(app, module).await;
    docker_run_under("runsc", image, COMMAND).await;
    let (mut sage, mut docker) = (Samples::default(), Samples::default());
    for _ in 0..LATENCY_RUNS {
        sage.push(run_one(app, module).await);
        docker.push(docker_run_under("runsc", image, COMMAND).await);
    }
    worker.stop().await;
    header(&format!(
        "pipeline under gVisor: the same module with SANDBOX_RUNTIME_RUNNER=runsc, beside \
         `docker run --rm --runtime runsc --network none {image} python3 -c ...` \
         ({LATENCY_RUNS} runs each)"
    ));
    latency_rows(&sage, &docker);
    println!(
        "  a run under runsc against one under runc (p50): {:.3} s against {:.3} s, {:.2}x",
        seconds(sage.percentile(50)),
        seconds(runc.percentile(50)),
        seconds(sage.percentile(50)) / seconds(runc.percentile(50))
    );
}

/// The p50 and p95 latency rows of Sage Runner's runs beside the baseline's.
fn latency_rows(sage: &Samples, docker: &Samples) {
    for p in [50, 95] {
        let (ours, theirs) = (sage.percentile(p), docker.percentile(p));
        row(
            &format!("latency p{p}"),
            seconds(ours),
            seconds(theirs),
            "s",
        );
    }
}

/// CPU milliseconds per run at concurrency 4, side by side, by who spent them.
fn report_cpu(ours: &[(&'static str, f64)], theirs: &[(&'static str, f64)]) {
    println!("  CPU time per run at concurrency 4 (ms of one core):");
    let last = ["other", "total"];
    let mut names: Vec<&str> = ours
        .iter()
        .chain(theirs)
        .map(|(name, _)| *name)
        .filter(|name| !last.contains(name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names.extend(last);
    for name in names {
        let of = |side: &[(&str, f64)]| {
            side.iter()
                .find(|(n, _)| *n == name)
                .map_or(0.0, |(_, ms)| *ms)
        };
        println!(
            "    {name:<26} {:>10.1} ms {:>14.1} ms",
            of(ours),
            of(theirs)
        );
    }
}

/// Submits one run and follows it until the api reports its end, as a client would.
async fn run_one(app: &TestApp, module: &str) -> Duration {
    let started = Instant::now();
    let id = app.submit(module, json!({})).await;
    let mut stream = app.follow_logs(&id, ANALYST, None).await;
    let events = stream.until_end(Duration::from_secs(60)).await;
    let end = &events[events.len() - 1].data;
    assert_eq!(end["status"], "succeeded", "{end}");
    started.elapsed()
}

/// Runs per second for `runs` submitted at once, until the last one has ended.
async fn throughput(app: &TestApp, module: &str, runs: usize) -> f64 {
    let started = Instant::now();
    let mut ids = Vec::with_capacity(runs);
    for _ in 0..runs {
        ids.push(app.submit(module, json!({})).await.parse().unwrap());
    }
    loop {
        let statuses = app.db().statuses(&ids).await.unwrap();
        if statuses.values().all(|status| status.is_terminal()) {
            assert!(
                statuses
                    .values()
                    .all(|status| status.as_str() == "succeeded"),
                "{statuses:?}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runs as f64 / started.elapsed().as_secs_f64()
}

/// Runs per second of `runs` plain `docker run`s, `parallel` at a time.
async fn docker_throughput(image: &str, runs: usize, parallel: usize) -> f64 {
    let started = Instant::now();
    let lanes: Vec<_> = (0..parallel)
        .map(|lane| {
            let image = image.to_owned();
            let share = runs / parallel + usize::from(lane < runs % parallel);
            tokio::spawn(async move {
                for _ in 0..share {
                    docker_run(&image, COMMAND).await;
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.await.unwrap();
    }
    runs as f64 / started.elapsed().as_secs_f64()
}

/// The time of each step the worker logged the end of (`LOG_SPANS=close`), by step, in
/// the order the steps first ended.
fn step_times(log: &std::path::Path) -> Vec<(String, Samples)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut steps: Vec<(String, Samples)> = Vec::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if event["message"] != "close" {
            continue;
        }
        let Some(name) = event["span"]["name"].as_str() else {
            continue;
        };
        let took = ["time.busy", "time.idle"]
            .iter()
            .filter_map(|field| event[field].as_str().and_then(duration))
            .sum();
        match steps.iter_mut().find(|(step, _)| step == name) {
            Some((_, samples)) => samples.push(took),
            None => {
                let mut samples = Samples::default();
                samples.push(took);
                steps.push((name.to_owned(), samples));
            }
        }
    }
    steps
}

/// A span time as tracing prints it: `812ns`, `3.2µs`, `1.05ms`, `2.1s`.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "µs" | "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}
