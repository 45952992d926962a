//! The built-in scanner tools: installing their modules, what the workers report about
//! the scanner image, and the record and findings of each tool run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sage_model::catalog::module::ModuleDefinition;
use sage_model::names::ModuleName;
use sage_model::tools::{NameCatalog, Tool};
use sage_model::{ExecutionId, ExecutionStatus, ModuleId, ScriptId, UserId};
use serde_json::{Value, json};
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::catalog::{
    NewScript, NewVersion, insert_module, insert_script, next_version, read_definition,
};
use crate::{Db, StoreError};

/// The user that owns the built-in tools' scripts and modules (migration 0014).
pub const SYSTEM_USER: UserId = UserId::from_uuid(Uuid::from_u128(1));

/// A tool as `GET /api/v1/tools` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolEntry {
    pub tool: Tool,
    pub module_id: ModuleId,
    pub available: bool,
    pub tool_version: Option<String>,
    pub unavailable_reason: Option<String>,
    pub latest_execution_id: Option<ExecutionId>,
}

/// The tool a module runs, as a submission needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleTool {
    pub tool: Tool,
    /// What its image holds for each cloud.
    pub names: NameCatalog,
    /// Whether the workers' image holds it; why not, when it does not.
    pub available: Result<(), String>,
}

/// What a worker's scanner image says about one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available { version: String, names: NameCatalog },
    Unavailable { reason: String },
}

/// What installing a built-in tool did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    Created,
    /// The driver or the built-in definition changed: the system pinned the new driver
    /// and added a version.
    Updated,
    Unchanged,
    /// An admin made the latest version: the built-in one is not forced over it.
    LeftToAdmin,
}

/// A finished tool run's record.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRun {
    pub execution_id: ExecutionId,
    pub tool: Tool,
    pub tool_version: Option<String>,
    pub status: ExecutionStatus,
    /// `{"<status>": {"<severity>": n}}`.
    pub counts: Value,
    pub result_key: String,
    pub finished_at: DateTime<Utc>,
}

impl Db {
    /// Creates a tool's script and module on first start; afterwards pins a changed
    /// driver and adds the built-in definition as a new version while the system made
    /// the latest one. `definition` builds the version for the driver's script id.
    /// Runs in one transaction, so api replicas starting together install it once.
    #[tracing::instrument(skip(self, driver, definition), fields(tool = %tool))]
    pub async fn install_tool(
        &self,
        tool: Tool,
        driver: &NewScript,
        definition: impl FnOnce(ScriptId) -> Result<ModuleDefinition, String>,
    ) -> Result<Installed, StoreError> {
        let context = AuditContext::system();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // Serialises concurrent installs of the same tool.
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock(hashtext('sage.tools.' || $1))",
                &[&tool.as_str()],
            )
            .await?;
        let script = transaction
            .query_opt(
                "SELECT id, sha256, created_by FROM scripts WHERE path = $1",
                &[&driver.path.as_str()],
            )
            .await?
            .map(|row| {
                let (id, sha, by): (Uuid, String, Uuid) = (row.get(0), row.get(1), row.get(2));
                (ScriptId::from(id), sha, UserId::from(by))
            });
        let script_id = match script {
            None => {
                insert_script(&transaction, &self.audit_key, driver, &context)
                    .await?
                    .id
            }
            Some((id, _, by)) if by != SYSTEM_USER => {
                tracing::warn!(path = %driver.path, "an admin registered the driver's path; the tool uses that script");
                id
            }
            Some((id, sha, _)) if sha != driver.sha256 => {
                transaction
                    .execute(
                        "UPDATE scripts SET sha256 = $2 WHERE id = $1",
                        &[&id.as_uuid(), &driver.sha256],
                    )
                    .await?;
                let change = Change {
                    action: "script.repin",
                    target_type: "script",
                    target_id: id.to_string(),
                    before: Some(json!({"sha256": sha})),
                    after: Some(json!({"sha256": driver.sha256})),
                };
                append(&transaction, &self.audit_key, &context, &change).await?;
                id
            }
            Some((id, _, _)) => id,
        };
        let definition = definition(script_id).map_err(|why| {
            tracing::error!(%why, "a built-in tool's definition does not pass its checks");
            StoreError::Corrupt("built-in tool definition")
        })?;
        let wanted = NewVersion {
            definition,
            created_by: SYSTEM_USER,
        };
        let existing: Option<Uuid> = transaction
            .query_opt(
                "SELECT module_id FROM tools WHERE name = $1",
                &[&tool.as_str()],
            )
            .await?
            .map(|row| row.get(0));
        let installed = match existing {
            None => {
                let (module, _) = insert_module(
                    &transaction,
                    &self.audit_key,
                    &ModuleName::of_tool(tool),
                    &wanted,
                    &context,
                )
                .await?;
                transaction
                    .execute(
                        "INSERT INTO tools (name, module_id, unavailable_reason)
                         VALUES ($1, $2, 'no worker has reported its scanner image yet')",
                        &[&tool.as_str(), &module.id.as_uuid()],
                    )
                    .await?;
                Installed::Created
            }
            Some(module_id) => {
                let latest = transaction
                    .query_one(
                        "SELECT v.definition, v.created_by FROM module_versions v
                         JOIN modules m ON m.id = v.module_id AND m.latest_version = v.version
                         WHERE m.id = $1",
                        &[&module_id],
                    )
                    .await?;
                let (stored, by): (Value, Uuid) = (latest.get(0), latest.get(1));
                if UserId::from(by) != SYSTEM_USER {
                    Installed::LeftToAdmin
                } else if read_definition(stored)? == wanted.definition {
                    Installed::Unchanged
                } else {
                    let module_id = ModuleId::from(module_id);
                    next_version(&transaction, &self.audit_key, module_id, &wanted, &context)
                        .await?;
                    Installed::Updated
                }
            }
        };
        transaction.commit().await?;
        Ok(installed)
    }

    /// Records what a worker's scanner image holds.
    pub async fn report_tools(
        &self,
        report: &BTreeMap<Tool, Availability>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        for (tool, availability) in report {
            let (version, reason, names) = match availability {
                Availability::Available { version, names } => {
                    (Some(version.as_str()), None, Some(Json(names)))
                }
                Availability::Unavailable { reason } => (None, Some(reason.as_str()), None),
            };
            client
                .execute(
                    "UPDATE tools SET available = ($2::text IS NULL), tool_version = $3::text,
                            unavailable_reason = $2::text, names = $4, reported_at = now()
                     WHERE name = $1",
                    &[&tool.as_str(), &reason, &version, &names],
                )
                .await?;
        }
        Ok(())
    }

    /// Every installed tool, with its latest finished run.
    pub async fn tools(&self) -> Result<Vec<ToolEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT t.name, t.module_id, t.available, t.tool_version, t.unavailable_reason,
                        (SELECT r.execution_id FROM tool_runs r WHERE r.tool = t.name
                         ORDER BY r.finished_at DESC LIMIT 1)
                 FROM tools t ORDER BY t.name",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ToolEntry {
                    tool: tool_of(row.get(0))?,
                    module_id: ModuleId::from(row.get::<_, Uuid>(1)),
                    available: row.get(2),
                    tool_version: row.get(3),
                    unavailable_reason: row.get(4),
                    latest_execution_id: row.get::<_, Option<Uuid>>(5).map(ExecutionId::from),
                })
            })
            .collect()
    }

    /// The tool a module runs, whether the workers' image holds it and the names it
    /// holds, if it is a tool's module (the names empty until a worker reported them).
    pub async fn tool_of_module(
        &self,
        module_id: ModuleId,
    ) -> Result<Option<ModuleTool>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT name, names, available, unavailable_reason FROM tools WHERE module_id = $1",
                &[&module_id.as_uuid()],
            )
            .await?
            .map(|row| {
                let names = row
                    .get::<_, Option<Json<NameCatalog>>>(1)
                    .map(|Json(names)| names)
                    .unwrap_or_default();
                let available = match row.get::<_, bool>(2) {
                    true => Ok(()),
                    false => Err(row
                        .get::<_, Option<String>>(3)
                        .unwrap_or_else(|| "the scanner image does not hold it".to_owned())),
                };
                Ok(ModuleTool {
                    tool: tool_of(row.get(0))?,
                    names,
                    available,
                })
            })
            .transpose()
    }

    /// The latest finished run of a tool; with `succeeded_only`, the latest that
    /// succeeded (what evidence is built from).
    pub async fn latest_tool_run(
        &self,
        tool: Tool,
        succeeded_only: bool,
    ) -> Result<Option<ToolRun>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT r.execution_id, r.tool, r.tool_version, e.status, r.counts, r.result_key,
                        r.finished_at
                 FROM tool_runs r JOIN executions e ON e.id = r.execution_id
                 WHERE r.tool = $1 AND (NOT $2 OR e.status = $3)
                 ORDER BY r.finished_at DESC LIMIT 1",
                &[
                    &tool.as_str(),
                    &succeeded_only,
                    &ExecutionStatus::Succeeded.as_str(),
                ],
            )
            .await?;
        row.map(|row| {
            Ok(ToolRun {
                execution_id: ExecutionId::from(row.get::<_, Uuid>(0)),
                tool: tool_of(row.get(1))?,
                tool_version: row.get(2),
                status: row
                    .get::<_, &str>(3)
                    .parse()
                    .map_err(|_| StoreError::Corrupt("execution status"))?,
                counts: row.get::<_, Json<Value>>(4).0,
                result_key: row.get(5),
                finished_at: row.get(6),
            })
        })
        .transpose()
    }
}

pub(crate) fn tool_of(name: &str) -> Result<Tool, StoreError> {
    name.parse().map_err(|_| StoreError::Corrupt("tool name"))
}
