//! A scan of many accounts, each in two regions, with Cloud Custodian against the local
//! emulator: runs per second, and the wait of one analyst's run submitted halfway
//! through, beside the same runs submitted one by one (the baseline: what a script
//! looping over accounts would do). `SCAN_BENCH_ACCOUNTS` (default 200) accounts.

use std::time::{Duration, Instant};

use sage_testkit::{ADMIN, ANALYST, ScriptModule, TestApp, emulator, spawn_app_with, tools_env};
use serde_json::{Value, json};

use crate::processes;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// The scan's own cap, and the worker's slots (two cores).
const SCAN_CAP: i32 = 8;
const WORKER_SLOTS: u32 = 4;
const POLICY: &str = "policies:\n  - name: bench-buckets\n    resource: aws.s3\n";

/// One way of running the same runs: how long they took, and how long the single
/// run submitted halfway waited to start.
struct Outcome {
    runs: usize,
    elapsed: Duration,
    single_wait: Duration,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.runs as f64 / self.elapsed.as_secs_f64()
    }
}

pub async fn run() -> anyhow::Result<()> {
    #[allow(
        clippy::disallowed_methods,
        reason = "the bench's own knob, not a setting of the system measured"
    )]
    let accounts: usize = std::env::var("SCAN_BENCH_ACCOUNTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let mut env = tools_env();
    emulator::use_it(&mut env);
    // The baseline is runs submitted one by one as they went before the queue served
    // users in turn: all of them in the broker at once, and no limit in flight.
    env.set("QUEUE_AHEAD", "100000");
    env.set("RUNS_IN_FLIGHT_PER_USER", "100000");
    env.set("RUNS_IN_FLIGHT_PER_MODULE", "100000");
    let app = spawn_app_with(env).await;
    app.report_scanner_image().await;
    let single = app.module_with(ScriptModule::default()).await;
    let ids: Vec<String> = (0..accounts).map(|_| emulator::fresh_account()).collect();
    for id in &ids {
        let (status, body) = app
            .post_as(
                "/api/v1/accounts",
                ADMIN,
                &json!({"id": id, "name": format!("bench {id}"), "role": "SageAudit",
                        "regions": REGIONS}),
            )
            .await;
        anyhow::ensure!(status == 201, "account {id}: {body}");
    }
    let (app, api) = processes::api(&app).await;
    let worker = processes::worker(&app, WORKER_SLOTS);
    // Warm: the worker is ready once a first run ended.
    wait_terminal(&app, &submit_single(&app, &single).await).await;

    println!(
        "\nscan: {accounts} accounts x {} regions with Cloud Custodian against the emulator \
         (scan cap {SCAN_CAP}, one worker of {WORKER_SLOTS} slots)",
        REGIONS.len()
    );
    let scan = scan(&app, &ids, &single).await?;
    let template = scan.1;
    let scan = scan.0;
    let one_by_one = one_by_one(&app, &ids, &single, &template).await?;
    println!(
        "  {:<44} {:>12} {:>12} {:>8}",
        "", "scan", "one by one", "ratio"
    );
    println!(
        "  {:<44} {:>12.2} {:>12.2} {:>7.2}x",
        "runs per second",
        scan.per_second(),
        one_by_one.per_second(),
        scan.per_second() / one_by_one.per_second()
    );
    println!(
        "  {:<44} {:>11.1}s {:>11.1}s {:>7.2}x",
        format!("all {} runs", scan.runs),
        scan.elapsed.as_secs_f64(),
        one_by_one.elapsed.as_secs_f64(),
        scan.elapsed.as_secs_f64() / one_by_one.elapsed.as_secs_f64()
    );
    println!(
        "  {:<44} {:>11.1}s {:>11.1}s {:>7.3}x",
        "wait of one run submitted halfway",
        scan.single_wait.as_secs_f64(),
        one_by_one.single_wait.as_secs_f64(),
        scan.single_wait.as_secs_f64() / one_by_one.single_wait.as_secs_f64()
    );
    processes::report_memory(&[&api, &worker]);
    worker.stop().await;
    api.stop().await;
    Ok(())
}

/// The scan, per account and region, followed to its end; returns one of its runs'
/// parameters, for the baseline to submit the same runs.
async fn scan(app: &TestApp, ids: &[String], single: &str) -> anyhow::Result<(Outcome, Value)> {
    let started = Instant::now();
    let (status, scan) = app
        .post_as(
            "/api/v1/scans",
            ADMIN,
            &json!({"tool": "custodian", "account_ids": ids, "per_region": true,
                    "params": {"policy": POLICY}, "max_concurrency": SCAN_CAP}),
        )
        .await;
    anyhow::ensure!(status == 201, "the scan: {scan}");
    let path = format!("/api/v1/scans/{}", scan["id"].as_str().unwrap_or_default());
    let total = scan["total"].as_i64().unwrap_or_default();
    let mut halfway = None;
    let done = loop {
        let (_, now) = app.get_as(&path, ADMIN).await;
        if halfway.is_none() && now["done"].as_i64().unwrap_or_default() * 2 >= total {
            halfway = Some(submit_single(app, single).await);
        }
        if now["status"] != "running" {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let elapsed = started.elapsed();
    anyhow::ensure!(done["status"] == "succeeded", "the scan ended {done}");
    let single_wait = waited(app, &halfway.unwrap_or_default()).await;
    let first = done["accounts"][0]["execution_id"]
        .as_str()
        .unwrap_or_default();
    let (_, run) = app
        .get_as(&format!("/api/v1/executions/{first}"), ADMIN)
        .await;
    let outcome = Outcome {
        runs: usize::try_from(total).unwrap_or_default(),
        elapsed,
        single_wait,
    };
    Ok((outcome, run))
}

/// The same runs submitted one after another, as a loop over accounts would.
async fn one_by_one(
    app: &TestApp,
    ids: &[String],
    single: &str,
    template: &Value,
) -> anyhow::Result<Outcome> {
    let module = template["module_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut params = template["params"].clone();
    let started = Instant::now();
    let mut runs = Vec::with_capacity(ids.len() * REGIONS.len());
    for id in ids {
        for region in REGIONS {
            params["iam_role_arn"] = json!(format!("arn:aws:iam::{id}:role/SageAudit"));
            params["region"] = json!(region);
            let (status, run) = app
                .post_as(
                    &format!("/api/v1/modules/{module}/executions"),
                    ADMIN,
                    &json!({"params": params}),
                )
                .await;
            anyhow::ensure!(status == 202, "a run: {run}");
            runs.push(run["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    let mut halfway = None;
    loop {
        let ended = ended_among(app, &runs).await;
        if halfway.is_none() && ended * 2 >= runs.len() {
            halfway = Some(submit_single(app, single).await);
        }
        if ended == runs.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed();
    let single_wait = waited(app, &halfway.unwrap_or_default()).await;
    Ok(Outcome {
        runs: runs.len(),
        elapsed,
        single_wait,
    })
}

async fn submit_single(app: &TestApp, module: &str) -> String {
    let (_, run) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            ANALYST,
            &json!({"params": {}}),
        )
        .await;
    run["id"].as_str().unwrap_or_default().to_owned()
}

async fn wait_terminal(app: &TestApp, id: &str) -> Value {
    app.wait_for(id, None, Duration::from_secs(600)).await
}

/// From its submission to its start.
async fn waited(app: &TestApp, id: &str) -> Duration {
    let run = wait_terminal(app, id).await;
    let at = |field: &str| {
        run[field]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    match (at("created_at"), at("started_at")) {
        (Some(created), Some(started)) => (started - created).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

async fn ended_among(app: &TestApp, runs: &[String]) -> usize {
    let list = runs
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    app.db()
        .rows_as_text_for_tests(&format!(
            "SELECT count(*)::text FROM executions WHERE id IN ({list}) AND finished_at IS NOT NULL"
        ))
        .await
        .ok()
        .and_then(|rows| rows.first().and_then(|n| n.parse().ok()))
        .unwrap_or_default()
}
