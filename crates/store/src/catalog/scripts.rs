use chrono::{DateTime, Utc};
use sage_model::catalog::script::{Interpreter, ScriptPath};
use sage_model::{ScriptId, UserId};
use serde_json::json;
use tokio_postgres::Row;
use uuid::Uuid;

use super::Page;
use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError, unique_violation};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub id: ScriptId,
    pub path: ScriptPath,
    pub interpreter: Interpreter,
    pub sha256: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl Script {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let (path, interpreter) = script_ref(row.get(1), row.get(2))?;
        Ok(Self {
            id: ScriptId::from(row.get::<_, Uuid>(0)),
            path,
            interpreter,
            sha256: row.get(3),
            description: row.get(4),
            created_at: row.get(5),
        })
    }
}

/// A stored script's path and interpreter, checked again as they are read.
pub(crate) fn script_ref(
    path: &str,
    interpreter: &str,
) -> Result<(ScriptPath, Interpreter), StoreError> {
    Ok((
        ScriptPath::parse(path).map_err(|_| StoreError::Corrupt("script path"))?,
        interpreter
            .parse()
            .map_err(|_| StoreError::Corrupt("script interpreter"))?,
    ))
}

#[derive(Debug, Clone)]
pub struct NewScript {
    pub path: ScriptPath,
    pub interpreter: Interpreter,
    pub sha256: String,
    pub description: String,
    pub created_by: UserId,
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
        let script = insert_script(&transaction, &self.audit_key, new, context).await?;
        transaction.commit().await?;
        Ok(script)
    }

    #[tracing::instrument(skip(self))]
    pub async fn script(&self, id: ScriptId) -> Result<Option<Script>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, path, interpreter, sha256, description, created_at FROM scripts WHERE id = $1",
            )
            .await?;
        client
            .query_opt(&statement, &[&id.as_uuid()])
            .await?
            .as_ref()
            .map(Script::from_row)
            .transpose()
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
        let items = rows
            .iter()
            .map(Script::from_row)
            .collect::<Result<_, _>>()?;
        Ok(Page::from_rows(items, limit, |s: &Script| {
            s.path.to_string()
        }))
    }
}

/// Registers a script inside the caller's transaction, audited.
pub(crate) async fn insert_script(
    transaction: &deadpool_postgres::Transaction<'_>,
    audit_key: &crate::audit::AuditKey,
    new: &NewScript,
    context: &AuditContext,
) -> Result<Script, StoreError> {
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
                &new.path.as_str(),
                &new.interpreter.as_str(),
                &new.sha256,
                &new.description,
                &new.created_by.as_uuid(),
            ],
        )
        .await
        .map_err(|e| unique_violation(e, "a script with this path is already registered"))?;
    let script = Script::from_row(&row)?;
    let change = Change {
        action: "script.create",
        target_type: "script",
        target_id: script.id.to_string(),
        before: None,
        after: Some(json!({
            "id": script.id, "path": script.path, "interpreter": script.interpreter,
            "sha256": script.sha256, "description": script.description,
            "created_at": script.created_at,
        })),
    };
    append(transaction, audit_key, context, &change).await?;
    Ok(script)
}
