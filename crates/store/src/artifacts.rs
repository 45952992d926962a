//! Artifacts: recorded by the worker once uploaded, listed by the api.

use chrono::{DateTime, Utc};
use sage_model::ExecutionId;

use crate::{Db, StoreError};

/// One uploaded file of an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Its path below `/work/out`.
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    pub s3_key: String,
    pub created_at: DateTime<Utc>,
}

impl Db {
    /// Records uploaded files; one recorded twice (a retried run) keeps its first row.
    pub async fn record_artifacts(
        &self,
        execution_id: ExecutionId,
        artifacts: &[Artifact],
    ) -> Result<(), StoreError> {
        let column =
            |field: fn(&Artifact) -> &str| -> Vec<&str> { artifacts.iter().map(field).collect() };
        let names = column(|a| a.name.as_str());
        let sizes: Vec<i64> = artifacts.iter().map(|a| a.size).collect();
        let digests = column(|a| a.sha256.as_str());
        let types = column(|a| a.content_type.as_str());
        let keys = column(|a| a.s3_key.as_str());
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO execution_artifacts (execution_id, name, size, sha256, content_type, s3_key)
                 SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
                 ON CONFLICT DO NOTHING",
                &[&execution_id.as_uuid(), &names, &sizes, &digests, &types, &keys],
            )
            .await?;
        Ok(())
    }

    /// An execution's artifacts, by name.
    pub async fn artifacts(&self, execution_id: ExecutionId) -> Result<Vec<Artifact>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT name, size, sha256, content_type, s3_key, created_at
                 FROM execution_artifacts WHERE execution_id = $1 ORDER BY name",
                &[&execution_id.as_uuid()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| Artifact {
                name: row.get(0),
                size: row.get(1),
                sha256: row.get(2),
                content_type: row.get(3),
                s3_key: row.get(4),
                created_at: row.get(5),
            })
            .collect())
    }
}
