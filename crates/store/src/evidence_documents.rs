//! Documents that evidence a framework's requirements, each upload a version of its
//! file name, and the requirements an admin marked not applicable. Every change is
//! audited.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sage_model::UserId;
use sage_model::compliance::{EvidenceDocument, FrameworkName, RequirementEvidence};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

/// A document to keep, already in S3.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub framework: FrameworkName,
    pub requirement: String,
    pub name: String,
    pub description: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub s3_key: String,
}

/// A kept document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: Uuid,
    pub requirement: String,
    pub content_type: String,
    pub s3_key: String,
    pub document: EvidenceDocument,
}

const COLUMNS: &str = "d.id, d.requirement, d.content_type, d.s3_key, d.name, d.version,
    d.description, d.sha256, d.size, u.email, d.uploaded_at";

impl Db {
    /// Keeps an uploaded document as the next version of its file name under its
    /// requirement.
    pub async fn add_document(
        &self,
        new: &NewDocument,
        uploader: UserId,
        context: &AuditContext,
    ) -> Result<Document, StoreError> {
        let id = Uuid::new_v4();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // One version at a time per file name.
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock(hashtext('sage.evidence_documents.' || $1))",
                &[&format!(
                    "{}/{}/{}",
                    new.framework, new.requirement, new.name
                )],
            )
            .await?;
        transaction
            .execute(
                "INSERT INTO evidence_documents (id, framework, requirement, name, version,
                     description, content_type, size, sha256, s3_key, uploaded_by)
                 SELECT $1, $2, $3, $4, coalesce(max(version), 0) + 1, $5, $6, $7, $8, $9, $10
                 FROM evidence_documents WHERE framework = $2 AND requirement = $3 AND name = $4",
                &[
                    &id,
                    &new.framework.as_str(),
                    &new.requirement,
                    &new.name,
                    &new.description,
                    &new.content_type,
                    &new.size,
                    &new.sha256,
                    &new.s3_key,
                    &uploader.as_uuid(),
                ],
            )
            .await?;
        let row = transaction
            .query_one(
                &format!(
                    "SELECT {COLUMNS} FROM evidence_documents d JOIN users u ON u.id = d.uploaded_by
                     WHERE d.id = $1"
                ),
                &[&id],
            )
            .await?;
        let document = document_of(&row);
        let change = Change {
            action: "evidence_document.upload",
            target_type: "evidence_document",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({
                "framework": new.framework, "requirement": new.requirement,
                "name": new.name, "version": document.document.version,
                "description": new.description, "sha256": new.sha256, "size": new.size,
            })),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(document)
    }

    /// Every version of every document of a requirement, newest first.
    pub async fn documents(
        &self,
        framework: &FrameworkName,
        requirement: &str,
    ) -> Result<Vec<Document>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM evidence_documents d JOIN users u ON u.id = d.uploaded_by
                     WHERE d.framework = $1 AND d.requirement = $2
                     ORDER BY d.uploaded_at DESC, d.version DESC"
                ),
                &[&framework.as_str(), &requirement],
            )
            .await?;
        Ok(rows.iter().map(document_of).collect())
    }

    /// Marks a requirement not applicable, with the reason (an admin's call), or clears
    /// the mark (`reason` `None`).
    pub async fn mark_not_applicable(
        &self,
        framework: &FrameworkName,
        requirement: &str,
        reason: Option<&str>,
        by: UserId,
        context: &AuditContext,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let before: Option<String> = transaction
            .query_opt(
                "DELETE FROM requirement_exclusions WHERE framework = $1 AND requirement = $2
                 RETURNING reason",
                &[&framework.as_str(), &requirement],
            )
            .await?
            .map(|row| row.get(0));
        if let Some(reason) = reason {
            transaction
                .execute(
                    "INSERT INTO requirement_exclusions (framework, requirement, reason, marked_by)
                     VALUES ($1, $2, $3, $4)",
                    &[&framework.as_str(), &requirement, &reason, &by.as_uuid()],
                )
                .await?;
        }
        let change = Change {
            action: if reason.is_some() {
                "requirement.not_applicable"
            } else {
                "requirement.applicable"
            },
            target_type: "requirement",
            target_id: format!("{framework}/{requirement}"),
            before: before.map(|reason| json!({"not_applicable": reason})),
            after: reason.map(|reason| json!({"not_applicable": reason})),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// What people added to each requirement of `framework`: the latest version of each
    /// document, and the exclusions.
    pub async fn requirement_evidence(
        &self,
        framework: &FrameworkName,
    ) -> Result<BTreeMap<String, RequirementEvidence>, StoreError> {
        let client = self.client().await?;
        let mut evidence: BTreeMap<String, RequirementEvidence> = BTreeMap::new();
        let rows = client
            .query(
                &format!(
                    "SELECT DISTINCT ON (d.requirement, d.name) {COLUMNS}
                     FROM evidence_documents d JOIN users u ON u.id = d.uploaded_by
                     WHERE d.framework = $1
                     ORDER BY d.requirement, d.name, d.version DESC"
                ),
                &[&framework.as_str()],
            )
            .await?;
        for row in &rows {
            let document = document_of(row);
            evidence
                .entry(document.requirement)
                .or_default()
                .documents
                .push(document.document);
        }
        let rows = client
            .query(
                "SELECT requirement, reason FROM requirement_exclusions WHERE framework = $1",
                &[&framework.as_str()],
            )
            .await?;
        for row in &rows {
            evidence.entry(row.get(0)).or_default().not_applicable = Some(row.get(1));
        }
        Ok(evidence)
    }
}

fn document_of(row: &tokio_postgres::Row) -> Document {
    Document {
        id: row.get(0),
        requirement: row.get(1),
        content_type: row.get(2),
        s3_key: row.get(3),
        document: EvidenceDocument {
            name: row.get(4),
            version: row.get(5),
            description: row.get(6),
            sha256: row.get(7),
            size: row.get(8),
            uploaded_by: row.get(9),
            uploaded_at: row.get::<_, DateTime<Utc>>(10),
        },
    }
}
