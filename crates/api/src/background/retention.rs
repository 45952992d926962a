//! The retention purge: every replica runs it on a timer; runs past their retention
//! lose their artifacts in S3 first, then, in one transaction per batch, their logs,
//! artifact records and finding history (the store audits each batch with its counts).
//! A replica that loses a race finds the runs purged already and does nothing.

use std::time::Duration;

use sage_store::Db;
use sage_store::audit::AuditContext;
use sage_store::retention::Purged;
use tokio_util::sync::CancellationToken;

use crate::state::ArtifactLinks;

/// Runs per batch: one transaction, one audit event.
const BATCH: i64 = 100;
/// Batches per round, so one round cannot hold the database for long.
const ROUNDS: usize = 50;

#[derive(Debug, Clone, Copy)]
pub struct RetentionSettings {
    /// Days runs keep their logs, artifacts and finding history, unless their module
    /// says otherwise.
    pub default_days: i32,
    /// How often the purge looks.
    pub every: Duration,
}

impl RetentionSettings {
    pub fn from_env(env: &mut sage_infra::config::Env) -> Option<Self> {
        let default_days = env.number("RETENTION_DAYS", 365i32, 1, 36_500);
        let every = env.seconds("RETENTION_PURGE_EVERY_SEC", 3600, 10, 86_400);
        Some(Self {
            default_days: default_days?,
            every: every?,
        })
    }
}

/// One round: batches until nothing is past its retention (or `ROUNDS` batches), then
/// the notification messages older than the default. Returns what it removed.
pub async fn purge_once(
    db: &Db,
    artifacts: &ArtifactLinks,
    settings: RetentionSettings,
) -> anyhow::Result<Purged> {
    let context = AuditContext::system();
    let mut total = Purged::default();
    for _ in 0..ROUNDS {
        let expired = db.expired_runs(settings.default_days, BATCH).await?;
        if expired.is_empty() {
            break;
        }
        // Objects first: a run whose records are gone must not leave objects nobody
        // can find. An object already gone is no error (a replica took it).
        for key in expired.iter().flat_map(|run| &run.keys) {
            artifacts
                .s3
                .delete_object()
                .bucket(&artifacts.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("deleting {key}: {}", sage_infra::error_text(&e)))?;
        }
        let ids: Vec<uuid::Uuid> = expired.iter().map(|run| run.execution_id).collect();
        total += db.purge_runs(&ids, &context).await?;
        if expired.len() < BATCH as usize {
            break;
        }
    }
    db.purge_old_messages(settings.default_days, &context)
        .await?;
    Ok(total)
}

pub async fn purge_until_stopped(
    db: Db,
    artifacts: ArtifactLinks,
    settings: RetentionSettings,
    shutdown: CancellationToken,
) {
    loop {
        match purge_once(&db, &artifacts, settings).await {
            Ok(purged) if purged.runs > 0 => {
                tracing::info!(
                    runs = purged.runs,
                    artifacts = purged.artifacts,
                    bytes = purged.artifact_bytes,
                    findings = purged.findings,
                    "retention purge"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "retention purge failed; trying again later"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(settings.every) => {}
        }
    }
}
