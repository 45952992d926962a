//! The read API under load: `wrk` with 16 connections against one execution and a page
//! of 50, each beside `GET /health` of the same api process (the same server answering
//! without a caller or the database).

use std::time::Duration;

use sage_testkit::{ANALYST, ScriptModule, TestApp, spawn_app};
use serde_json::json;

use crate::processes;

pub const CONNECTIONS: u32 = 16;
pub const SECONDS: u32 = 10;
/// A first load of each path, not counted: the api's and PostgreSQL's caches and plans
/// are warm when the measured one starts, as on a server that has been up a while.
pub const WARM_UP_SECONDS: u32 = 3;
/// Runs stored before the load starts: more than a page.
const RUNS: usize = 60;

pub async fn run() -> anyhow::Result<()> {
    let app = spawn_app().await;
    let (api, api_process) = processes::api(&app).await;
    let worker = processes::worker(&app, 4);
    let module = app
        .module_with(ScriptModule {
            code: "print('hello')\n",
            ..Default::default()
        })
        .await;
    let mut ids = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        ids.push(api.submit(&module, json!({})).await);
    }
    for id in &ids {
        api.wait_for(id, Some("succeeded"), Duration::from_secs(120))
            .await;
    }
    worker.stop().await;

    let one_path = format!("/api/v1/executions/{}", ids[0]);
    let page_path = "/api/v1/executions?limit=50";
    for path in ["/health", &one_path, page_path] {
        wrk(&api, path, WARM_UP_SECONDS).await;
    }
    let health = wrk(&api, "/health", SECONDS).await;
    let one = wrk(&api, &one_path, SECONDS).await;
    let page = wrk(&api, page_path, SECONDS).await;
    println!(
        "\nreads: wrk, {CONNECTIONS} connections for {SECONDS} s each after {WARM_UP_SECONDS} s \
         not counted, as {ANALYST}, beside GET /health of the same api process"
    );
    println!(
        "  {:<34} {:>12} {:>10} {:>14} {:>8}",
        "", "requests/s", "p99 ms", "/health req/s", "ratio"
    );
    for (what, figures) in [
        ("GET /api/v1/executions/{id}", &one),
        ("GET /api/v1/executions?limit=50", &page),
    ] {
        println!(
            "  {what:<34} {:>12.0} {:>10.2} {:>14.0} {:>7.3}x",
            figures.rate,
            figures.p99_ms,
            health.rate,
            figures.rate / health.rate
        );
    }
    println!(
        "  {:<34} {:>12.0} {:>10.2}",
        "GET /health", health.rate, health.p99_ms
    );
    processes::report_memory(&[&api_process]);
    api_process.stop().await;
    Ok(())
}

pub struct Figures {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// `wrk` against `path` as the analyst for `seconds`; every answer must be a 200.
pub async fn wrk(app: &TestApp, path: &str, seconds: u32) -> Figures {
    #[allow(clippy::disallowed_methods, reason = "wrk is the load generator")]
    let output = tokio::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{seconds}s"),
            "--latency",
            // A slow answer is measured, not dropped after wrk's default 2 s.
            "--timeout",
            "30s",
            "-H",
            &format!("X-Demo-User: {ANALYST}"),
            &format!("{}{path}", app.address),
        ])
        .output()
        .await
        .expect("wrk runs (`just bench` installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "{path} answered something else than 200:\n{text}"
    );
    let rate = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|rate| rate.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rate in wrk's output:\n{text}"));
    let percentile = |name: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .and_then(|latency| milliseconds(latency.trim()))
            .unwrap_or_else(|| panic!("no {name} in wrk's output:\n{text}"))
    };
    Figures {
        rate,
        p50_ms: percentile("50%"),
        p99_ms: percentile("99%"),
    }
}

/// wrk's `812.00us`, `2.31ms` or `1.02s` in milliseconds.
fn milliseconds(latency: &str) -> Option<f64> {
    let split = latency.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = latency.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        "m" => Some(number * 60_000.0),
        _ => None,
    }
}
