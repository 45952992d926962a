//! Artifacts downloaded from their presigned URLs into a directory, each checked
//! against the sha256 the api recorded before it is kept; a name that would leave the
//! directory is refused.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api;
use crate::client::{Client, ClientError};

pub struct Saved {
    pub path: PathBuf,
    pub size: usize,
}

pub async fn get(
    client: &Client,
    run: Uuid,
    name: Option<&str>,
    dir: &Path,
) -> Result<Vec<Saved>, ClientError> {
    let chosen: Vec<_> = client
        .artifacts(run)
        .await?
        .into_iter()
        .filter(|a| name.is_none_or(|n| a.name == n))
        .collect();
    if chosen.is_empty() {
        return Err(ClientError::Refused {
            status: reqwest::StatusCode::NOT_FOUND,
            message: match name {
                Some(name) => format!("run {run} has no artifact {name:?}"),
                None => format!("run {run} has no artifacts"),
            },
            fields: Vec::new(),
        });
    }
    let mut saved = Vec::with_capacity(chosen.len());
    for artifact in chosen {
        let relative = Path::new(&artifact.name);
        let inside = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(ClientError::Unreadable(format!(
                "an artifact named {:?} would be written outside {}",
                artifact.name,
                dir.display()
            )));
        }
        let path = dir.join(relative);
        let size = save(client, &artifact, &path).await?;
        saved.push(Saved { path, size });
    }
    Ok(saved)
}

/// Downloads `artifact` and writes it to `path` once its sha256 is the recorded one
/// (a mismatch writes nothing); its size.
pub async fn save(
    client: &Client,
    artifact: &api::ArtifactView,
    path: &Path,
) -> Result<usize, ClientError> {
    let bytes = client.download(&artifact.url).await?;
    let digest = crate::hex(&Sha256::digest(&bytes));
    if digest != artifact.sha256 {
        return Err(ClientError::Unreadable(format!(
            "{}: sha256 {digest} is not the recorded {}; nothing kept",
            artifact.name, artifact.sha256
        )));
    }
    let written = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => std::fs::create_dir_all(parent).and_then(|()| std::fs::write(path, &bytes)),
        None => std::fs::write(path, &bytes),
    };
    written.map_err(|e| ClientError::Unreadable(format!("{}: {e}", path.display())))?;
    Ok(bytes.len())
}
