use chrono::{DateTime, Utc};
use sage_model::catalog::module::ModuleDefinition;
use sage_model::names::ModuleName;
use sage_model::{ModuleId, UserId};
use serde_json::{Value, json};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::Page;
use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError, unique_violation};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub id: ModuleId,
    pub name: String,
    pub latest_version: i32,
    pub created_at: DateTime<Utc>,
    /// Days its runs keep their logs, artifacts and finding history; `None`: the
    /// deployment's default.
    pub retention_days: Option<i32>,
}

impl Module {
    fn from_row(row: &Row) -> Self {
        Self {
            id: ModuleId::from(row.get::<_, Uuid>(0)),
            name: row.get(1),
            latest_version: row.get(2),
            created_at: row.get(3),
            retention_days: row.get(4),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleVersion {
    pub module_id: ModuleId,
    pub version: i32,
    pub definition: ModuleDefinition,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    /// When it stopped taking new runs.
    pub retired_at: Option<DateTime<Utc>>,
}

/// The column list of every version read, in the order `from_row` expects.
macro_rules! version_select {
    () => {
        "SELECT v.module_id, v.version, v.definition, v.created_by, v.created_at, r.retired_at
         FROM module_versions v
         LEFT JOIN module_version_retirements r
           ON r.module_id = v.module_id AND r.version = v.version "
    };
}

impl ModuleVersion {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        Ok(Self {
            module_id: ModuleId::from(row.get::<_, Uuid>(0)),
            version: row.get(1),
            definition: read_definition(row.get(2))?,
            created_by: UserId::from(row.get::<_, Uuid>(3)),
            created_at: row.get(4),
            retired_at: row.get(5),
        })
    }
}

/// A stored definition, read back through its checks.
pub(crate) fn read_definition(stored: Value) -> Result<ModuleDefinition, StoreError> {
    serde_json::from_value(stored).map_err(|error| {
        tracing::error!(%error, "a stored module version does not read back");
        StoreError::Corrupt("module definition")
    })
}

/// A checked definition to store as a module's next version.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub definition: ModuleDefinition,
    pub created_by: UserId,
}

pub(crate) async fn insert_version(
    transaction: &deadpool_postgres::Transaction<'_>,
    module_id: ModuleId,
    version: i32,
    new: &NewVersion,
) -> Result<ModuleVersion, StoreError> {
    let statement = transaction
        .prepare_cached(
            "INSERT INTO module_versions (module_id, version, script_id, definition, created_by)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING module_id, version, definition, created_by, created_at,
                       NULL::timestamptz",
        )
        .await?;
    let row = transaction
        .query_one(
            &statement,
            &[
                &module_id.as_uuid(),
                &version,
                &new.definition.script_id().as_uuid(),
                &Json(&new.definition),
                &new.created_by.as_uuid(),
            ],
        )
        .await?;
    ModuleVersion::from_row(&row)
}

impl Db {
    #[tracing::instrument(skip(self, new, context))]
    pub async fn create_module(
        &self,
        name: &ModuleName,
        new: &NewVersion,
        context: &AuditContext,
    ) -> Result<(Module, ModuleVersion), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let created = insert_module(&transaction, &self.audit_key, name, new, context).await?;
        transaction.commit().await?;
        Ok(created)
    }

    /// Stores the next version of a module; `None` when the module does not exist.
    #[tracing::instrument(skip(self, new, context))]
    pub async fn add_module_version(
        &self,
        module_id: ModuleId,
        new: &NewVersion,
        context: &AuditContext,
    ) -> Result<Option<ModuleVersion>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let version = next_version(&transaction, &self.audit_key, module_id, new, context).await?;
        transaction.commit().await?;
        Ok(version)
    }

    #[tracing::instrument(skip(self))]
    pub async fn module(&self, id: ModuleId) -> Result<Option<Module>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, name, latest_version, created_at, retention_days FROM modules WHERE id = $1",
            )
            .await?;
        Ok(client
            .query_opt(&statement, &[&id.as_uuid()])
            .await?
            .as_ref()
            .map(Module::from_row))
    }

    #[tracing::instrument(skip(self))]
    pub async fn module_version(
        &self,
        id: ModuleId,
        version: i32,
    ) -> Result<Option<ModuleVersion>, StoreError> {
        read_version(&self.client().await?, id, version).await
    }

    /// Stops a version taking new runs, audited; `None` when there is no such
    /// version. Retiring a retired version changes nothing.
    #[tracing::instrument(skip(self, context))]
    pub async fn retire_module_version(
        &self,
        module_id: ModuleId,
        version: i32,
        retired_by: UserId,
        context: &AuditContext,
    ) -> Result<Option<ModuleVersion>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let retired = transaction
            .execute(
                "INSERT INTO module_version_retirements (module_id, version, retired_by)
                 SELECT module_id, version, $3 FROM module_versions
                 WHERE module_id = $1 AND version = $2
                 ON CONFLICT DO NOTHING",
                &[&module_id.as_uuid(), &version, &retired_by.as_uuid()],
            )
            .await?;
        if retired == 1 {
            let change = Change {
                action: "module.version.retire",
                target_type: "module",
                target_id: module_id.to_string(),
                before: Some(json!({"version": version, "retired": false})),
                after: Some(json!({"version": version, "retired": true})),
            };
            append(&transaction, &self.audit_key, context, &change).await?;
        }
        let read = read_version(&transaction, module_id, version).await?;
        transaction.commit().await?;
        Ok(read)
    }

    /// The versions of a module that take new runs, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn runnable_versions(&self, module_id: ModuleId) -> Result<Vec<i32>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT v.version FROM module_versions v
                 WHERE v.module_id = $1 AND NOT EXISTS (
                     SELECT 1 FROM module_version_retirements r
                     WHERE r.module_id = v.module_id AND r.version = v.version)
                 ORDER BY v.version",
            )
            .await?;
        let rows = client.query(&statement, &[&module_id.as_uuid()]).await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Modules ordered by name after `cursor`: all of them for `None` (admins), else
    /// those assigned to the email or one of the groups with run or view.
    #[tracing::instrument(skip(self))]
    pub async fn modules(
        &self,
        visible_to: Option<(Option<&str>, &[String])>,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Page<Module>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT m.id, m.name, m.latest_version, m.created_at, m.retention_days FROM modules m
                 WHERE ($1::text IS NULL OR m.name > $1)
                   AND ($2::boolean OR EXISTS (
                        SELECT 1 FROM module_assignments a
                        WHERE a.module_id = m.id
                          AND ((a.principal_kind = 'user' AND a.principal = $3)
                            OR (a.principal_kind = 'group' AND a.principal = ANY($4)))))
                 ORDER BY m.name LIMIT $5",
            )
            .await?;
        let (all, email, groups) = match visible_to {
            None => (true, None, Vec::new()),
            Some((email, groups)) => (false, email, groups.to_vec()),
        };
        let rows = client
            .query(&statement, &[&cursor, &all, &email, &groups, &(limit + 1)])
            .await?;
        let items = rows.iter().map(Module::from_row).collect();
        Ok(Page::from_rows(items, limit, |m: &Module| m.name.clone()))
    }
}

impl Db {
    /// Sets how many days a module's runs keep their logs, artifacts and finding
    /// history (`None`: the deployment's default), audited; `None` when there is no
    /// such module.
    pub async fn set_module_retention(
        &self,
        id: ModuleId,
        days: Option<i32>,
        context: &AuditContext,
    ) -> Result<Option<Module>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(before) = transaction
            .query_opt(
                "SELECT retention_days FROM modules WHERE id = $1 FOR UPDATE",
                &[&id.as_uuid()],
            )
            .await?
        else {
            return Ok(None);
        };
        let row = transaction
            .query_one(
                "UPDATE modules SET retention_days = $2 WHERE id = $1
                 RETURNING id, name, latest_version, created_at, retention_days",
                &[&id.as_uuid(), &days],
            )
            .await?;
        let change = Change {
            action: "module.retention",
            target_type: "module",
            target_id: id.to_string(),
            before: Some(json!({"retention_days": before.get::<_, Option<i32>>(0)})),
            after: Some(json!({"retention_days": days})),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(Some(Module::from_row(&row)))
    }
}

/// One version, read through the same checks as when it was made.
async fn read_version(
    client: &impl deadpool_postgres::GenericClient,
    id: ModuleId,
    version: i32,
) -> Result<Option<ModuleVersion>, StoreError> {
    let statement = client
        .prepare_cached(concat!(
            version_select!(),
            "WHERE v.module_id = $1 AND v.version = $2"
        ))
        .await?;
    client
        .query_opt(&statement, &[&id.as_uuid(), &version])
        .await?
        .as_ref()
        .map(ModuleVersion::from_row)
        .transpose()
}

/// Creates a module and its first version inside the caller's transaction, audited.
pub(crate) async fn insert_module(
    transaction: &deadpool_postgres::Transaction<'_>,
    audit_key: &crate::audit::AuditKey,
    name: &ModuleName,
    new: &NewVersion,
    context: &AuditContext,
) -> Result<(Module, ModuleVersion), StoreError> {
    let statement = transaction
        .prepare_cached(
            "INSERT INTO modules (id, name, latest_version, created_by) VALUES ($1, $2, 1, $3)
             RETURNING id, name, latest_version, created_at, retention_days",
        )
        .await?;
    let row = transaction
        .query_one(
            &statement,
            &[&Uuid::new_v4(), &name.as_str(), &new.created_by.as_uuid()],
        )
        .await
        .map_err(|e| unique_violation(e, "a module with this name exists"))?;
    let module = Module::from_row(&row);
    let version = insert_version(transaction, module.id, 1, new).await?;
    let change = Change {
        action: "module.create",
        target_type: "module",
        target_id: module.id.to_string(),
        before: None,
        after: Some(json!({"name": module.name, "version": 1, "definition": new.definition})),
    };
    append(transaction, audit_key, context, &change).await?;
    Ok((module, version))
}

/// Stores the next version of a module inside the caller's transaction, audited; `None`
/// when the module does not exist.
pub(crate) async fn next_version(
    transaction: &deadpool_postgres::Transaction<'_>,
    audit_key: &crate::audit::AuditKey,
    module_id: ModuleId,
    new: &NewVersion,
    context: &AuditContext,
) -> Result<Option<ModuleVersion>, StoreError> {
    let latest: Option<i32> = transaction
        .query_opt(
            "SELECT latest_version FROM modules WHERE id = $1 FOR UPDATE",
            &[&module_id.as_uuid()],
        )
        .await?
        .map(|row| row.get(0));
    let Some(latest) = latest else {
        return Ok(None);
    };
    let version = insert_version(transaction, module_id, latest + 1, new).await?;
    transaction
        .execute(
            "UPDATE modules SET latest_version = $2 WHERE id = $1",
            &[&module_id.as_uuid(), &version.version],
        )
        .await?;
    let change = Change {
        action: "module.version.create",
        target_type: "module",
        target_id: module_id.to_string(),
        before: Some(json!({"version": latest})),
        after: Some(json!({"version": version.version, "definition": new.definition})),
    };
    append(transaction, audit_key, context, &change).await?;
    Ok(Some(version))
}
