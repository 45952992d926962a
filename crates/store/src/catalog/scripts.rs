use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_postgres::Row;
use uuid::Uuid;

use super::Page;
use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError, unique_violation};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Script {
    pub id: Uuid,
    pub path: String,
    pub interpreter: String,
    pub sha256: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl Script {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get(0),
            path: row.get(1),
            interpreter: row.get(2),
            sha256: row.get(3),
            description: row.get(4),
            created_at: row.get(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewScript {
    pub path: String,
    pub interpreter: String,
    pub sha256: String,
    pub description: String,
    pub created_by: Uuid,
}

impl Db {
    #[tracing::instrument(skip_all, fields(path = %new.path))]
    pub async fn create_script(
        &self,
        new: &NewScript,
        context: &AuditContext,
    ) -> Result<Script, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let statement = transaction
            .prepare_cached(
                "INSERT INTO scripts (id, path, interpreter, sha256, description, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 RETURNING id, path, interpreter, sha256, description, created_at",
            )
            .await?;
        let row = transaction
            .query_one(
                &statement,
                &[
                    &Uuid::new_v4(),
                    &new.path,
                    &new.interpreter,
                    &new.sha256,
                    &new.description,
                    &new.created_by,
                ],
            )
            .await
            .map_err(|e| unique_violation(e, "a script with this path is already registered"))?;
        let script = Script::from_row(&row);
        let change = Change {
            action: "script.create",
            target_type: "script",
            target_id: script.id.to_string(),
            before: None,
            after: Some(json!(script)),
        };
        append(&transaction, context, &change).await?;
        transaction.commit().await?;
        Ok(script)
    }

    #[tracing::instrument(skip(self))]
    pub async fn script(&self, id: Uuid) -> Result<Option<Script>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, path, interpreter, sha256, description, created_at FROM scripts WHERE id = $1",
            )
            .await?;
        Ok(client
            .query_opt(&statement, &[&id])
            .await?
            .as_ref()
            .map(Script::from_row))
    }

    /// Scripts ordered by path, after `cursor` (a path).
    #[tracing::instrument(skip(self))]
    pub async fn scripts(
        &self,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Page<Script>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, path, interpreter, sha256, description, created_at FROM scripts
                 WHERE ($1::text IS NULL OR path > $1) ORDER BY path LIMIT $2",
            )
            .await?;
        let rows = client.query(&statement, &[&cursor, &(limit + 1)]).await?;
        let items = rows.iter().map(Script::from_row).collect();
        Ok(Page::from_rows(items, limit, |s: &Script| s.path.clone()))
    }
}
