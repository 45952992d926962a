//! Building an evidence report, as a job: the scanner outputs among the report's runs'
//! artifacts (told by their first bytes, fetched alone) are fetched from S3 into a
//! private folder within a byte budget, parsed, and the PDF and the JSON summary are
//! stored in S3 and recorded with the report. At most a few reports are built at once
//! per worker, and each lists a bounded number of checks and of findings per check (the
//! summaries count them all), so a report's memory and disk do not grow with its runs'
//! outputs; what was left out is listed in the report with why.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sage_findings::identity::Identity;
use sage_findings::pack::{self, Content, FINDINGS, Manifest, Signer, write_pack};
use sage_findings::parse::{HEAD, Input, Record, Skipped, parse_inputs, recognised, restated};
use sage_findings::report::{
    AcceptedRisk, CappedFindings, Evidence as Report, FontFiles, Lang, Previous, TrendPoint, Words,
    render,
};
use sage_findings::summary::Summary;
use sage_findings::{Finding, Status, Tool};
use sage_model::EvidenceId;
use sage_model::acceptance::AcceptanceScope;
use sage_model::artifacts::ArtifactName;
use sage_model::compliance::{Assessment, CheckTally, FrameworkName, RequirementEvidence};
use sage_model::findings::FindingState;
use sage_store::StoreError;
use sage_store::artifacts::Artifact;
use sage_store::compliance::HeldFramework;
use sage_store::evidence::Evidence;
use sage_store::executions::Viewer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::context::Context;

/// What a job message of a report comes to.
pub enum Built {
    Done,
    /// Every report slot of this worker is taken: the job goes back to the queue.
    Busy,
}

/// Builds one report, if it still waits for it. Errors are store errors only (the job is
/// retried); anything wrong with the report itself fails it, with the reason.
#[tracing::instrument(skip(ctx), fields(worker_id = %ctx.settings.worker_id))]
pub async fn build(ctx: &Context, evidence_id: EvidenceId) -> Result<Built, StoreError> {
    // A report waiting here would hold one of the worker's run slots: it goes back to
    // the queue instead.
    let Ok(_slot) = ctx.evidence_slots.try_acquire() else {
        return Ok(Built::Busy);
    };
    let Some(order) = ctx.db.claim_evidence(evidence_id).await? else {
        tracing::info!("the report is not waiting to be built; skipping the job");
        return Ok(Built::Done);
    };
    let worker_id = &ctx.settings.worker_id;
    match make(ctx, &order).await {
        Ok((summary, files)) => {
            ctx.db
                .finish_evidence(evidence_id, &summary, &files, worker_id)
                .await?;
            tracing::info!("evidence report ready");
        }
        Err(why) => {
            tracing::warn!(%why, "evidence report failed");
            ctx.db.fail_evidence(evidence_id, &why, worker_id).await?;
        }
    }
    Ok(Built::Done)
}

/// The summary and the stored files; the error says why, in the requester's terms.
async fn make(ctx: &Context, order: &Evidence) -> Result<(Value, Vec<Artifact>), String> {
    let folder = tempfile::tempdir().map_err(|e| format!("no folder for the artifacts: {e}"))?;
    let mut inputs = Vec::new();
    let mut budget = Budget {
        left: ctx.settings.evidence.fetch_bytes,
        left_out: Vec::new(),
    };
    for id in &order.execution_ids {
        let dir = folder.path().join(id.to_string());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| e.to_string())?;
        let artifacts = ctx
            .db
            .artifacts(*id)
            .await
            .map_err(|e| sage_infra::error_text(&e))?;
        let names: Vec<&str> = artifacts.iter().map(|a| a.name.as_str()).collect();
        let restated: Vec<String> = restated(&names).into_iter().map(str::to_owned).collect();
        for artifact in artifacts.iter().filter(|a| !restated.contains(&a.name)) {
            fetch(ctx, artifact, &dir, &mut budget).await?;
        }
        let account = ctx
            .db
            .execution(*id)
            .await
            .map_err(|e| sage_infra::error_text(&e))?
            .and_then(|run| crate::tool_runs::assumed_account(&run.params));
        inputs.push(Input {
            path: dir,
            label: String::new(),
            run: Some(id.to_string()),
            account,
        });
    }
    let lang: Lang = order.lang.parse()?;
    let tools: Option<BTreeSet<Tool>> = order
        .tools
        .as_ref()
        .map(|names| names.iter().map(|n| n.parse()).collect::<Result<_, _>>())
        .transpose()?;
    let caps = Caps {
        per_check: order
            .max_findings_per_check
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(ctx.settings.evidence.max_findings_per_check),
        max_checks: ctx.settings.evidence.max_checks,
    };
    let fonts = ctx.evidence_fonts.clone();
    let left_out = budget.left_out;
    let asked = Asked {
        title: order.title.clone(),
        lang,
        tools,
        caps,
        compliance: match &order.compliance {
            Some(name) => Some(framework(ctx, name).await?),
            None => None,
        },
        accepted_risks: accepted_risks(ctx, order.tools.as_deref()).await?,
        // Every finding counted, one JSON line each, when the report gets a pack.
        findings_file: ctx
            .settings
            .evidence
            .signer
            .as_ref()
            .map(|_| folder.path().join(FINDINGS)),
        previous: previous(ctx, order).await?,
        trend: trend(ctx, order).await?,
    };
    let (summary, pdf) =
        tokio::task::spawn_blocking(move || assemble(&inputs, left_out, &asked, &fonts))
            .await
            .map_err(|_| "building the report failed".to_owned())??;
    let summary_bytes = serde_json::to_vec_pretty(&summary).map_err(|e| e.to_string())?;
    let pack = match &ctx.settings.evidence.signer {
        Some(signer) => Some(
            pack(
                ctx,
                order,
                folder.path(),
                &summary,
                &summary_bytes,
                &pdf,
                signer,
            )
            .await?,
        ),
        None => None,
    };
    drop(folder);
    let mut files = vec![
        store(ctx, order.id, "report.pdf", "application/pdf", pdf).await?,
        store(
            ctx,
            order.id,
            "summary.json",
            "application/json",
            summary_bytes,
        )
        .await?,
    ];
    if let Some(pack) = pack {
        files.push(store(ctx, order.id, "pack.zip", "application/zip", pack).await?);
    }
    Ok((summary, files))
}

/// The report's evidence pack: its PDF and summary, every finding, the sources it read
/// (in `folder`, as fetched) and the documents it cites, with the signed manifest.
async fn pack(
    ctx: &Context,
    order: &Evidence,
    folder: &Path,
    summary: &Value,
    summary_bytes: &[u8],
    pdf: &[u8],
    signer: &Arc<Signer>,
) -> Result<Vec<u8>, String> {
    let facts = ctx
        .db
        .pack_facts(&order.execution_ids, order.compliance.as_deref())
        .await
        .map_err(|e| sage_infra::error_text(&e))?;
    let mut files: Vec<(String, PathBuf)> = vec![(FINDINGS.to_owned(), folder.join(FINDINGS))];
    for source in summary["sources"].as_array().into_iter().flatten() {
        let (Some(run), Some(file)) = (source["run"].as_str(), source["file"].as_str()) else {
            continue;
        };
        files.push((format!("sources/{run}/{file}"), folder.join(run).join(file)));
    }
    for (requirement, name, key) in &facts.documents {
        // Requirement ids are the framework's (`2.7.1`); a '/' would add a folder.
        let requirement = requirement.replace('/', "_");
        let path = folder.join("documents").join(&requirement).join(name);
        download(ctx, key, &path).await?;
        files.push((format!("documents/{requirement}/{name}"), path));
    }
    let manifest = Manifest {
        format: pack::FORMAT.to_owned(),
        evidence_id: order.id.to_string(),
        generated_at: chrono::Utc::now(),
        key_id: String::new(),
        parameters: json!({
            "title": order.title, "lang": order.lang, "tools": order.tools,
            "execution_ids": order.execution_ids, "compliance": order.compliance,
            "max_findings_per_check": order.max_findings_per_check,
        }),
        runs: facts.runs,
        audit_head: facts.audit_head,
        files: Vec::new(),
    };
    let (summary_bytes, pdf, signer) = (summary_bytes.to_vec(), pdf.to_vec(), Arc::clone(signer));
    let packed = tokio::task::spawn_blocking(move || {
        let mut contents: Vec<(String, Content<'_>)> = vec![
            (pack::REPORT.to_owned(), Content::Bytes(&pdf)),
            (pack::SUMMARY.to_owned(), Content::Bytes(&summary_bytes)),
        ];
        contents.extend(
            files
                .iter()
                .map(|(name, path)| (name.clone(), Content::File(path))),
        );
        let mut out = std::io::Cursor::new(Vec::new());
        write_pack(&mut out, &contents, manifest, &signer).map(|()| out.into_inner())
    })
    .await
    .map_err(|_| "packing the report failed".to_owned())??;
    let key = signer_key(ctx);
    if let Some((id, json)) = key {
        ctx.db
            .record_signing_key(&id, &json)
            .await
            .map_err(|e| sage_infra::error_text(&e))?;
    }
    Ok(packed)
}

/// The signing key's id and public half, as the api serves it.
fn signer_key(ctx: &Context) -> Option<(String, Value)> {
    let public = ctx.settings.evidence.signer.as_ref()?.public_key();
    Some((public.id(), public.to_json()))
}

/// Copies an S3 object to `path`.
async fn download(ctx: &Context, key: &str, path: &Path) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| e.to_string())?;
    }
    let object = ctx
        .s3
        .get_object()
        .bucket(&ctx.settings.common.s3.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("document {key}: {}", sage_infra::error_text(&e)))?;
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| e.to_string())?;
    tokio::io::copy(&mut object.body.into_async_read(), &mut file)
        .await
        .map_err(|e| format!("document {key}: {e}"))?;
    Ok(())
}

/// The framework a report assesses, and the fingerprints of its tool's findings that
/// stand accepted now.
struct Compliance {
    held: HeldFramework,
    accepted: HashSet<String>,
    /// The documents and exclusions people added to its requirements.
    evidence: BTreeMap<String, RequirementEvidence>,
}

async fn framework(ctx: &Context, name: &str) -> Result<Compliance, String> {
    let name = FrameworkName::parse(name)?;
    let held = ctx
        .db
        .frameworks(std::slice::from_ref(&name))
        .await
        .map_err(|e| sage_infra::error_text(&e))?
        .into_iter()
        .next()
        .ok_or_else(|| format!("the scanner image no longer holds the framework {name}"))?;
    let accepted = ctx
        .db
        .accepted_fingerprints(held.tool)
        .await
        .map_err(|e| sage_infra::error_text(&e))?;
    let evidence = ctx
        .db
        .requirement_evidence(&held.name)
        .await
        .map_err(|e| sage_infra::error_text(&e))?;
    Ok(Compliance {
        held,
        accepted,
        evidence,
    })
}

/// Days of the trend, and how many days apart its bars are.
const TREND_DAYS: i32 = 91;
const TREND_STEP: usize = 7;

/// Failing findings (not accepted) of the report's tools (every tool without a list) at
/// the end of each week of the last 91 days, from the day counts each run's settling
/// kept.
async fn trend(ctx: &Context, order: &Evidence) -> Result<Vec<TrendPoint>, String> {
    let tools: Vec<sage_model::tools::Tool> = match &order.tools {
        Some(names) => names.iter().filter_map(|name| name.parse().ok()).collect(),
        None => sage_model::tools::Tool::ALL.to_vec(),
    };
    let mut failing: BTreeMap<chrono::NaiveDate, u64> = BTreeMap::new();
    for tool in tools {
        let days = ctx
            .db
            .finding_trends(&Viewer::Everything, tool, None, TREND_DAYS)
            .await
            .map_err(|e| sage_infra::error_text(&e))?;
        for day in days {
            let open: u64 = day
                .counts
                .iter()
                .filter(|(state, _, _)| {
                    matches!(
                        state,
                        FindingState::New | FindingState::Open | FindingState::Reopened
                    )
                })
                .map(|(_, _, n)| n)
                .sum();
            *failing.entry(day.day).or_insert(0) += open;
        }
    }
    if failing.values().all(|n| *n == 0) {
        return Ok(Vec::new());
    }
    // The last day of each week, counted back from today.
    let days: Vec<(chrono::NaiveDate, u64)> = failing.into_iter().collect();
    let mut points: Vec<TrendPoint> = days
        .iter()
        .rev()
        .step_by(TREND_STEP)
        .map(|(day, n)| TrendPoint {
            day: *day,
            failing: *n,
        })
        .collect();
    points.reverse();
    Ok(points)
}

/// The previous ready report of the same tools and framework, its failing findings by
/// severity and requirements by status, and the findings that changed since.
async fn previous(ctx: &Context, order: &Evidence) -> Result<Option<Previous>, String> {
    let error = |e: StoreError| sage_infra::error_text(&e);
    let Some((id, created_at, summary)) = ctx.db.previous_evidence(order).await.map_err(error)?
    else {
        return Ok(None);
    };
    let (new, reopened, fixed) = ctx
        .db
        .finding_changes_since(order.tools.as_deref(), created_at)
        .await
        .map_err(error)?;
    Ok(Some(Previous {
        id: id.to_string(),
        created_at,
        failing: serde_json::from_value(summary["failing"].clone()).unwrap_or_default(),
        requirements: serde_json::from_value(summary["requirements"]["counts"].clone())
            .unwrap_or_default(),
        new,
        reopened,
        fixed,
    }))
}

/// The risk acceptances in effect over `tools` (every tool when `None`), as the report
/// shows them.
async fn accepted_risks(
    ctx: &Context,
    tools: Option<&[String]>,
) -> Result<Vec<AcceptedRisk>, String> {
    let in_effect = ctx
        .db
        .acceptances_in_effect()
        .await
        .map_err(|e| sage_infra::error_text(&e))?;
    Ok(in_effect
        .into_iter()
        .filter(|a| tools.is_none_or(|tools| tools.iter().any(|t| t == a.tool.as_str())))
        .map(|a| AcceptedRisk {
            tool: a.tool.as_str().to_owned(),
            scope: scope_words(&a.scope),
            reason: a.reason,
            requested_by: a.requested_by,
            approved_by: a.decided_by.unwrap_or_default(),
            approved_at: a.decided_at.unwrap_or(a.requested_at),
            expires_at: a.expires_at,
            findings: a.findings,
        })
        .collect())
}

/// An acceptance's scope in the report: one finding's fingerprint, or a check narrowed
/// by accounts, regions and a resource pattern (`*`: any).
fn scope_words(scope: &AcceptanceScope) -> String {
    match scope {
        AcceptanceScope::Finding { fingerprint } => format!("finding {fingerprint}"),
        AcceptanceScope::Pattern(pattern) => {
            let any = |names: &[String]| {
                if names.is_empty() {
                    "*".to_owned()
                } else {
                    names.join(", ")
                }
            };
            format!(
                "check {}; accounts {}; regions {}; resources {}",
                pattern.check,
                any(&pattern.accounts),
                any(&pattern.regions),
                pattern.resource.as_ref().map_or("*", |r| r.as_str())
            )
        }
    }
}

/// What a report fetches: the bytes it has left, and the files it left out, with why.
struct Budget {
    left: u64,
    left_out: Vec<Skipped>,
}

/// What a report lists.
#[derive(Clone, Copy)]
struct Caps {
    per_check: usize,
    max_checks: usize,
}

/// Copies one artifact from S3 to `<dir>/<name>` when its first bytes tell a scanner
/// output and it fits in what the report may still fetch; else notes why not.
async fn fetch(
    ctx: &Context,
    artifact: &Artifact,
    dir: &Path,
    budget: &mut Budget,
) -> Result<(), String> {
    // Names were checked when stored; checked again because they become paths here.
    let name =
        ArtifactName::parse(&artifact.name).map_err(|why| format!("stored artifact name {why}"))?;
    let size = u64::try_from(artifact.size).unwrap_or(u64::MAX);
    let head = if size == 0 {
        Vec::new()
    } else {
        let mut head = Vec::new();
        get(ctx, artifact, format!("bytes=0-{}", HEAD - 1))
            .await?
            .take(HEAD as u64)
            .read_to_end(&mut head)
            .await
            .map_err(|e| format!("artifact {}: {e}", artifact.name))?;
        head
    };
    let mut leave_out = |reason: String| {
        budget.left_out.push(Skipped {
            file: artifact.name.clone(),
            reason,
        });
    };
    if let Err(reason) = recognised(name.as_str(), &head) {
        leave_out(reason.to_owned());
        return Ok(());
    }
    if size > budget.left {
        leave_out(format!(
            "over what one report fetches ({} MiB in all, EVIDENCE_FETCH_MIB)",
            ctx.settings.evidence.fetch_bytes >> 20
        ));
        return Ok(());
    }
    budget.left -= size;
    let path: PathBuf = dir.join(name.as_str());
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| e.to_string())?;
    file.write_all(&head).await.map_err(|e| e.to_string())?;
    if size > head.len() as u64 {
        let mut rest = get(ctx, artifact, format!("bytes={}-", head.len())).await?;
        tokio::io::copy(&mut rest, &mut file)
            .await
            .map_err(|e| format!("artifact {}: {e}", artifact.name))?;
    }
    file.flush().await.map_err(|e| e.to_string())
}

/// A byte range of an artifact, as a stream.
async fn get(
    ctx: &Context,
    artifact: &Artifact,
    range: String,
) -> Result<impl tokio::io::AsyncRead + Unpin, String> {
    let object = ctx
        .s3
        .get_object()
        .bucket(&ctx.settings.common.s3.bucket)
        .key(&artifact.s3_key)
        .range(range)
        .send()
        .await
        .map_err(|e| format!("artifact {}: {}", artifact.name, sage_infra::error_text(&e)))?;
    Ok(object.body.into_async_read())
}

/// What the request asks of the report.
struct Asked {
    title: String,
    lang: Lang,
    /// Only these tools' findings; `None`: every tool found.
    tools: Option<BTreeSet<Tool>>,
    caps: Caps,
    compliance: Option<Compliance>,
    /// The risks accepted over the report's tools.
    accepted_risks: Vec<AcceptedRisk>,
    /// Where every finding counted is written, a JSON line each (for the pack).
    findings_file: Option<PathBuf>,
    /// The previous report of the same scope, and what changed since.
    previous: Option<Previous>,
    /// Failing findings of the report's tools week by week.
    trend: Vec<TrendPoint>,
}

/// Parses, summarises and renders (blocking).
fn assemble(
    inputs: &[Input],
    left_out: Vec<Skipped>,
    asked: &Asked,
    fonts: &FontFiles,
) -> Result<(Value, Vec<u8>), String> {
    let (title, lang, caps) = (asked.title.as_str(), asked.lang, asked.caps);
    let compliance = asked.compliance.as_ref();
    let wanted = |tool: Tool| asked.tools.as_ref().is_none_or(|t| t.contains(&tool));
    let mut summary = Summary::with_max_checks(caps.max_checks);
    let mut findings = CappedFindings::new(caps.per_check, caps.max_checks);
    // Per check of the framework's tool: how its findings fared.
    let mut tallies: BTreeMap<String, CheckTally> = BTreeMap::new();
    let mut lines = match &asked.findings_file {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => None,
    };
    let mut unwritten: Option<String> = None;
    let mut parsed = parse_inputs(inputs, &mut |record| {
        let tool = match &record {
            Record::Finding(f) => f.tool,
            Record::Compliance(c) => c.tool,
        };
        if wanted(tool) {
            summary.add(&record);
            if let Record::Finding(f) = record {
                if let Some(compliance) = compliance {
                    tally(&mut tallies, compliance, &f);
                }
                if let Some(lines) = lines.as_mut()
                    && let Err(error) = write_line(lines, &f)
                {
                    unwritten.get_or_insert(error);
                }
                findings.push(f);
            }
        }
    })
    .map_err(|error| format!("an artifact cannot be read: {error}"))?;
    if let Some(error) = unwritten {
        return Err(format!(
            "the findings were not written for the pack: {error}"
        ));
    }
    if let Some(mut lines) = lines {
        lines.flush().map_err(|e| e.to_string())?;
    }
    parsed.sources.retain(|s| wanted(s.tool));
    if parsed.sources.is_empty() {
        return Err(format!(
            "no scanner output of the requested tools among these executions' artifacts{}",
            match left_out.len() {
                0 => String::new(),
                n => format!(" ({n} files left out: {})", left_out[0].reason),
            }
        ));
    }
    parsed.skipped.extend(left_out);
    let (findings, listing) = findings.finish();
    let assessment =
        compliance.map(|c| Assessment::of(&c.held.name, &c.held.framework, &tallies, &c.evidence));
    let report = Report {
        title: Some(title),
        lang,
        generated_at: chrono::Utc::now(),
        summary: &summary,
        findings: &findings,
        parsed: &parsed,
        listing: &listing,
        assessment: assessment.as_ref(),
        accepted_risks: &asked.accepted_risks,
        previous: asked.previous.as_ref(),
        trend: &asked.trend,
    };
    let pdf = render(&report.blocks(), title, lang.labels().page, fonts)
        .map_err(|e| format!("the PDF cannot be rendered: {e}"))?;
    Ok((report.summary_json(), pdf))
}

fn write_line(out: &mut impl Write, finding: &Finding) -> Result<(), String> {
    serde_json::to_writer(&mut *out, finding).map_err(|e| e.to_string())?;
    out.write_all(b"\n").map_err(|e| e.to_string())
}

/// Counts finding `f` for its check when the framework names its tool's checks.
fn tally(tallies: &mut BTreeMap<String, CheckTally>, compliance: &Compliance, f: &Finding) {
    if f.tool.as_str() != compliance.held.tool.as_str() {
        return;
    }
    let entry = tallies.entry(f.check_id.clone()).or_default();
    match f.status {
        Status::Pass => entry.passed += 1,
        Status::Fail if compliance.accepted.contains(&Identity::of(f).fingerprint()) => {
            entry.accepted += 1;
        }
        Status::Fail => entry.failed += 1,
        _ => {}
    }
}

async fn store(
    ctx: &Context,
    evidence: EvidenceId,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<Artifact, String> {
    let key = format!("evidence/{evidence}/{name}");
    crate::artifacts::put(
        &ctx.s3,
        &ctx.settings.common.s3.bucket,
        key,
        name,
        content_type,
        bytes,
    )
    .await
    .map_err(|e| e.to_string())
}
