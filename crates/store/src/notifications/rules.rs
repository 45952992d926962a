//! Rules: which changes of the audit trail to tell a channel about.

use chrono::{DateTime, Utc};
use sage_model::UserId;
use sage_model::notifications::NewRule;
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

/// A rule as stored.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Uuid,
    pub name: String,
    pub channel_id: Uuid,
    pub event: String,
    pub module_id: Option<Uuid>,
    pub tool: Option<String>,
    pub statuses: Vec<String>,
    pub min_severity_rank: Option<i16>,
    pub days_before: Option<i32>,
    pub enabled: bool,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

const RULE_COLUMNS: &str = "id, name, channel_id, event, module_id, tool, statuses,
    min_severity_rank, days_before, enabled, version, updated_at";

fn rule(row: &Row) -> Rule {
    Rule {
        id: row.get(0),
        name: row.get(1),
        channel_id: row.get(2),
        event: row.get(3),
        module_id: row.get(4),
        tool: row.get(5),
        statuses: row.get(6),
        min_severity_rank: row.get(7),
        days_before: row.get(8),
        enabled: row.get(9),
        version: row.get(10),
        updated_at: row.get(11),
    }
}

fn audited_rule(rule: &Rule) -> Value {
    json!({
        "name": rule.name, "channel_id": rule.channel_id, "event": rule.event,
        "module_id": rule.module_id, "tool": rule.tool, "statuses": rule.statuses,
        "min_severity_rank": rule.min_severity_rank, "days_before": rule.days_before,
        "enabled": rule.enabled, "version": rule.version,
    })
}

impl Db {
    pub async fn create_rule(
        &self,
        id: Uuid,
        new: &NewRule,
        by: UserId,
        context: &AuditContext,
    ) -> Result<Rule, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let row = transaction
            .query_one(
                &format!(
                    "INSERT INTO notification_rules (id, name, channel_id, event, module_id, tool,
                         statuses, min_severity_rank, days_before, enabled, created_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     RETURNING {RULE_COLUMNS}"
                ),
                &[
                    &id,
                    &new.name,
                    &new.channel_id,
                    &new.event.as_str(),
                    &new.module_id,
                    &new.tool.map(|t| t.as_str()),
                    &new.statuses,
                    &new.min_severity_rank(),
                    &new.days_before,
                    &new.enabled,
                    &by.as_uuid(),
                ],
            )
            .await?;
        let created = rule(&row);
        let change = Change {
            action: "notification_rule.create",
            target_type: "notification_rule",
            target_id: id.to_string(),
            before: None,
            after: Some(audited_rule(&created)),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(created)
    }

    pub async fn rules(&self) -> Result<Vec<Rule>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query(
                &format!("SELECT {RULE_COLUMNS} FROM notification_rules ORDER BY name, id"),
                &[],
            )
            .await?
            .iter()
            .map(rule)
            .collect())
    }

    pub async fn rule(&self, id: Uuid) -> Result<Option<Rule>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query_opt(
                &format!("SELECT {RULE_COLUMNS} FROM notification_rules WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(rule))
    }

    /// Rewrites a rule still at `expected_version`: `None` when there is no such rule,
    /// 409 when someone changed it since.
    pub async fn update_rule(
        &self,
        id: Uuid,
        new: &NewRule,
        expected_version: i32,
        context: &AuditContext,
    ) -> Result<Option<Rule>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(before) = transaction
            .query_opt(
                &format!("SELECT {RULE_COLUMNS} FROM notification_rules WHERE id = $1 FOR UPDATE"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(rule)
        else {
            return Ok(None);
        };
        if before.version != expected_version {
            return Err(StoreError::Conflict(
                "the rule changed since that version was read",
            ));
        }
        let row = transaction
            .query_one(
                &format!(
                    "UPDATE notification_rules SET name = $2, channel_id = $3, event = $4,
                         module_id = $5, tool = $6, statuses = $7, min_severity_rank = $8,
                         days_before = $9, enabled = $10, version = version + 1,
                         updated_at = now()
                     WHERE id = $1 RETURNING {RULE_COLUMNS}"
                ),
                &[
                    &id,
                    &new.name,
                    &new.channel_id,
                    &new.event.as_str(),
                    &new.module_id,
                    &new.tool.map(|t| t.as_str()),
                    &new.statuses,
                    &new.min_severity_rank(),
                    &new.days_before,
                    &new.enabled,
                ],
            )
            .await?;
        let after = rule(&row);
        let change = Change {
            action: "notification_rule.update",
            target_type: "notification_rule",
            target_id: id.to_string(),
            before: Some(audited_rule(&before)),
            after: Some(audited_rule(&after)),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(Some(after))
    }

    /// Deletes a rule and the messages it matched; false when there was none.
    pub async fn delete_rule(&self, id: Uuid, context: &AuditContext) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(before) = transaction
            .query_opt(
                &format!("DELETE FROM notification_rules WHERE id = $1 RETURNING {RULE_COLUMNS}"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(rule)
        else {
            return Ok(false);
        };
        let change = Change {
            action: "notification_rule.delete",
            target_type: "notification_rule",
            target_id: id.to_string(),
            before: Some(audited_rule(&before)),
            after: None,
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(true)
    }
}
