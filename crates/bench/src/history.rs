//! Findings at scale: a history of 100 Prowler runs over 1,000 accounts (10,000,000
//! finding rows), each stored and settled as a worker does; then one run of 1,000,000
//! findings beside a plain COPY of the same rows into an unindexed table, the state
//! computation of that run, and the findings API under 16 connections beside
//! `GET /health` of the same api process.

// psql is the baseline's COPY; wrk drives the api.
#![allow(clippy::disallowed_methods)]

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sage_findings::{Finding, Severity, Source, Status};
use sage_model::ExecutionId;
use sage_model::tools::Tool;
use sage_store::finding_states::Coverage;
use sage_store::findings::{NewToolRun, StoredFinding};
use sage_testkit::{ANALYST, TestApp, spawn_app_with, tools_env};
use serde_json::json;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use sage_worker::tool_runs::stored_finding;

use crate::processes;
use crate::reads::{CONNECTIONS, SECONDS, WARM_UP_SECONDS, wrk};

const ACCOUNTS: usize = 1_000;
const PER_ACCOUNT: usize = 100;
const RUNS: usize = 100;
const BIG_PER_ACCOUNT: usize = 1_000;

pub async fn run() -> anyhow::Result<()> {
    let settles = SettleTimes::default();
    let subscriber = tracing_subscriber::registry().with(settles.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app_with(tools_env()).await;
    let database = app
        .env
        .raw("DATABASE_URL")
        .ok_or_else(|| anyhow::anyhow!("the bench's app has no DATABASE_URL"))?
        .to_owned();
    let module = app.tool_module("prowler").await;
    let started = Instant::now();
    // SAGE_BENCH_HISTORY_RUNS: fewer runs, for a quicker look.
    let history_runs = std::env::var("SAGE_BENCH_HISTORY_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(RUNS);
    let mut runs = Vec::with_capacity(history_runs);
    for run in 0..history_runs {
        runs.push(store(&app, &module, run, PER_ACCOUNT).await?);
    }
    let history = started.elapsed();
    let rows = count(&app, "SELECT count(*)::text FROM findings").await;
    let states = count(&app, "SELECT count(*)::text FROM finding_states").await;
    let events = count(&app, "SELECT count(*)::text FROM finding_events").await;
    println!(
        "\nfindings at scale: {history_runs} Prowler runs over {ACCOUNTS} accounts stored and settled in \
         {:.0} s: {rows} finding rows, {states} findings, {events} changes",
        history.as_secs_f64()
    );

    // One run of a million findings, beside a plain COPY of the same rows.
    let big = ACCOUNTS * BIG_PER_ACCOUNT;
    let settled_before = settles.count();
    let started = Instant::now();
    let big_run = store(&app, &module, history_runs, BIG_PER_ACCOUNT).await?;
    let stored = started.elapsed().as_secs_f64();
    let settle = settles.last(settled_before).as_secs_f64();
    let copied = plain_copy(&database, big_run, history_runs, big)?;
    println!(
        "  {:<44} {:>14} {:>14} {:>8}",
        "", "Sage Runner", "plain COPY", "ratio"
    );
    println!(
        "  {:<44} {:>12.0}/s {:>12.0}/s {:>7.2}x",
        "store 1,000,000 findings (rows per second)",
        big as f64 / stored,
        big as f64 / copied,
        copied / stored
    );
    println!(
        "  {:<44} {:>12.2} s   (of the {stored:.2} s above)",
        "  of which the state computation", settle
    );

    // The API under load, as an analyst who may view the tool's runs.
    app.assign(&module, json!([{"user": ANALYST, "permissions": ["view"]}]))
        .await;
    let (api, api_process) = processes::api(&app).await;
    let last = runs[history_runs - 1];
    let before = runs[history_runs - 2];
    let paths = [
        "/api/v1/findings?limit=50".to_owned(),
        "/api/v1/findings?state=open&severity=high&limit=50".to_owned(),
        "/api/v1/findings?account=000000000042&limit=50".to_owned(),
        "/api/v1/findings/trends?tool=prowler&days=90".to_owned(),
        // Last: its slow answers keep the api busy after wrk stops asking, and would
        // count against whatever is measured next.
        format!("/api/v1/findings/diff?from={before}&to={last}"),
    ];
    for path in paths.iter().map(String::as_str).chain(["/health"]) {
        wrk(&api, path, WARM_UP_SECONDS).await;
    }
    let health = wrk(&api, "/health", SECONDS).await;
    println!(
        "  wrk, {CONNECTIONS} connections, {SECONDS} s each after {WARM_UP_SECONDS} s not counted, as {ANALYST}"
    );
    println!(
        "  {:<62} {:>10} {:>9} {:>9} {:>8}",
        "", "req/s", "p50 ms", "p99 ms", "vs /health"
    );
    for path in &paths {
        let figures = wrk(&api, path, SECONDS).await;
        println!(
            "  {:<62} {:>10.0} {:>9.2} {:>9.2} {:>7.3}x",
            shorten(path),
            figures.rate,
            figures.p50_ms,
            figures.p99_ms,
            figures.rate / health.rate
        );
    }
    println!(
        "  {:<62} {:>10.0} {:>9.2} {:>9.2}",
        "GET /health", health.rate, health.p50_ms, health.p99_ms
    );
    api_process.stop().await;
    // Ten million findings take gigabytes of disk. Autovacuum may still be at work on
    // them, as the superuser, whose backends the bench's role may not end: its workers
    // give way to a drop within moments, so the drop is tried again.
    let mut attempt = 1;
    loop {
        match sage_store::testing::drop_test_database(&database).await {
            Ok(()) => return Ok(()),
            Err(error) if attempt < 10 => {
                eprintln!("the history's database is not dropped yet ({error}); again in 3 s");
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context(format!("drop the history's database by hand: {database}")));
            }
        }
    }
}

/// Stores run number `run`, `per_account` findings in each account, as a worker does:
/// most fail, one in twenty of the first 100 per account passes (a different one each
/// run), so each run fixes and reopens some.
async fn store(
    app: &TestApp,
    module: &str,
    run: usize,
    per_account: usize,
) -> anyhow::Result<ExecutionId> {
    let id = app.finished_execution(module).await;
    let findings = (0..ACCOUNTS * per_account).map(move |i| stored(run, i, per_account));
    let record = NewToolRun {
        execution_id: id,
        tool: Tool::Prowler,
        tool_version: Some("5.14.0".to_owned()),
        result_key: format!("runs/bench/{id}/result.json"),
        regions: Some(vec!["us-east-1".to_owned()]),
    };
    app.db()
        .record_tool_run(
            &record,
            futures_util::stream::iter(findings),
            std::future::ready(Coverage::Whole),
        )
        .await?;
    Ok(id)
}

fn stored(run: usize, i: usize, per_account: usize) -> StoredFinding {
    let (account, n) = (i / per_account, i % per_account);
    let passes = n < 100 && (n + run).is_multiple_of(20);
    let finding = Finding {
        tool: Tool::Prowler,
        check_id: format!("s3_check_{}", n % 25),
        title: "S3 bucket has default encryption".to_owned(),
        severity: [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ][n % 4],
        status: if passes { Status::Pass } else { Status::Fail },
        resource_id: format!("bucket-{account}-{n}"),
        resource_type: "AwsS3Bucket".to_owned(),
        region: "us-east-1".to_owned(),
        account: format!("{account:012}"),
        remediation: String::new(),
        compliance: Vec::new(),
        source: Source {
            file: "prowler.ocsf.json".to_owned(),
            position: format!("[{i}]"),
        },
    };
    stored_finding(finding)
}

/// Seconds to COPY run `id`'s rows, written out as CSV, into an unindexed table of the
/// same columns with psql.
fn plain_copy(url: &str, id: ExecutionId, run: usize, rows: usize) -> anyhow::Result<f64> {
    let dir = Path::new("bench-out");
    std::fs::create_dir_all(dir)?;
    let csv = dir.join("plain-copy.csv");
    let mut file = BufWriter::new(std::fs::File::create(&csv)?);
    for i in 0..rows {
        let f = stored(run, i, BIG_PER_ACCOUNT);
        writeln!(
            file,
            "{id},{i},{},{},\"{}\",{},{},{},{},{},{},{}",
            f.tool,
            f.check_id,
            f.title,
            f.severity,
            f.status,
            f.resource_id,
            f.resource_type,
            f.region,
            f.account,
            f.fingerprint
        )?;
    }
    file.flush()?;
    let psql = |sql: &str| -> anyhow::Result<()> {
        let status = Command::new("psql")
            .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .status()?;
        anyhow::ensure!(status.success(), "psql failed: {sql}");
        Ok(())
    };
    psql("CREATE TABLE plain_copy AS SELECT * FROM findings WITH NO DATA")?;
    let started = Instant::now();
    psql(&format!(
        "\\copy plain_copy (execution_id, ordinal, tool, check_id, title, severity, status, \
         resource_id, resource_type, region, account, fingerprint) FROM '{}' CSV",
        csv.display()
    ))?;
    let seconds = started.elapsed().as_secs_f64();
    std::fs::remove_file(&csv)?;
    Ok(seconds)
}

async fn count(app: &TestApp, sql: &str) -> String {
    app.db()
        .rows_as_text_for_tests(sql)
        .await
        .ok()
        .and_then(|rows| rows.into_iter().next())
        .unwrap_or_default()
}

fn shorten(path: &str) -> String {
    let path = path.replace("/api/v1", "");
    if path.len() > 60 {
        format!("{}…", &path[..59])
    } else {
        path
    }
}

/// How long each `settle_findings` span of the store took, open to close.
#[derive(Clone, Default)]
struct SettleTimes(Arc<Mutex<Vec<Duration>>>);

struct Opened(Instant);

impl SettleTimes {
    fn count(&self) -> usize {
        self.0.lock().map(|times| times.len()).unwrap_or_default()
    }

    /// The last one recorded after the first `before`.
    fn last(&self, before: usize) -> Duration {
        self.0
            .lock()
            .ok()
            .and_then(|times| times.get(before..).and_then(|t| t.last().copied()))
            .unwrap_or_default()
    }
}

impl<S> tracing_subscriber::Layer<S> for SettleTimes
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if attrs.metadata().name() == "settle_findings"
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(Opened(Instant::now()));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(opened) = span.extensions().get::<Opened>().map(|o| o.0) else {
            return;
        };
        if let Ok(mut times) = self.0.lock() {
            times.push(opened.elapsed());
        }
    }
}
