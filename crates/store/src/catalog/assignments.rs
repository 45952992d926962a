use sage_model::ModuleId;
use serde_json::json;
use tokio_postgres::Row;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    /// A user, by email (lower case).
    User(String),
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub principal: Principal,
    pub can_run: bool,
    pub can_view: bool,
}

impl Assignment {
    fn from_row(row: &Row) -> Self {
        let kind: String = row.get(0);
        let name: String = row.get(1);
        Self {
            principal: if kind == "group" {
                Principal::Group(name)
            } else {
                Principal::User(name)
            },
            can_run: row.get(2),
            can_view: row.get(3),
        }
    }

    fn parts(&self) -> (&'static str, &str) {
        match &self.principal {
            Principal::User(email) => ("user", email),
            Principal::Group(group) => ("group", group),
        }
    }

    /// As the audit trail records it: `{"user": …, "permissions": ["run", "view"]}`.
    fn to_json(&self) -> serde_json::Value {
        let (kind, name) = self.parts();
        let mut permissions = Vec::new();
        if self.can_run {
            permissions.push("run");
        }
        if self.can_view {
            permissions.push("view");
        }
        json!({kind: name, "permissions": permissions})
    }
}

/// What a caller may do with one module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions {
    pub run: bool,
    pub view: bool,
}

impl Permissions {
    /// An admin's, and anyone's on a module they just made.
    pub const ALL: Self = Self {
        run: true,
        view: true,
    };
}

impl Db {
    /// Replaces every assignment of a module, audited with before and after.
    #[tracing::instrument(skip(self, assignments, context))]
    pub async fn replace_assignments(
        &self,
        module_id: ModuleId,
        assignments: &[Assignment],
        context: &AuditContext,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        write_assignments(
            &transaction,
            &self.audit_key,
            module_id,
            assignments,
            context,
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    pub async fn assignments(&self, module_id: ModuleId) -> Result<Vec<Assignment>, StoreError> {
        let client = self.client().await?;
        read_assignments(&client, module_id).await
    }

    /// What a user (by verified email and groups) may do with a module through
    /// assignments; without an email, only their groups count.
    #[tracing::instrument(skip(self))]
    pub async fn permissions(
        &self,
        module_id: ModuleId,
        email: Option<&str>,
        groups: &[String],
    ) -> Result<Permissions, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT coalesce(bool_or(can_run), false), coalesce(bool_or(can_view), false)
                 FROM module_assignments
                 WHERE module_id = $1
                   AND ((principal_kind = 'user' AND principal = $2)
                     OR (principal_kind = 'group' AND principal = ANY($3)))",
            )
            .await?;
        let row = client
            .query_one(&statement, &[&module_id.as_uuid(), &email, &groups])
            .await?;
        Ok(Permissions {
            run: row.get(0),
            view: row.get(1),
        })
    }
}

async fn read_assignments(
    client: &impl deadpool_postgres::GenericClient,
    module_id: ModuleId,
) -> Result<Vec<Assignment>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT principal_kind, principal, can_run, can_view FROM module_assignments
             WHERE module_id = $1 ORDER BY principal_kind DESC, principal",
        )
        .await?;
    let rows = client.query(&statement, &[&module_id.as_uuid()]).await?;
    Ok(rows.iter().map(Assignment::from_row).collect())
}

/// Replaces a module's assignments inside the caller's transaction, audited with
/// before and after; the module row is locked so two replacements cannot interleave.
pub(crate) async fn write_assignments(
    transaction: &deadpool_postgres::Transaction<'_>,
    audit_key: &crate::audit::AuditKey,
    module_id: ModuleId,
    assignments: &[Assignment],
    context: &AuditContext,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "SELECT 1 FROM modules WHERE id = $1 FOR UPDATE",
            &[&module_id.as_uuid()],
        )
        .await?;
    let before = read_assignments(transaction, module_id).await?;
    transaction
        .execute(
            "DELETE FROM module_assignments WHERE module_id = $1",
            &[&module_id.as_uuid()],
        )
        .await?;
    let insert = transaction
        .prepare_cached(
            "INSERT INTO module_assignments (module_id, principal_kind, principal, can_run, can_view)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    for assignment in assignments {
        let (kind, name) = assignment.parts();
        transaction
            .execute(
                &insert,
                &[
                    &module_id.as_uuid(),
                    &kind,
                    &name,
                    &assignment.can_run,
                    &assignment.can_view,
                ],
            )
            .await?;
    }
    let change = Change {
        action: "module.assignments.replace",
        target_type: "module",
        target_id: module_id.to_string(),
        before: Some(json!(
            before.iter().map(Assignment::to_json).collect::<Vec<_>>()
        )),
        after: Some(json!(
            assignments
                .iter()
                .map(Assignment::to_json)
                .collect::<Vec<_>>()
        )),
    };
    append(transaction, audit_key, context, &change).await?;
    Ok(())
}
