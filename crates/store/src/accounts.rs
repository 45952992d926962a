//! The organisation's cloud accounts: written by admins or imported from AWS
//! Organizations, each change a version of its own and an audit event. External ids
//! arrive and leave sealed: the store never holds one in the clear.

use chrono::{DateTime, Utc};
use sage_model::UserId;
use sage_model::accounts::{AccountId, NewAccount, Tags};
use sage_model::names::WorkerId;
use serde_json::{Value, json};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

/// An account as the inventory holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudAccount {
    pub id: AccountId,
    pub name: String,
    /// A role's name or ARN.
    pub role: String,
    pub external_id_set: bool,
    pub regions: Vec<String>,
    pub tags: Tags,
    /// `manual` or `organizations`.
    pub source: String,
    pub org_status: Option<String>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// What an edit does to the sealed external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalId {
    Keep,
    Set(Vec<u8>),
    Clear,
}

/// An account as AWS Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: AccountId,
    pub name: String,
    pub status: String,
}

/// An import of an organisation's accounts and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountImport {
    pub id: Uuid,
    pub management_role_arn: String,
    pub role: String,
    pub regions: Vec<String>,
    /// queued, running, succeeded or failed.
    pub status: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub found: Option<i32>,
    pub created: Option<i32>,
    pub updated: Option<i32>,
    pub error: Option<String>,
}

const COLUMNS: &str = "id, name, role, sealed_external_id IS NOT NULL, regions, tags, source,
    org_status, version, updated_at";

const IMPORT_COLUMNS: &str = "i.id, i.management_role_arn, i.role, i.regions, i.status, u.email,
    i.requested_at, i.finished_at, i.found, i.created, i.updated, i.error";

fn account_of(row: &Row) -> Result<CloudAccount, StoreError> {
    let id: String = row.get(0);
    let Json(tags): Json<Tags> = row.get(5);
    Ok(CloudAccount {
        id: AccountId::parse(&id).map_err(|_| StoreError::Corrupt("account id"))?,
        name: row.get(1),
        role: row.get(2),
        external_id_set: row.get(3),
        regions: row.get(4),
        tags,
        source: row.get(6),
        org_status: row.get(7),
        version: row.get(8),
        updated_at: row.get(9),
    })
}

fn import_of(row: &Row) -> AccountImport {
    AccountImport {
        id: row.get(0),
        management_role_arn: row.get(1),
        role: row.get(2),
        regions: row.get(3),
        status: row.get(4),
        requested_by: row.get(5),
        requested_at: row.get(6),
        finished_at: row.get(7),
        found: row.get(8),
        created: row.get(9),
        updated: row.get(10),
        error: row.get(11),
    }
}

/// What an account's audit event and version say of it (never the external id).
fn audited(account: &CloudAccount) -> Value {
    json!({
        "name": account.name, "role": account.role, "external_id_set": account.external_id_set,
        "regions": account.regions, "tags": account.tags, "source": account.source,
        "org_status": account.org_status, "version": account.version,
    })
}

/// Keeps the account as it now stands as a version of its own.
async fn keep_version(
    transaction: &tokio_postgres::Transaction<'_>,
    id: &AccountId,
    by: Option<UserId>,
) -> Result<CloudAccount, StoreError> {
    let row = transaction
        .query_one(
            &format!("SELECT {COLUMNS} FROM cloud_accounts WHERE id = $1"),
            &[&id.as_str()],
        )
        .await?;
    let account = account_of(&row)?;
    transaction
        .execute(
            "INSERT INTO cloud_account_versions (account_id, version, name, role, external_id_set,
                                                 regions, tags, source, org_status, changed_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &id.as_str(),
                &account.version,
                &account.name,
                &account.role,
                &account.external_id_set,
                &account.regions,
                &Json(&account.tags),
                &account.source,
                &account.org_status,
                &by.map(|u| u.as_uuid()),
            ],
        )
        .await?;
    Ok(account)
}

impl Db {
    /// Adds an account; 409 when the inventory already holds its id.
    pub async fn create_account(
        &self,
        new: &NewAccount,
        sealed_external_id: Option<&[u8]>,
        by: UserId,
        context: &AuditContext,
    ) -> Result<CloudAccount, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let inserted = transaction
            .execute(
                "INSERT INTO cloud_accounts (id, name, role, sealed_external_id, regions, tags,
                                             source, updated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, 'manual', $7) ON CONFLICT (id) DO NOTHING",
                &[
                    &new.id.as_str(),
                    &new.name,
                    &new.role.as_str(),
                    &sealed_external_id,
                    &new.regions,
                    &Json(&new.tags),
                    &by.as_uuid(),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::Conflict(
                "the inventory already holds this account",
            ));
        }
        let account = keep_version(&transaction, &new.id, Some(by)).await?;
        let change = Change {
            action: "account.create",
            target_type: "cloud_account",
            target_id: new.id.to_string(),
            before: None,
            after: Some(audited(&account)),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(account)
    }

    /// Changes an account that is still at `expected_version`: `None` when there is no
    /// such account, 409 when someone changed it since.
    pub async fn update_account(
        &self,
        new: &NewAccount,
        external_id: &ExternalId,
        expected_version: i32,
        by: UserId,
        context: &AuditContext,
    ) -> Result<Option<CloudAccount>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(before) = transaction
            .query_opt(
                &format!("SELECT {COLUMNS} FROM cloud_accounts WHERE id = $1 FOR UPDATE"),
                &[&new.id.as_str()],
            )
            .await?
        else {
            return Ok(None);
        };
        let before = account_of(&before)?;
        if before.version != expected_version {
            return Err(StoreError::Conflict(
                "the account changed since that version: read it again",
            ));
        }
        let (set_sealed, sealed) = match external_id {
            ExternalId::Keep => (false, None),
            ExternalId::Set(sealed) => (true, Some(sealed.as_slice())),
            ExternalId::Clear => (true, None),
        };
        transaction
            .execute(
                "UPDATE cloud_accounts SET name = $2, role = $3, regions = $4, tags = $5,
                        sealed_external_id = CASE WHEN $6 THEN $7 ELSE sealed_external_id END,
                        version = version + 1, updated_at = now(), updated_by = $8
                 WHERE id = $1",
                &[
                    &new.id.as_str(),
                    &new.name,
                    &new.role.as_str(),
                    &new.regions,
                    &Json(&new.tags),
                    &set_sealed,
                    &sealed,
                    &by.as_uuid(),
                ],
            )
            .await?;
        let account = keep_version(&transaction, &new.id, Some(by)).await?;
        let change = Change {
            action: "account.update",
            target_type: "cloud_account",
            target_id: new.id.to_string(),
            before: Some(audited(&before)),
            after: Some(audited(&account)),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(Some(account))
    }

    pub async fn account(&self, id: &AccountId) -> Result<Option<CloudAccount>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM cloud_accounts WHERE id = $1"),
                &[&id.as_str()],
            )
            .await?;
        row.as_ref().map(account_of).transpose()
    }

    /// The accounts of these ids the inventory holds, in one query (a scan names up to
    /// thousands).
    pub async fn accounts_with_ids(
        &self,
        ids: &[AccountId],
    ) -> Result<Vec<CloudAccount>, StoreError> {
        let ids: Vec<&str> = ids.iter().map(AccountId::as_str).collect();
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM cloud_accounts WHERE id = ANY($1)"),
                &[&ids],
            )
            .await?;
        rows.iter().map(account_of).collect()
    }

    /// Accounts by id, those holding every tag of `tags` (when given).
    pub async fn accounts(&self, tags: Option<&Tags>) -> Result<Vec<CloudAccount>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM cloud_accounts
                     WHERE $1::jsonb IS NULL OR tags @> $1::jsonb ORDER BY id"
                ),
                &[&tags.map(Json)],
            )
            .await?;
        rows.iter().map(account_of).collect()
    }

    /// An account's versions, newest first: what each said, when and by whom.
    pub async fn account_versions(&self, id: &AccountId) -> Result<Vec<Value>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT v.version, v.name, v.role, v.external_id_set, v.regions, v.tags, v.source,
                        v.org_status, v.changed_at, u.email
                 FROM cloud_account_versions v LEFT JOIN users u ON u.id = v.changed_by
                 WHERE v.account_id = $1 ORDER BY v.version DESC",
                &[&id.as_str()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                json!({
                    "version": r.get::<_, i32>(0), "name": r.get::<_, String>(1),
                    "role": r.get::<_, String>(2), "external_id_set": r.get::<_, bool>(3),
                    "regions": r.get::<_, Vec<String>>(4), "tags": r.get::<_, Value>(5),
                    "source": r.get::<_, String>(6), "org_status": r.get::<_, Option<String>>(7),
                    "changed_at": r.get::<_, DateTime<Utc>>(8),
                    "changed_by": r.get::<_, Option<String>>(9),
                })
            })
            .collect())
    }

    /// The sealed external id of an account, for a run that assumes its role.
    pub async fn sealed_external_id(&self, id: &AccountId) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT sealed_external_id FROM cloud_accounts WHERE id = $1",
                &[&id.as_str()],
            )
            .await?;
        Ok(row.and_then(|r| r.get(0)))
    }

    /// Records an import and its job, in one transaction.
    pub async fn request_import(
        &self,
        management_role_arn: &str,
        role: &str,
        regions: &[String],
        by: UserId,
        context: &AuditContext,
    ) -> Result<AccountImport, StoreError> {
        let id = Uuid::new_v4();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "INSERT INTO account_imports (id, management_role_arn, role, regions, requested_by)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&id, &management_role_arn, &role, &regions, &by.as_uuid()],
            )
            .await?;
        transaction
            .execute(
                "INSERT INTO job_outbox (account_import_id, traceparent) VALUES ($1, $2)",
                &[&id, &context.traceparent],
            )
            .await?;
        let change = Change {
            action: "account.import.request",
            target_type: "account_import",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({
                "management_role_arn": management_role_arn, "role": role, "regions": regions,
            })),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        self.account_import(id)
            .await?
            .ok_or(StoreError::Corrupt("import gone"))
    }

    pub async fn account_import(&self, id: Uuid) -> Result<Option<AccountImport>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {IMPORT_COLUMNS} FROM account_imports i
                     JOIN users u ON u.id = i.requested_by WHERE i.id = $1"
                ),
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(import_of))
    }

    /// Takes a queued import for `worker_id`; `None` when it is not queued (another
    /// worker took it, or it ended).
    pub async fn claim_import(
        &self,
        id: Uuid,
        worker_id: &WorkerId,
    ) -> Result<Option<AccountImport>, StoreError> {
        let client = self.client().await?;
        let claimed = client
            .execute(
                "UPDATE account_imports SET status = 'running', started_at = now(), worker_id = $2
                 WHERE id = $1 AND status = 'queued'",
                &[&id, &worker_id.as_str()],
            )
            .await?;
        if claimed == 0 {
            return Ok(None);
        }
        self.account_import(id).await
    }

    /// Adds the organisation's accounts the inventory lacks (with the import's role and
    /// regions) and updates the name and status of those it holds; each change a
    /// version, the whole an audit event with the counts.
    pub async fn finish_import(
        &self,
        import: &AccountImport,
        listed: &[OrgAccount],
    ) -> Result<AccountImport, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let (mut created, mut updated) = (0i32, 0i32);
        for account in listed {
            let inserted = transaction
                .execute(
                    "INSERT INTO cloud_accounts (id, name, role, regions, source, org_status)
                     VALUES ($1, $2, $3, $4, 'organizations', $5) ON CONFLICT (id) DO NOTHING",
                    &[
                        &account.id.as_str(),
                        &account.name,
                        &import.role,
                        &import.regions,
                        &account.status,
                    ],
                )
                .await?;
            let changed = if inserted == 1 {
                created += 1;
                true
            } else {
                let changed = transaction
                    .execute(
                        "UPDATE cloud_accounts SET name = $2, org_status = $3,
                                version = version + 1, updated_at = now(), updated_by = NULL
                         WHERE id = $1 AND (name, org_status) IS DISTINCT FROM ($2, $3)",
                        &[&account.id.as_str(), &account.name, &account.status],
                    )
                    .await?;
                updated += i32::try_from(changed).unwrap_or(0);
                changed == 1
            };
            if changed {
                keep_version(&transaction, &account.id, None).await?;
            }
        }
        let found = i32::try_from(listed.len()).unwrap_or(i32::MAX);
        transaction
            .execute(
                "UPDATE account_imports SET status = 'succeeded', finished_at = now(),
                        found = $2, created = $3, updated = $4
                 WHERE id = $1",
                &[&import.id, &found, &created, &updated],
            )
            .await?;
        let change = Change {
            action: "account.import.finish",
            target_type: "account_import",
            target_id: import.id.to_string(),
            before: None,
            after: Some(json!({"found": found, "created": created, "updated": updated})),
        };
        append(
            &transaction,
            &self.audit_key,
            &AuditContext::system(),
            &change,
        )
        .await?;
        transaction.commit().await?;
        self.account_import(import.id)
            .await?
            .ok_or(StoreError::Corrupt("import gone"))
    }

    /// Ends an import that could not list the organisation, saying why.
    pub async fn fail_import(&self, id: Uuid, why: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "UPDATE account_imports SET status = 'failed', finished_at = now(), error = $2
                 WHERE id = $1",
                &[&id, &why],
            )
            .await?;
        let change = Change {
            action: "account.import.fail",
            target_type: "account_import",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({"error": why})),
        };
        append(
            &transaction,
            &self.audit_key,
            &AuditContext::system(),
            &change,
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }
}
