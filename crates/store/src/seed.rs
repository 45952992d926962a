//! The sample catalog a fresh deployment may start with: each sample module created,
//! with its script and assignments, when no module has its name yet. A module that
//! exists is never touched, whoever made it, so an admin's later versions, retirements
//! and assignments stand; seeding again changes nothing.

use sage_model::ScriptId;
use sage_model::catalog::module::ModuleDefinition;
use sage_model::names::ModuleName;
use uuid::Uuid;

use crate::audit::AuditContext;
use crate::catalog::{
    Assignment, NewScript, NewVersion, insert_module, insert_script, write_assignments,
};
use crate::tools::SYSTEM_USER;
use crate::{Db, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    Created,
    /// A module of that name exists: left as it is.
    AlreadyThere,
}

impl Db {
    /// Creates the module `name` from `script` (registered unless its path already is)
    /// and `definition`, assigned as `assignments`, all audited as the system in one
    /// transaction; nothing when a module of that name exists.
    #[tracing::instrument(skip(self, script, definition, assignments))]
    pub async fn seed_module(
        &self,
        name: &ModuleName,
        script: &NewScript,
        definition: impl FnOnce(ScriptId) -> Result<ModuleDefinition, String>,
        assignments: &[Assignment],
    ) -> Result<Seeded, StoreError> {
        let context = AuditContext::system();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // Serialises seeds of the same module (two `just up`s, or replicas).
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock(hashtext('sage.seed.' || $1))",
                &[&name.as_str()],
            )
            .await?;
        let exists = transaction
            .query_opt("SELECT 1 FROM modules WHERE name = $1", &[&name.as_str()])
            .await?
            .is_some();
        if exists {
            return Ok(Seeded::AlreadyThere);
        }
        let registered: Option<Uuid> = transaction
            .query_opt(
                "SELECT id FROM scripts WHERE path = $1",
                &[&script.path.as_str()],
            )
            .await?
            .map(|row| row.get(0));
        let script_id = match registered {
            Some(id) => ScriptId::from(id),
            None => {
                insert_script(&transaction, &self.audit_key, script, &context)
                    .await?
                    .id
            }
        };
        let definition = definition(script_id).map_err(|why| {
            tracing::error!(%why, "a sample module's definition does not pass its checks");
            StoreError::Corrupt("sample module definition")
        })?;
        let version = NewVersion {
            definition,
            created_by: SYSTEM_USER,
        };
        let (module, _) =
            insert_module(&transaction, &self.audit_key, name, &version, &context).await?;
        write_assignments(
            &transaction,
            &self.audit_key,
            module.id,
            assignments,
            &context,
        )
        .await?;
        transaction.commit().await?;
        Ok(Seeded::Created)
    }
}
