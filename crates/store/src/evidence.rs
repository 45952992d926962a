//! Evidence records: who built a report from which executions, its summary, and its
//! files in S3.

use chrono::{DateTime, Utc};
use sage_model::{ExecutionId, UserId};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::artifacts::Artifact;
use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

/// A report about to be recorded; its files are already in S3.
#[derive(Debug, Clone)]
pub struct NewEvidence {
    pub id: Uuid,
    pub title: String,
    pub lang: String,
    pub execution_ids: Vec<ExecutionId>,
    pub summary: Value,
    pub created_by: UserId,
    pub files: Vec<Artifact>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub id: Uuid,
    pub title: String,
    pub lang: String,
    pub execution_ids: Vec<ExecutionId>,
    pub summary: Value,
    /// The creator's email.
    pub created_by: String,
    pub created_by_id: UserId,
    pub created_at: DateTime<Utc>,
    pub files: Vec<Artifact>,
}

impl Db {
    /// Records the report, its files and its audit event in one transaction.
    #[tracing::instrument(skip_all, fields(evidence_id = %new.id))]
    pub async fn record_evidence(
        &self,
        new: &NewEvidence,
        context: &AuditContext,
    ) -> Result<Evidence, StoreError> {
        let execution_ids: Vec<Uuid> = new.execution_ids.iter().map(ExecutionId::as_uuid).collect();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "INSERT INTO evidence (id, title, lang, execution_ids, summary, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &new.id,
                    &new.title,
                    &new.lang,
                    &execution_ids,
                    &new.summary,
                    &new.created_by.as_uuid(),
                ],
            )
            .await?;
        for file in &new.files {
            transaction
                .execute(
                    "INSERT INTO evidence_files (evidence_id, name, size, sha256, content_type, s3_key)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&new.id, &file.name, &file.size, &file.sha256, &file.content_type, &file.s3_key],
                )
                .await?;
        }
        let change = Change {
            action: "evidence.create",
            target_type: "evidence",
            target_id: new.id.to_string(),
            before: None,
            after: Some(json!({
                "title": new.title, "lang": new.lang, "execution_ids": new.execution_ids,
                "total": new.summary.get("total"),
                "files": new.files.iter().map(|f| json!({"name": f.name, "sha256": f.sha256})).collect::<Vec<_>>(),
            })),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        self.evidence(new.id)
            .await?
            .ok_or(StoreError::Corrupt("evidence just recorded"))
    }

    #[tracing::instrument(skip(self))]
    pub async fn evidence(&self, id: Uuid) -> Result<Option<Evidence>, StoreError> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                "SELECT e.id, e.title, e.lang, e.execution_ids, e.summary, u.email, e.created_at,
                        e.created_by
                 FROM evidence e JOIN users u ON u.id = e.created_by WHERE e.id = $1",
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        let files = client
            .query(
                "SELECT name, size, sha256, content_type, s3_key
                 FROM evidence_files WHERE evidence_id = $1 ORDER BY name",
                &[&id],
            )
            .await?
            .iter()
            .map(|f| Artifact {
                name: f.get(0),
                size: f.get(1),
                sha256: f.get(2),
                content_type: f.get(3),
                s3_key: f.get(4),
                created_at: row.get(6),
            })
            .collect();
        Ok(Some(Evidence {
            id: row.get(0),
            title: row.get(1),
            lang: row.get(2),
            execution_ids: row
                .get::<_, Vec<Uuid>>(3)
                .into_iter()
                .map(ExecutionId::from)
                .collect(),
            summary: row.get(4),
            created_by: row.get(5),
            created_by_id: UserId::from(row.get::<_, Uuid>(7)),
            created_at: row.get(6),
            files,
        }))
    }
}
