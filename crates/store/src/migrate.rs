//! Migrations: the SQL files of `migrations/`, applied in order, each once, under an
//! advisory lock so replicas starting together do not race.

use sha2::{Digest, Sha256};

use crate::{Db, StoreError};

pub struct Migration {
    pub version: &'static str,
    pub sql: &'static str,
}

/// A migration named by its file, so the name and the SQL cannot disagree.
macro_rules! migration {
    ($version:literal) => {
        Migration {
            version: $version,
            sql: include_str!(concat!("../../../migrations/", $version, ".sql")),
        }
    };
}

/// Every file of `migrations/`, in order (a test checks the folder and this list agree).
pub const MIGRATIONS: &[Migration] = &[
    migration!("0001_users"),
    migration!("0002_catalog_and_audit"),
    migration!("0003_executions"),
    migration!("0004_execution_logs"),
    migration!("0005_execution_artifacts"),
    migration!("0006_approvals"),
    migration!("0007_approval_notices"),
    migration!("0008_evidence"),
    migration!("0009_version_retirements"),
    migration!("0010_user_identity"),
    migration!("0011_keyed_audit_chain"),
    migration!("0012_sage_log_stream"),
    migration!("0013_explicit_arg_groups"),
    migration!("0014_tools"),
    migration!("0015_evidence_jobs"),
    migration!("0016_log_chunks"),
    migration!("0017_job_outbox_signal"),
    migration!("0018_executions_by_time"),
    migration!("0019_job_outbox_age"),
    migration!("0020_job_outbox_trace"),
    migration!("0021_tool_names"),
    migration!("0022_evidence_attempts"),
    migration!("0023_finding_states"),
    migration!("0024_findings_at_scale"),
    migration!("0025_compliance_frameworks"),
    migration!("0026_finding_diffs"),
    migration!("0027_risk_acceptances"),
    migration!("0028_evidence_compliance"),
    migration!("0029_evidence_listing"),
    migration!("0030_evidence_documents"),
    migration!("0031_evidence_signing_keys"),
    migration!("0032_cloud_accounts"),
    migration!("0033_scans"),
    migration!("0034_schedules"),
    migration!("0035_schedule_approvals"),
    migration!("0036_scan_schedules"),
    migration!("0037_scan_regions"),
    migration!("0038_notifications"),
    migration!("0039_retention"),
    migration!("0040_scan_retries"),
    migration!("0041_scan_account_concurrency"),
    migration!("0042_fair_queue"),
    migration!("0043_outbox_by_run"),
];

/// An arbitrary constant that names our lock among other users of advisory locks.
const MIGRATION_LOCK: i64 = 0x5a6e_7275_6e6e_6572;

/// Applies what is missing; returns the versions it applied. Running it again applies
/// nothing; a migration edited after it was applied is refused.
#[tracing::instrument(skip_all)]
pub async fn migrate(db: &Db) -> Result<Vec<&'static str>, StoreError> {
    let mut client = db.client().await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let outcome = apply_missing(&mut client).await;
    // Unlock even when a migration failed, or the next replica would wait forever.
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    outcome
}

async fn apply_missing(
    client: &mut deadpool_postgres::Object,
) -> Result<Vec<&'static str>, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    text PRIMARY KEY,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        let checksum = sage_model::hex(&Sha256::digest(migration.sql.as_bytes()));
        let row = client
            .query_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[&migration.version],
            )
            .await?;
        if let Some(row) = row {
            let found: String = row.get(0);
            if found != checksum {
                return Err(StoreError::MigrationChanged {
                    version: migration.version.to_owned(),
                    expected: found,
                    found: checksum,
                });
            }
            continue;
        }
        let transaction = client.transaction().await?;
        transaction.batch_execute(migration.sql).await?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                &[&migration.version, &checksum],
            )
            .await?;
        transaction.commit().await?;
        tracing::info!(version = migration.version, "applied migration");
        applied.push(migration.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_folder_is_listed_in_order() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.version))
            .collect();
        assert_eq!(files, listed);
    }
}
