//! What makes a scanner run more than a run: the findings read from the run's outputs,
//! what of them was cut, and the run's record in S3
//! (`runs/<YYYYMM>/<id>/result.json`, beside the outputs) and in the database.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use chrono::{DateTime, Utc};
use sage_findings::Finding;
use sage_findings::parse::{EMPTY_FILE, Input, Parsed, Record, parse_inputs, restated};
use sage_model::ExecutionId;
use sage_model::tools::Tool;
use sage_store::runs::{ClaimedRun, RunEnd};
use sage_store::tools::{StoredFinding, ToolRun};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::artifacts::{Kept, Planned};
use crate::context::Context;

/// The name of a tool run's record among its artifacts.
pub const RESULT_FILE: &str = "result.json";

/// Where a tool run keeps its outputs and record: by the month it ran in.
pub fn prefix(execution_id: ExecutionId, at: DateTime<Utc>) -> String {
    format!("runs/{}/{execution_id}/", at.format("%Y%m"))
}

/// The findings of a run's outputs and what was read.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<StoredFinding>,
    /// `{"<status>": {"<severity>": n}}`.
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// Why the outputs could not be read in full, if so.
    pub problem: Option<String>,
    /// Each output lost or cut short, with why: the scan's results are incomplete.
    pub cut: Vec<String>,
}

/// Reads the kept outputs out of the spooled archive into a private folder (names were
/// checked when they were planned) and parses every scanner output among them.
/// Blocking: run it off the async threads.
pub fn read_outputs(spool: &Path, kept: &Kept, space: u64, execution_id: ExecutionId) -> Outcome {
    let (mut outcome, parsed) = match extract_and_parse(spool, &kept.planned, execution_id) {
        Ok((outcome, parsed)) => (outcome, Some(parsed)),
        Err(problem) => (
            Outcome {
                problem: Some(problem),
                ..Outcome::default()
            },
            None,
        ),
    };
    outcome.cut = cut_outputs(kept, space, parsed.as_ref());
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

fn extract_and_parse(
    spool: &Path,
    kept: &[Planned],
    execution_id: ExecutionId,
) -> Result<(Outcome, Parsed), String> {
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
    let mut findings: Vec<Finding> = Vec::new();
    let input = Input {
        path: folder.path().to_owned(),
        label: String::new(),
        run: Some(execution_id.to_string()),
    };
    let parsed = parse_inputs(&[input], &mut |record| {
        if let Record::Finding(finding) = record {
            findings.push(finding);
        }
    })
    .map_err(|e| format!("an output cannot be read: {e}"))?;
    Ok((outcome_of(findings), parsed))
}

/// One finding per check, resource, region and account: Prowler writes each finding in
/// its JSON and again in its CSV.
fn outcome_of(findings: Vec<Finding>) -> Outcome {
    let mut seen = HashSet::new();
    let mut outcome = Outcome::default();
    for finding in findings {
        let key = (
            finding.check_id.clone(),
            finding.resource_id.clone(),
            finding.region.clone(),
            finding.account.clone(),
        );
        if !seen.insert(key) {
            continue;
        }
        *outcome
            .counts
            .entry(finding.status.as_str().to_owned())
            .or_default()
            .entry(finding.severity.as_str().to_owned())
            .or_default() += 1;
        outcome.findings.push(stored(finding));
    }
    outcome
}

fn stored(finding: Finding) -> StoredFinding {
    StoredFinding {
        fingerprint: fingerprint(&finding.account, &finding.resource_id, &finding.check_id),
        tool: finding.tool,
        check_id: finding.check_id,
        title: finding.title,
        severity: finding.severity.as_str().to_owned(),
        status: finding.status.as_str().to_owned(),
        resource_id: finding.resource_id,
        resource_type: finding.resource_type,
        region: finding.region,
        account: finding.account,
    }
}

/// Follows one finding across runs: the account, the resource and the check.
pub fn fingerprint(account: &str, resource: &str, check: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [account, resource, check] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    sage_model::hex(&hasher.finalize())
}

/// Stores the run's record (`result.json` in S3, listed among its artifacts) and its
/// findings, once its end is stored.
pub async fn record(
    ctx: &Context,
    claimed: &ClaimedRun,
    tool: Tool,
    end: &RunEnd,
    prefix: &str,
    outcome: Outcome,
) -> Result<(), String> {
    let tool_version = ctx.tool_versions.get(tool);
    let files: Vec<Value> = ctx
        .db
        .artifacts(claimed.execution_id)
        .await
        .map_err(|e| sage_infra::error_text(&e))?
        .into_iter()
        .map(|a| json!({"name": a.name, "sha256": a.sha256, "size": a.size}))
        .collect();
    let total = outcome.findings.len();
    let counts = json!(outcome.counts);
    let finished_at = Utc::now();
    let result = json!({
        "tool": tool.as_str(),
        "tool_version": tool_version,
        "run_id": claimed.execution_id,
        "module_version": claimed.module_version,
        "status": end.reason.status(),
        "reason": end.reason.as_str(),
        "exit_code": end.reason.exit_code(),
        "options": claimed.params,
        "finished_at": finished_at,
        "files": files,
        "counts": counts,
        "findings": total,
        "findings_problem": outcome.problem,
        "outputs_complete": outcome.cut.is_empty(),
        "outputs_cut": outcome.cut,
    });
    let bytes = serde_json::to_vec_pretty(&result).map_err(|e| e.to_string())?;
    let key = format!("{prefix}{RESULT_FILE}");
    let artifact = crate::artifacts::put(
        &ctx.s3,
        &ctx.settings.common.s3.bucket,
        key.clone(),
        RESULT_FILE,
        "application/json",
        bytes,
    )
    .await
    .map_err(|e| e.to_string())?;
    ctx.db
        .record_artifacts(claimed.execution_id, &[artifact])
        .await
        .map_err(|e| sage_infra::error_text(&e))?;
    let run = ToolRun {
        execution_id: claimed.execution_id,
        tool,
        tool_version,
        status: end.reason.status(),
        counts,
        result_key: key,
        finished_at,
    };
    ctx.db
        .record_tool_run(&run, &outcome.findings)
        .await
        .map_err(|e| sage_infra::error_text(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_follow_account_resource_and_check() {
        let a = fingerprint("123456789012", "bucket-a", "s3_bucket_default_encryption");
        assert_eq!(a.len(), 64);
        assert_eq!(
            a,
            fingerprint("123456789012", "bucket-a", "s3_bucket_default_encryption")
        );
        assert_ne!(
            a,
            fingerprint("123456789012", "bucket-b", "s3_bucket_default_encryption")
        );
        // The separator keeps "ab" + "c" apart from "a" + "bc".
        assert_ne!(fingerprint("1", "ab", "c"), fingerprint("1", "a", "bc"));
    }

    #[test]
    fn months_group_the_run_records() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z")
            .unwrap()
            .to_utc();
        let id: ExecutionId = "0123abcd-0000-4000-8000-000000000000".parse().unwrap();
        assert_eq!(prefix(id, at), format!("runs/202612/{id}/"));
    }
}
