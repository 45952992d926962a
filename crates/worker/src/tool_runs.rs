//! What makes a scanner run more than a run: the findings read from the run's outputs,
//! what of them was cut, and the run's record in S3
//! (`runs/<YYYYMM>/<id>/result.json`, beside the outputs) and in the database.
//!
//! Findings go from the parser to the database as a stream through a bounded channel,
//! so a worker's memory does not grow with a run's findings; at most
//! `SCANNER_MAX_FINDINGS` of a run are stored, and the rest are counted and said.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use chrono::{DateTime, Utc};
use sage_findings::Finding;
use sage_findings::ParseError;
use sage_findings::identity::Identity;
use sage_findings::parse::{EMPTY_FILE, Input, Parsed, Record, parse_inputs, restated};
use sage_model::ExecutionId;
use sage_model::catalog::cloud::RoleArn;
use sage_model::tools::Tool;
use sage_store::Db;
use sage_store::finding_states::Coverage;
use sage_store::findings::{NewToolRun, RecordedRun, StoredFinding};
use sage_store::runs::{ClaimedRun, RunEnd};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::artifacts::{Kept, Planned};
use crate::context::Context;

/// The name of a tool run's record among its artifacts.
pub const RESULT_FILE: &str = "result.json";

/// Findings on their way from the parser to the database: enough to keep both busy.
const IN_FLIGHT: usize = 1024;

/// Where a tool run keeps its outputs and record: by the month it ran in.
pub fn prefix(execution_id: ExecutionId, at: DateTime<Utc>) -> String {
    format!("runs/{}/{execution_id}/", at.format("%Y%m"))
}

/// What reading a run's outputs and storing their findings came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The run's record as stored with its findings; `None` until then.
    pub recorded: Option<RecordedRun>,
    /// Findings read from the outputs.
    pub read: u64,
    /// Findings read beyond the cap: counted, not stored.
    pub over_cap: u64,
    /// Why the outputs could not be read, or their findings stored, in full.
    pub problem: Option<String>,
    /// Each output lost or cut short, with why: the scan's results are incomplete.
    pub cut: Vec<String>,
}

/// The record of a tool run, before the database has it.
pub fn new_run(ctx: &Context, claimed: &ClaimedRun, tool: Tool, prefix: &str) -> NewToolRun {
    NewToolRun {
        execution_id: claimed.execution_id,
        tool,
        tool_version: ctx.tool_versions.get(tool),
        result_key: format!("{prefix}{RESULT_FILE}"),
        regions: regions_named(&claimed.params),
    }
}

/// The regions a tool run's options named (`region`, comma-separated), in the form
/// findings' regions take; `None` when it named none.
fn regions_named(params: &Value) -> Option<Vec<String>> {
    let regions: Vec<String> = params
        .get("region")?
        .as_str()?
        .split(',')
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .collect();
    (!regions.is_empty()).then_some(regions)
}

/// What a run's outputs are read against.
pub struct Reading<'k> {
    /// What was kept of them, and why the rest was not.
    pub kept: &'k Kept,
    /// The size of the run's output space.
    pub space: u64,
    /// The most findings the run stores.
    pub cap: u64,
    /// Whether the run succeeded: only then may it fix findings.
    pub succeeded: bool,
    /// The account whose role the run assumed: a finding whose output names no account
    /// (Cloud Custodian's) is that account's, so runs over many accounts keep their
    /// findings apart.
    pub assumed_account: Option<String>,
}

/// The account of the role a run's options name (`iam_role_arn`).
pub fn assumed_account(params: &Value) -> Option<String> {
    let arn = RoleArn::parse(params.get("iam_role_arn")?.as_str()?).ok()?;
    arn.as_str().split(':').nth(4).map(str::to_owned)
}

/// Reads the kept outputs out of the spooled archive into a private folder (names were
/// checked when they were planned), and stores the run's record with the findings of
/// every scanner output among them.
pub async fn store_outputs(
    ctx: &Context,
    run: &NewToolRun,
    spool: &Path,
    kept: Kept,
    space: u64,
    succeeded: bool,
    assumed_account: Option<String>,
) -> Outcome {
    let spool = spool.to_owned();
    let extracted = tokio::task::spawn_blocking(move || (extract(&spool, &kept.planned), kept));
    let Ok((folder, kept)) = extracted.await else {
        return Outcome {
            problem: Some("reading the outputs failed".to_owned()),
            ..Outcome::default()
        };
    };
    let reading = Reading {
        kept: &kept,
        space,
        cap: ctx.settings.scanner_max_findings,
        succeeded,
        assumed_account,
    };
    match folder {
        Ok(folder) => store_findings(&ctx.db, run, folder.path(), reading).await,
        Err(problem) => Outcome {
            problem: Some(problem),
            cut: cut_outputs(&kept, space, None),
            ..Outcome::default()
        },
    }
}

/// Parses every scanner output under `folder` and stores the run's record with at most
/// `reading.cap` of their findings, the parser and the database working side by side;
/// the run fixes findings only when it succeeded and nothing of its outputs was cut,
/// lost or over the cap.
pub async fn store_findings(
    db: &Db,
    run: &NewToolRun,
    folder: &Path,
    reading: Reading<'_>,
) -> Outcome {
    let (sender, mut receiver) = mpsc::channel::<StoredFinding>(IN_FLIGHT);
    let input = Input {
        path: folder.to_owned(),
        label: String::new(),
        run: Some(run.execution_id.to_string()),
        account: reading.assumed_account.clone(),
    };
    let cap = reading.cap;
    let parsing = tokio::task::spawn_blocking(move || {
        let (mut read, mut over_cap) = (0u64, 0u64);
        let parsed = parse_inputs(&[input], &mut |record| {
            let Record::Finding(finding) = record else {
                return;
            };
            read += 1;
            if read > cap {
                over_cap += 1;
            } else {
                // A closed channel: the database gave up, and says why.
                let _ = sender.blocking_send(stored_finding(finding));
            }
        });
        (parsed, read, over_cap)
    });
    let (judged, coverage) = oneshot::channel();
    let read = async {
        let outcome = outcome_of(parsing.await, &reading);
        let whole = reading.succeeded && outcome.cut.is_empty() && outcome.problem.is_none();
        let _ = judged.send(if whole {
            Coverage::Whole
        } else {
            Coverage::Partial
        });
        outcome
    };
    let findings = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let coverage = async { coverage.await.unwrap_or(Coverage::Partial) };
    let (recorded, mut outcome) = tokio::join!(db.record_tool_run(run, findings, coverage), read);
    match recorded {
        Ok(recorded) => outcome.recorded = Some(recorded),
        Err(error) => {
            outcome.problem = Some(format!(
                "the findings were not stored: {}",
                sage_infra::error_text(&error)
            ));
        }
    }
    outcome
}

/// What the parser came to: how many findings it read, over the cap, and what was cut.
fn outcome_of(
    parsed: Result<(Result<Parsed, ParseError>, u64, u64), tokio::task::JoinError>,
    reading: &Reading<'_>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let parsed = match parsed {
        Ok((parsed, read, over_cap)) => {
            outcome.read = read;
            outcome.over_cap = over_cap;
            parsed
                .map_err(|e| outcome.problem = Some(format!("an output cannot be read: {e}")))
                .ok()
        }
        Err(_) => {
            outcome.problem = Some("reading the outputs failed".to_owned());
            None
        }
    };
    outcome.cut = cut_outputs(reading.kept, reading.space, parsed.as_ref());
    if outcome.over_cap > 0 {
        outcome.cut.push(format!(
            "{} of the {} findings read are over the cap of {} per run and were not \
             stored: raise SCANNER_MAX_FINDINGS",
            outcome.over_cap, outcome.read, reading.cap
        ));
    }
    outcome
}

/// What of a run's outputs is missing or incomplete: files not kept, files that end
/// before their end, and, when the files filled the output space, the empty ones (a
/// tool that ran out of space leaves them so, and carries on).
fn cut_outputs(kept: &Kept, space: u64, parsed: Option<&Parsed>) -> Vec<String> {
    let mut cut: Vec<String> = kept
        .not_kept
        .iter()
        .map(|why| format!("not kept: {why}"))
        .collect();
    let Some(parsed) = parsed else {
        return cut;
    };
    cut.extend(parsed.sources.iter().filter_map(|source| {
        let note = source.note.as_ref()?;
        Some(format!("/work/out/{}: {note}", source.file))
    }));
    // Within 1/64 of the space: tmpfs keeps a little for itself.
    if kept.written >= space - space / 64 {
        cut.push(format!(
            "the output space of {} MiB filled up: raise SCANNER_OUTPUT_MIB",
            space >> 20
        ));
        cut.extend(
            parsed
                .skipped
                .iter()
                .filter(|skipped| skipped.reason == EMPTY_FILE)
                .map(|skipped| format!("/work/out/{} is empty", skipped.file)),
        );
    }
    cut
}

/// The kept outputs, in a private folder, without the files that restate another.
fn extract(spool: &Path, kept: &[Planned]) -> Result<tempfile::TempDir, String> {
    let folder =
        tempfile::tempdir().map_err(|e| format!("no folder to read the outputs in: {e}"))?;
    let mut archive = std::fs::File::open(spool).map_err(|e| e.to_string())?;
    let names: Vec<&str> = kept.iter().map(|p| p.name.as_str()).collect();
    let restated = restated(&names);
    for planned in kept.iter().filter(|p| !restated.contains(&p.name.as_str())) {
        let path = folder.path().join(planned.name.as_str());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        // Findings are read from what was kept: a masked file's masked copy.
        let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        match &planned.masked {
            Some(bytes) => {
                std::io::Write::write_all(&mut file, bytes).map_err(|e| e.to_string())?
            }
            None => {
                archive
                    .seek(SeekFrom::Start(planned.offset))
                    .map_err(|e| e.to_string())?;
                std::io::copy(&mut (&mut archive).take(planned.spooled), &mut file)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(folder)
}

/// A finding as stored: its identity's parts in their normalised form, so the
/// database compares what the fingerprint hashed.
pub fn stored_finding(finding: Finding) -> StoredFinding {
    let identity = Identity::of(&finding);
    StoredFinding {
        fingerprint: identity.fingerprint(),
        tool: finding.tool,
        check_id: identity.check,
        title: finding.title,
        severity: finding.severity.as_str().to_owned(),
        status: finding.status.as_str().to_owned(),
        resource_id: identity.resource,
        resource_type: finding.resource_type,
        region: identity.region,
        account: identity.account,
    }
}

/// Writes the run's record, `result.json`, to S3 and lists it among its artifacts,
/// once the run's record is in the database (stored here, without findings, for a run
/// whose outputs were never read). Both come before the run's end is stored: whoever
/// sees the end finds them.
pub async fn record(
    ctx: &Context,
    claimed: &ClaimedRun,
    tool: Tool,
    end: &RunEnd,
    prefix: &str,
    outcome: Outcome,
) -> Result<(), String> {
    let run = new_run(ctx, claimed, tool, prefix);
    let recorded = match outcome.recorded {
        Some(recorded) => recorded,
        None => ctx
            .db
            .record_tool_run(
                &run,
                futures_util::stream::empty(),
                std::future::ready(Coverage::Partial),
            )
            .await
            .map_err(|e| sage_infra::error_text(&e))?,
    };
    let files: Vec<Value> = ctx
        .db
        .artifacts(claimed.execution_id)
        .await
        .map_err(|e| sage_infra::error_text(&e))?
        .into_iter()
        .map(|a| json!({"name": a.name, "sha256": a.sha256, "size": a.size}))
        .collect();
    let result = json!({
        "tool": tool.as_str(),
        "tool_version": run.tool_version,
        "run_id": claimed.execution_id,
        "module_version": claimed.module_version,
        "status": end.reason.status(),
        "reason": end.reason.as_str(),
        "exit_code": end.reason.exit_code(),
        "options": claimed.params,
        "finished_at": recorded.finished_at,
        "files": files,
        "counts": recorded.counts,
        "findings": recorded.findings,
        "findings_read": outcome.read,
        "findings_over_cap": outcome.over_cap,
        "findings_problem": outcome.problem,
        "outputs_complete": outcome.cut.is_empty(),
        "outputs_cut": outcome.cut,
    });
    let bytes = serde_json::to_vec_pretty(&result).map_err(|e| e.to_string())?;
    let artifact = crate::artifacts::put(
        &ctx.s3,
        &ctx.settings.common.s3.bucket,
        run.result_key,
        RESULT_FILE,
        "application/json",
        bytes,
    )
    .await
    .map_err(|e| e.to_string())?;
    ctx.db
        .record_artifacts(claimed.execution_id, &[artifact])
        .await
        .map_err(|e| sage_infra::error_text(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_group_the_run_records() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z")
            .unwrap()
            .to_utc();
        let id: ExecutionId = "0123abcd-0000-4000-8000-000000000000".parse().unwrap();
        assert_eq!(prefix(id, at), format!("runs/202612/{id}/"));
    }
}
