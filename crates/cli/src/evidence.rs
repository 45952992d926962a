//! Evidence reports: asked for, waited on, their PDF and signed pack downloaded (each
//! checked against its sha256), and a pack verified on this machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use uuid::Uuid;

use crate::api;
use crate::artifacts;
use crate::client::{Client, ClientError};

/// Where a finished report's files go.
pub struct Downloads {
    pub pdf: Option<PathBuf>,
    pub pack: Option<PathBuf>,
}

/// Polls report `id` until it is `ready` or `failed`, saying on stderr when its
/// status changes; gives up after `within`.
pub async fn wait(
    client: &Client,
    id: Uuid,
    within: Duration,
) -> Result<api::EvidenceView, ClientError> {
    let deadline = tokio::time::Instant::now() + within;
    let mut said = String::new();
    loop {
        let report = client.evidence(id).await?;
        if report.status != said {
            eprintln!("sage: report {id} is {}", report.status);
            said.clone_from(&report.status);
        }
        if matches!(report.status.as_str(), "ready" | "failed") {
            return Ok(report);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ClientError::Unreadable(format!(
                "report {id} is still {} after {} s; `sage evidence show {id}` follows it",
                report.status,
                within.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Saves a ready report's PDF and pack where asked.
pub async fn download(
    client: &Client,
    report: &api::EvidenceView,
    to: &Downloads,
) -> Result<(), ClientError> {
    if let Some(path) = &to.pdf {
        let pdf = report
            .pdf
            .as_ref()
            .ok_or_else(|| ClientError::Unreadable(format!("report {} has no PDF", report.id)))?;
        // The link in the report's record may have expired while it was built.
        let fresh = client
            .evidence(report.id)
            .await?
            .pdf
            .unwrap_or_else(|| pdf.clone());
        saved(path, artifacts::save(client, &fresh, path).await?);
    }
    if let Some(path) = &to.pack {
        let pack = client.evidence_pack(report.id).await?;
        saved(path, artifacts::save(client, &pack, path).await?);
    }
    Ok(())
}

fn saved(path: &Path, size: usize) {
    eprintln!("sage: {} ({size} bytes, sha256 checked)", path.display());
}

/// How a pack verified.
pub struct Verified {
    pub key_id: String,
    /// Where the key came from: a file, or the api.
    pub key_from: String,
    /// Each thing that does not hold; none when the pack verifies.
    pub problems: Vec<String>,
}

/// Checks `pack` with the key in `key_file`, else with the key the api serves under
/// the id the pack's manifest names.
pub async fn verify(
    client: &Client,
    pack: &Path,
    key_file: Option<&Path>,
) -> Result<Verified, ClientError> {
    let unreadable =
        |what: &Path, e: String| ClientError::Unreadable(format!("{}: {e}", what.display()));
    let bytes = std::fs::read(pack).map_err(|e| unreadable(pack, e.to_string()))?;
    let (key_text, key_from) = match key_file {
        Some(file) => (
            std::fs::read_to_string(file).map_err(|e| unreadable(file, e.to_string()))?,
            file.display().to_string(),
        ),
        None => {
            eprintln!(
                "sage: the key comes from {}, which also served the pack; for a check independent of it, pass --public-key with a key kept apart",
                client.base()
            );
            let manifest = sage_findings::pack::manifest(std::io::Cursor::new(&bytes))
                .map_err(|e| unreadable(pack, e))?;
            let key = client.evidence_key(Some(&manifest.key_id)).await?;
            (key.to_string(), client.base().to_owned())
        }
    };
    let key = sage_findings::pack::PublicKey::from_json(&key_text)
        .map_err(|e| ClientError::Unreadable(format!("the public key from {key_from}: {e}")))?;
    let problems = sage_findings::pack::verify(std::io::Cursor::new(&bytes), &key)
        .map_err(|e| unreadable(pack, e))?;
    Ok(Verified {
        key_id: key.id(),
        key_from,
        problems,
    })
}
