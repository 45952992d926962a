//! Building an evidence report over executions: their artifacts are fetched from S3 into
//! a private folder, every scanner output among them is parsed, and the PDF and JSON
//! summary are stored in S3 and recorded with the report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use aws_sdk_s3::primitives::ByteStream;
use sage_findings::parse::{Input, Record, parse_inputs};
use sage_findings::report::{Evidence, FontFiles, Lang, render};
use sage_findings::summary::Summary;
use sage_findings::{Finding, ParseError, Tool};
use sage_model::artifacts::ArtifactName;
use sage_model::{ExecutionId, UserId};
use sage_store::artifacts::Artifact;
use sage_store::evidence::NewEvidence;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::error::{ApiError, FieldProblem};
use crate::state::AppState;

/// A checked request.
pub struct Order {
    pub execution_ids: Vec<ExecutionId>,
    pub title: Option<String>,
    pub lang: Lang,
    /// Only these tools' findings; `None`: every tool found.
    pub tools: Option<BTreeSet<Tool>>,
}

/// What the report was made of, and the report.
struct Built {
    summary: serde_json::Value,
    pdf: Vec<u8>,
    title: String,
}

/// Fetches, parses, renders, stores and records; the caller has checked that the
/// executions exist, are visible to them and have ended.
pub async fn create(
    state: &AppState,
    order: Order,
    created_by: UserId,
    audit: &sage_store::audit::AuditContext,
) -> Result<sage_store::evidence::Evidence, ApiError> {
    let folder = tempfile::tempdir()
        .context("a folder for the artifacts")
        .map_err(ApiError::internal)?;
    let mut inputs = Vec::new();
    for id in &order.execution_ids {
        let dir = folder.path().join(id.to_string());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(ApiError::internal)?;
        for artifact in state.db.artifacts(*id).await? {
            fetch(state, &artifact, &dir).await?;
        }
        inputs.push(Input {
            path: dir,
            label: String::new(),
            run: Some(id.to_string()),
        });
    }
    let (execution_ids, lang) = (order.execution_ids.clone(), order.lang);
    let fonts = state.evidence_fonts.clone();
    let built = tokio::task::spawn_blocking(move || build(&inputs, &order, &fonts))
        .await
        .map_err(ApiError::internal)??;
    drop(folder);

    let id = Uuid::new_v4();
    let summary_bytes = serde_json::to_vec_pretty(&built.summary).map_err(ApiError::internal)?;
    let files = vec![
        store(state, id, "report.pdf", "application/pdf", built.pdf).await?,
        store(state, id, "summary.json", "application/json", summary_bytes).await?,
    ];
    let new = NewEvidence {
        id,
        title: built.title,
        lang: lang.as_str().to_owned(),
        execution_ids,
        summary: built.summary,
        created_by,
        files,
    };
    Ok(state.db.record_evidence(&new, audit).await?)
}

/// Copies one artifact from S3 to `<dir>/<name>`.
async fn fetch(state: &AppState, artifact: &Artifact, dir: &Path) -> Result<(), ApiError> {
    // Names were checked when stored; checked again because they become paths here.
    let name = ArtifactName::parse(&artifact.name)
        .map_err(|why| ApiError::internal(anyhow::anyhow!("stored artifact name {why}")))?;
    let path: PathBuf = dir.join(name.as_str());
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(ApiError::internal)?;
    }
    let object = state
        .s3
        .get_object()
        .bucket(&state.bucket)
        .key(&artifact.s3_key)
        .send()
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!(sage_infra::error_text(&e))))?;
    let mut body = object.body.into_async_read();
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(ApiError::internal)?;
    tokio::io::copy(&mut body, &mut file)
        .await
        .map_err(ApiError::internal)?;
    file.flush().await.map_err(ApiError::internal)?;
    Ok(())
}

fn build(inputs: &[Input], order: &Order, fonts: &FontFiles) -> Result<Built, ApiError> {
    let wanted = |tool: Tool| order.tools.as_ref().is_none_or(|t| t.contains(&tool));
    let mut summary = Summary::default();
    let mut findings: Vec<Finding> = Vec::new();
    let mut parsed = parse_inputs(inputs, &mut |record| {
        let tool = match &record {
            Record::Finding(f) => f.tool,
            Record::Compliance(c) => c.tool,
        };
        if wanted(tool) {
            summary.add(&record);
            if let Record::Finding(f) = record {
                findings.push(f);
            }
        }
    })
    .map_err(unreadable)?;
    parsed.sources.retain(|s| wanted(s.tool));
    if parsed.sources.is_empty() {
        return Err(ApiError::invalid(vec![FieldProblem::new(
            "execution_ids",
            "no scanner output of the requested tools among these executions' artifacts",
        )]));
    }
    let evidence = Evidence {
        title: order.title.as_deref(),
        lang: order.lang,
        generated_at: chrono::Utc::now(),
        summary: &summary,
        findings: &findings,
        parsed: &parsed,
    };
    let title = evidence.title();
    let pdf = render(&evidence.blocks(), &title, order.lang.labels().page, fonts)
        .map_err(ApiError::internal)?;
    Ok(Built {
        summary: evidence.summary_json(),
        pdf,
        title,
    })
}

/// A scanner output that cannot be read is the data's fault, not the server's: the
/// message names the run, file and position.
fn unreadable(error: ParseError) -> ApiError {
    ApiError::invalid(vec![FieldProblem::new(
        "execution_ids",
        format!("an artifact cannot be read: {error}"),
    )])
}

async fn store(
    state: &AppState,
    evidence: Uuid,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<Artifact, ApiError> {
    let key = format!("evidence/{evidence}/{name}");
    let sha256 = sage_model::hex(&Sha256::digest(&bytes));
    let size = i64::try_from(bytes.len()).map_err(ApiError::internal)?;
    state
        .s3
        .put_object()
        .bucket(&state.bucket)
        .key(&key)
        .content_type(content_type)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!(sage_infra::error_text(&e))))?;
    Ok(Artifact {
        name: name.to_owned(),
        size,
        sha256,
        content_type: content_type.to_owned(),
        s3_key: key,
        created_at: chrono::Utc::now(),
    })
}
