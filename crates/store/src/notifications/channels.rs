//! Channels: written and deleted by admins, each with its record of messages.

use chrono::{DateTime, Utc};
use sage_model::UserId;
use sage_model::notifications::ChannelKind;
use serde_json::{Value, json};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

/// A channel as it may be shown, with how its deliveries went.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: Uuid,
    pub name: String,
    pub kind: ChannelKind,
    /// The part that may be shown.
    pub config: Value,
    pub created_at: DateTime<Utc>,
    pub pending: i64,
    pub failed: i64,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

const CHANNEL_COLUMNS: &str = "c.id, c.name, c.kind, c.config, c.created_at,
    (SELECT count(*) FROM notification_outbox o WHERE o.channel_id = c.id AND o.status = 'pending'),
    (SELECT count(*) FROM notification_outbox o WHERE o.channel_id = c.id AND o.status = 'failed'),
    (SELECT max(delivered_at) FROM notification_outbox o WHERE o.channel_id = c.id),
    (SELECT last_error FROM notification_outbox o
     WHERE o.channel_id = c.id AND o.last_error IS NOT NULL ORDER BY o.id DESC LIMIT 1)";

fn channel(row: &Row) -> Result<Channel, StoreError> {
    Ok(Channel {
        id: row.get(0),
        name: row.get(1),
        kind: row
            .get::<_, String>(2)
            .parse()
            .map_err(|_| StoreError::Corrupt("notification channel kind"))?,
        config: row.get::<_, Json<Value>>(3).0,
        created_at: row.get(4),
        pending: row.get(5),
        failed: row.get(6),
        last_delivered_at: row.get(7),
        last_error: row.get(8),
    })
}

/// A channel to store: what may be shown, and its secret sealed.
#[derive(Debug, Clone, Copy)]
pub struct ChannelRecord<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub kind: ChannelKind,
    pub config: &'a Value,
    pub sealed: Option<&'a [u8]>,
}

/// One message of a channel's record.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub rule_id: Option<Uuid>,
    pub event: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub payload: Value,
}

/// What `delete_channel` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRemoval {
    Deleted,
    Missing,
    /// Rules (by name) still send to it.
    InUse(Vec<String>),
}

impl Db {
    pub async fn create_channel(
        &self,
        record: ChannelRecord<'_>,
        by: UserId,
        context: &AuditContext,
    ) -> Result<Channel, StoreError> {
        let ChannelRecord {
            id,
            name,
            kind,
            config,
            sealed,
        } = record;
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let inserted = transaction
            .execute(
                "INSERT INTO notification_channels (id, name, kind, config, sealed, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
                &[
                    &id,
                    &name,
                    &kind.as_str(),
                    &Json(config),
                    &sealed,
                    &by.as_uuid(),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::Conflict("a channel of this name exists"));
        }
        let change = Change {
            action: "notification_channel.create",
            target_type: "notification_channel",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({"name": name, "kind": kind.as_str(), "config": config})),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        let row = transaction
            .query_one(
                &format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels c WHERE c.id = $1"),
                &[&id],
            )
            .await?;
        transaction.commit().await?;
        channel(&row)
    }

    pub async fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels c ORDER BY c.name"),
                &[],
            )
            .await?
            .iter()
            .map(channel)
            .collect()
    }

    pub async fn channel(&self, id: Uuid) -> Result<Option<Channel>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels c WHERE c.id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(channel)
            .transpose()
    }

    /// Deletes a channel no rule sends to, with its record of deliveries.
    pub async fn delete_channel(
        &self,
        id: Uuid,
        context: &AuditContext,
    ) -> Result<ChannelRemoval, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(row) = transaction
            .query_opt(
                "SELECT name, kind, config FROM notification_channels WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?
        else {
            return Ok(ChannelRemoval::Missing);
        };
        let rules: Vec<String> = transaction
            .query(
                "SELECT name FROM notification_rules WHERE channel_id = $1 ORDER BY name",
                &[&id],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !rules.is_empty() {
            return Ok(ChannelRemoval::InUse(rules));
        }
        transaction
            .execute("DELETE FROM notification_channels WHERE id = $1", &[&id])
            .await?;
        let change = Change {
            action: "notification_channel.delete",
            target_type: "notification_channel",
            target_id: id.to_string(),
            before: Some(
                json!({"name": row.get::<_, String>(0), "kind": row.get::<_, String>(1),
                                "config": row.get::<_, Json<Value>>(2).0}),
            ),
            after: None,
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(ChannelRemoval::Deleted)
    }

    /// A channel's messages, newest first.
    pub async fn channel_deliveries(
        &self,
        channel_id: Uuid,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, rule_id, event, status, attempts, last_error, created_at,
                        delivered_at, payload
                 FROM notification_outbox WHERE channel_id = $1 ORDER BY id DESC LIMIT $2",
                &[&channel_id, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| Delivery {
                id: row.get(0),
                rule_id: row.get(1),
                event: row.get(2),
                status: row.get(3),
                attempts: row.get(4),
                last_error: row.get(5),
                created_at: row.get(6),
                delivered_at: row.get(7),
                payload: row.get::<_, Json<Value>>(8).0,
            })
            .collect())
    }

    /// Queues a message an admin asked for, to see that the channel works.
    pub async fn queue_test_message(
        &self,
        channel_id: Uuid,
        payload: &Value,
        context: &AuditContext,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let row = transaction
            .query_one(
                "INSERT INTO notification_outbox (channel_id, event, dedupe_key, payload)
                 VALUES ($1, 'test', 'test:' || gen_random_uuid(), $2) RETURNING id",
                &[&channel_id, &Json(payload)],
            )
            .await?;
        let id: i64 = row.get(0);
        let change = Change {
            action: "notification_channel.test",
            target_type: "notification_channel",
            target_id: channel_id.to_string(),
            before: None,
            after: Some(json!({"message": id})),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(id)
    }
}
