//! Findings stored: the worker's path from a scanner output to PostgreSQL (stream
//! parse, bounded channel, binary COPY, one per check, resource, region and account)
//! run as a process of its own over a generated Prowler OCSF file of 1,000,000
//! findings, beside the same path over 10,000: the peak resident memory of each, whose
//! ratio is 1 when memory is flat in the number of findings.

// GNU time measures the storing process; no container is involved.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::Command;

use sage_model::ExecutionId;
use sage_model::tools::Tool;
use sage_store::findings::NewToolRun;
use sage_testkit::{ScriptModule, spawn_app_with, tools_env};
use sage_worker::artifacts::Kept;
use sage_worker::tool_runs::{Reading, store_findings};
use serde_json::json;

use crate::findings::{measured, sibling_binary, write_array};
use crate::stats::row;

const MANY: usize = 1_000_000;
const FEW: usize = 10_000;

/// The hidden command the bench runs itself as: stores the findings of `folder` as
/// the tool run of `execution` on the database of the environment.
pub const COMMAND: &str = "store-findings";

pub async fn run() -> anyhow::Result<()> {
    let app = spawn_app_with(tools_env()).await;
    // Queued runs of a module no worker takes: tool runs hang on executions.
    let module = app.module_with(ScriptModule::default()).await;
    let out = Path::new("bench-out");
    let mut figures = Vec::new();
    for count in [MANY, FEW] {
        let folder = out.join(format!("stored-{count}"));
        std::fs::create_dir_all(&folder)?;
        let bytes = generate(&folder.join("prowler.ocsf.json"), count)?;
        let execution = app.submit(&module, json!({})).await;
        let mut command = Command::new(sibling_binary("sage-bench")?);
        command
            .envs(app.env.vars())
            .args([COMMAND, &folder.display().to_string(), &execution]);
        let measured = measured(&mut command)?;
        let stored = app
            .db()
            .rows_as_text_for_tests(&format!(
                "SELECT count(*)::text FROM findings WHERE execution_id = '{execution}'"
            ))
            .await?;
        anyhow::ensure!(
            stored == [count.to_string()],
            "{count} findings made {stored:?} rows"
        );
        figures.push((measured, bytes as f64 / 1e6));
    }
    let (many, few) = (&figures[0], &figures[1]);
    println!(
        "\nfindings: stored from a Prowler OCSF file ({:.0} MB and {:.1} MB), parse and COPY\n  {:<28} {:>17} {:>17} {:>8}",
        many.1, few.1, "", "1,000,000", "10,000", "ratio"
    );
    row("peak memory", many.0.peak_mb, few.0.peak_mb, "MB");
    row("time", many.0.seconds, few.0.seconds, "s");
    row(
        "findings per second",
        MANY as f64 / many.0.seconds,
        FEW as f64 / few.0.seconds,
        "/s",
    );
    Ok(())
}

/// `count` lean Prowler OCSF findings, each of its own resource; returns the size.
fn generate(path: &Path, count: usize) -> anyhow::Result<u64> {
    // An account of each file's own: one run's findings are outside the other's scope,
    // so neither fixes the other's.
    let account = format!("{count:012}");
    const SEVERITIES: [&str; 4] = ["Low", "Medium", "High", "Critical"];
    write_array(path, count, |i| {
        json!({
            "status_code": if i % 3 == 0 { "PASS" } else { "FAIL" },
            "severity": SEVERITIES[i % 4],
            "finding_info": {"uid": format!("bench-{i}"), "title": "S3 bucket has default encryption"},
            "metadata": {"event_code": format!("s3_check_{}", i % 500)},
            "resources": [{"uid": format!("arn:aws:s3:::bench-bucket-{i}"), "region": "us-east-1", "type": "AwsS3Bucket"}],
            "cloud": {"account": {"uid": account}, "region": "us-east-1"},
        })
    })
}

/// The storing process: `sage-bench store-findings <folder> <execution id>`.
pub async fn store(folder: &str, execution: &str) -> anyhow::Result<()> {
    let mut env = sage_infra::config::Env::from_process();
    let settings = sage_store::DatabaseSettings::from_env(&mut env)
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL is not set"))?;
    let db = sage_store::Db::connect(&settings)?;
    let execution_id: ExecutionId = execution.parse()?;
    let run = NewToolRun {
        execution_id,
        tool: Tool::Prowler,
        tool_version: None,
        result_key: format!("runs/bench/{execution_id}/result.json"),
        regions: None,
    };
    let reading = Reading {
        kept: &Kept::default(),
        space: u64::MAX,
        cap: u64::MAX,
        succeeded: true,
        assumed_account: None,
    };
    let outcome = store_findings(&db, &run, Path::new(folder), reading).await;
    anyhow::ensure!(outcome.problem.is_none(), "{:?}", outcome.problem);
    Ok(())
}
