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
        if !plain(relative) {
            return Err(ClientError::Unreadable(format!(
                "an artifact named {:?} is refused: it would be written outside {} or under a hidden name",
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

/// Inside the directory it is joined to, and no hidden name (`.git/hooks/…`, `.bashrc`)
/// through which a run could plant something another program runs.
fn plain(name: &Path) -> bool {
    name.components().all(|c| match c {
        Component::Normal(part) => !part.to_string_lossy().starts_with('.'),
        _ => false,
    })
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
    write_new(path, &bytes)
        .map_err(|e| ClientError::Unreadable(format!("{}: {e}", path.display())))?;
    Ok(bytes.len())
}

/// Writes `bytes` to `path` whole or not at all: a new file of a random name beside it,
/// created exclusively, renamed over whatever the path held (a link there is replaced,
/// never followed).
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let mut fresh = tempfile::Builder::new()
        .prefix(".sage-")
        .tempfile_in(parent)?;
    std::io::Write::write_all(&mut fresh, bytes)?;
    fresh.persist(path).map(drop).map_err(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artifact_keeps_inside_its_folder_under_a_visible_name() {
        for good in ["backup.log", "scoutsuite-results/report.js", "a..b/c"] {
            assert!(plain(Path::new(good)), "{good}");
        }
        for bad in [
            "../x",
            "/etc/passwd",
            ".bashrc",
            "out/.git/hooks/post-checkout",
            "./x",
            "",
        ] {
            assert!(!plain(Path::new(bad)) || bad.is_empty(), "{bad}");
        }
    }
}
