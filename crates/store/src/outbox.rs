//! The webhook outboxes: rows written in the transaction of the change they tell
//! about, claimed with a lease (so two api replicas never send one row at the same
//! time), deleted once the receiver accepted them, and rescheduled with backoff when it
//! did not. The SIEM outbox points at audit events; the approval outbox holds notices.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::{Db, StoreError};

/// How long a claimed row is hidden from other relays while it is being sent.
const LEASE: Duration = Duration::from_secs(60);

/// Which receiver an outbox feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhook {
    /// Every audit event, for SIEM_WEBHOOK_URL.
    Siem,
    /// Runs entering and leaving `awaiting_approval`, for APPROVAL_WEBHOOK_URL.
    Approvals,
}

impl Webhook {
    /// Table and key column; constants, never caller input.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Self::Siem => ("siem_outbox", "audit_id"),
            Self::Approvals => ("approval_outbox", "id"),
        }
    }
}

/// One claimed row, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Unique within its outbox and increasing: receivers order and de-duplicate by it.
    pub id: i64,
    /// Failed attempts so far.
    pub attempts: i32,
    /// What happened: the audit action, or `approval.requested` / `approval.resolved`.
    pub event: String,
    pub body: Value,
}

impl Db {
    /// Claims up to `limit` due rows of `webhook`'s outbox, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn claim_deliveries(
        &self,
        webhook: Webhook,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (table, key) = webhook.table();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "WITH due AS (
                     SELECT {key} FROM {table}
                     WHERE next_attempt_at <= now()
                     ORDER BY {key} LIMIT $1
                     FOR UPDATE SKIP LOCKED)
                 UPDATE {table} o SET next_attempt_at = now() + make_interval(secs => $2)
                 FROM due WHERE o.{key} = due.{key}
                 RETURNING o.{key}, o.attempts"
            ))
            .await?;
        let attempts: BTreeMap<i64, i32> = client
            .query(&statement, &[&limit, &LEASE.as_secs_f64()])
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let ids: Vec<i64> = attempts.keys().copied().collect();
        let tries = |id: i64| attempts.get(&id).copied().unwrap_or(0);
        match webhook {
            Webhook::Siem => Ok(self
                .audit_events_by_id(&ids)
                .await?
                .into_iter()
                .map(|event| Delivery {
                    id: event.id,
                    attempts: tries(event.id),
                    event: event.action.clone(),
                    body: event.to_siem_json(),
                })
                .collect()),
            Webhook::Approvals => {
                let rows = client
                    .query(
                        "SELECT id, event, payload FROM approval_outbox
                         WHERE id = ANY($1) ORDER BY id",
                        &[&ids],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|row| Delivery {
                        id: row.get(0),
                        attempts: tries(row.get(0)),
                        event: row.get(1),
                        body: row.get(2),
                    })
                    .collect())
            }
        }
    }

    /// The receiver accepted the row: it leaves the outbox.
    pub async fn delivered(&self, webhook: Webhook, id: i64) -> Result<(), StoreError> {
        let (table, key) = webhook.table();
        let client = self.client().await?;
        client
            .execute(&format!("DELETE FROM {table} WHERE {key} = $1"), &[&id])
            .await?;
        Ok(())
    }

    /// The receiver refused `failed` or was down: it counts an attempt and keeps the
    /// error; it and the claimed rows after it (`waiting`), which wait behind it so the
    /// receiver sees them in order, are due again after `retry_in`.
    pub async fn defer_deliveries(
        &self,
        webhook: Webhook,
        failed: i64,
        error: &str,
        waiting: &[i64],
        retry_in: Duration,
    ) -> Result<(), StoreError> {
        let (table, key) = webhook.table();
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "UPDATE {table}
                     SET attempts = attempts + CASE WHEN {key} = $1 THEN 1 ELSE 0 END,
                         last_error = CASE WHEN {key} = $1 THEN $2 ELSE last_error END,
                         next_attempt_at = now() + make_interval(secs => $4)
                     WHERE {key} = $1 OR {key} = ANY($3)"
                ),
                &[&failed, &error, &waiting, &retry_in.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// Without a receiver configured the outbox is emptied instead of growing forever.
    pub async fn discard_outbox(&self, webhook: Webhook) -> Result<u64, StoreError> {
        let (table, _) = webhook.table();
        let client = self.client().await?;
        Ok(client.execute(&format!("DELETE FROM {table}"), &[]).await?)
    }
}
