//! The SIEM outbox: audit events waiting for delivery. Rows are claimed with a lease
//! (so two api replicas never send one event at the same time), deleted once the
//! receiver accepted them, and rescheduled with backoff when it did not.

use std::time::Duration;

use crate::audit::AuditEvent;
use crate::{Db, StoreError};

/// How long a claimed row is hidden from other relays while it is being sent.
const LEASE: Duration = Duration::from_secs(60);

impl Db {
    /// Claims up to `limit` due events, oldest first, with their failed attempts so far.
    #[tracing::instrument(skip(self))]
    pub async fn claim_siem_events(
        &self,
        limit: i64,
    ) -> Result<Vec<(AuditEvent, i32)>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "WITH due AS (
                     SELECT audit_id FROM siem_outbox
                     WHERE next_attempt_at <= now()
                     ORDER BY audit_id LIMIT $1
                     FOR UPDATE SKIP LOCKED)
                 UPDATE siem_outbox o SET next_attempt_at = now() + make_interval(secs => $2)
                 FROM due WHERE o.audit_id = due.audit_id
                 RETURNING o.audit_id, o.attempts",
            )
            .await?;
        let lease = LEASE.as_secs_f64();
        let attempts: std::collections::BTreeMap<i64, i32> = client
            .query(&statement, &[&limit, &lease])
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let ids: Vec<i64> = attempts.keys().copied().collect();
        let events = self.audit_events_by_id(&ids).await?;
        Ok(events
            .into_iter()
            .map(|event| {
                let tries = attempts.get(&event.id).copied().unwrap_or(0);
                (event, tries)
            })
            .collect())
    }

    /// The receiver accepted the event: it leaves the outbox.
    pub async fn siem_delivered(&self, audit_id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM siem_outbox WHERE audit_id = $1", &[&audit_id])
            .await?;
        Ok(())
    }

    /// The receiver refused or was down: try again after `retry_in`.
    pub async fn siem_failed(
        &self,
        audit_id: i64,
        error: &str,
        retry_in: Duration,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE siem_outbox SET attempts = attempts + 1, last_error = $2,
                        next_attempt_at = now() + make_interval(secs => $3)
                 WHERE audit_id = $1",
                &[&audit_id, &error, &retry_in.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// Puts claimed events back without counting an attempt: they wait behind an
    /// earlier event that failed, so the receiver sees events in order.
    pub async fn siem_reschedule(
        &self,
        audit_ids: &[i64],
        retry_in: Duration,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE siem_outbox SET next_attempt_at = now() + make_interval(secs => $2)
                 WHERE audit_id = ANY($1)",
                &[&audit_ids, &retry_in.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// Without a SIEM configured the outbox is emptied instead of growing forever.
    pub async fn discard_siem_outbox(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM siem_outbox", &[]).await?)
    }
}
