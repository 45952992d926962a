//! The outbox: messages matched from the audit trail behind one cursor (and from
//! acceptances nearing their end), claimed with a lease, delivered or given up.

use std::time::Duration;

use sage_model::notifications::{ChannelKind, Event, LISTED_FINDINGS};
use serde_json::Value;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::{Db, StoreError};

/// How long a claimed message is hidden from other relays while it is sent.
const LEASE: Duration = Duration::from_secs(120);

/// A claimed message with what its channel needs to send it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: i64,
    pub channel_id: Uuid,
    pub kind: ChannelKind,
    pub config: Value,
    pub sealed: Option<Vec<u8>>,
    pub event: String,
    pub payload: Value,
    /// Failed attempts so far.
    pub attempts: i32,
}

/// The audit actions that end a run.
const RUN_ENDS: [&str; 5] = [
    "execution.finish",
    "execution.lost",
    "execution.cancel",
    "execution.reject",
    "execution.approval_expired",
];

/// A run as messages show it; `e` an execution, `m` its module, `u` its requester.
const RUN_JSON: &str = "jsonb_build_object(
    'id', e.id, 'module', m.name, 'module_id', m.id, 'module_version', e.module_version,
    'status', e.status, 'reason', e.reason, 'exit_code', e.exit_code,
    'requested_by', u.email, 'created_at', e.created_at, 'started_at', e.started_at,
    'finished_at', e.finished_at, 'approvals_required', e.approvals_required,
    'scan_id', e.scan_id)";

impl Db {
    /// Matches up to `limit` audit events after the cursor against the enabled rules,
    /// queues a message for each match and moves the cursor past them, in one
    /// transaction. Returns how many events were read: 0 when the trail is read to its
    /// end or another replica is matching.
    pub async fn match_notifications(&self, limit: i64) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(cursor) = transaction
            .query_opt(
                "SELECT audit_id FROM notification_cursor FOR UPDATE SKIP LOCKED",
                &[],
            )
            .await?
        else {
            return Ok(0);
        };
        let from: i64 = cursor.get(0);
        let window = transaction
            .query_one(
                "SELECT count(*), max(id) FROM (
                     SELECT id FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2) AS w",
                &[&from, &limit],
            )
            .await?;
        let (read, to): (i64, Option<i64>) = (window.get(0), window.get(1));
        let Some(to) = to else {
            return Ok(0);
        };
        // Timestamps in payloads read as RFC 3339 in UTC whatever the server's zone.
        transaction
            .execute("SET LOCAL TIME ZONE 'UTC'", &[])
            .await?;
        // Each statement reads its events first (a CTE, so only their ids are cast to
        // uuids: other targets' ids are account numbers and names).
        let events =
            |actions: &[&str]| -> Vec<String> { actions.iter().map(|a| (*a).to_owned()).collect() };
        let matches = [
            // A run ended: its module and status as the rule asks.
            (
                Event::RunFinished,
                format!(
                    "WITH a AS MATERIALIZED (
                         SELECT id, at, target_id::uuid AS target FROM audit_events
                         WHERE id > $1 AND id <= $2 AND action = ANY($3))
                     INSERT INTO notification_outbox (rule_id, channel_id, event, dedupe_key, payload)
                     SELECT r.id, r.channel_id, r.event, 'audit:' || a.id,
                            jsonb_build_object('event', r.event, 'at', a.at, 'execution', {RUN_JSON})
                     FROM a
                     JOIN executions e ON e.id = a.target
                     JOIN modules m ON m.id = e.module_id
                     JOIN users u ON u.id = e.requested_by
                     JOIN notification_rules r ON r.event = 'run.finished' AND r.enabled
                          AND (r.module_id IS NULL OR r.module_id = e.module_id)
                          AND (r.statuses = '{{}}' OR e.status = ANY(r.statuses))
                     ON CONFLICT (rule_id, dedupe_key) DO NOTHING"
                ),
                events(&RUN_ENDS),
            ),
            // A run waits for approval, from its submission.
            (
                Event::ApprovalRequested,
                format!(
                    "WITH a AS MATERIALIZED (
                         SELECT id, at, target_id::uuid AS target FROM audit_events
                         WHERE id > $1 AND id <= $2 AND action = ANY($3)
                           AND after ->> 'status' = 'awaiting_approval')
                     INSERT INTO notification_outbox (rule_id, channel_id, event, dedupe_key, payload)
                     SELECT r.id, r.channel_id, r.event, 'audit:' || a.id,
                            jsonb_build_object('event', r.event, 'at', a.at, 'execution', {RUN_JSON})
                     FROM a
                     JOIN executions e ON e.id = a.target
                     JOIN modules m ON m.id = e.module_id
                     JOIN users u ON u.id = e.requested_by
                     JOIN notification_rules r ON r.event = 'approval.requested' AND r.enabled
                          AND (r.module_id IS NULL OR r.module_id = e.module_id)
                     ON CONFLICT (rule_id, dedupe_key) DO NOTHING"
                ),
                events(&["execution.submit"]),
            ),
            // A scan ended: its counts and the accounts that failed, named.
            (
                Event::ScanFinished,
                "WITH a AS MATERIALIZED (
                     SELECT id, at, target_id::uuid AS target FROM audit_events
                     WHERE id > $1 AND id <= $2 AND action = ANY($3))
                 INSERT INTO notification_outbox (rule_id, channel_id, event, dedupe_key, payload)
                 SELECT r.id, r.channel_id, r.event, 'audit:' || a.id,
                        jsonb_build_object('event', r.event, 'at', a.at, 'scan', jsonb_build_object(
                            'id', s.id, 'tool', s.tool, 'status', s.status,
                            'created_at', s.created_at, 'finished_at', s.finished_at,
                            'total', c.total, 'succeeded', c.succeeded, 'failed', c.failed,
                            'failed_accounts', c.failed_accounts))
                 FROM a
                 JOIN scans s ON s.id = a.target
                 CROSS JOIN LATERAL (
                     SELECT count(*) AS total,
                            count(*) FILTER (WHERE e.status = 'succeeded') AS succeeded,
                            count(*) FILTER (WHERE e.status IS DISTINCT FROM 'succeeded') AS failed,
                            coalesce(jsonb_agg(t.account_id || ': ' || coalesce(
                                         t.refusal, e.status || coalesce(' (' || e.reason || ')', '')))
                                     FILTER (WHERE e.status IS DISTINCT FROM 'succeeded'), '[]')
                                AS failed_accounts
                     FROM scan_targets t LEFT JOIN executions e ON e.id = t.execution_id
                     WHERE t.scan_id = s.id) AS c
                 JOIN notification_rules r ON r.event = 'scan.finished' AND r.enabled
                      AND (r.tool IS NULL OR r.tool = s.tool)
                      AND (r.statuses = '{}' OR s.status = ANY(r.statuses))
                 ON CONFLICT (rule_id, dedupe_key) DO NOTHING"
                    .to_owned(),
                events(&["scan.finish", "scan.cancel"]),
            ),
            // A tool run's findings first seen, or failing again after a fix, of at least
            // the rule's severity: listed, gravest first, and counted.
            (
                Event::NewFindings,
                format!(
                    "WITH a AS MATERIALIZED (
                         SELECT id, at, target_id::uuid AS target FROM audit_events
                         WHERE id > $1 AND id <= $2 AND action = ANY($3))
                     INSERT INTO notification_outbox (rule_id, channel_id, event, dedupe_key, payload)
                     SELECT r.id, r.channel_id, r.event, 'audit:' || a.id,
                            jsonb_build_object('event', r.event, 'at', a.at, 'tool', t.tool,
                                'execution_id', t.execution_id, 'total', f.total,
                                'findings', f.listed)
                     FROM a
                     JOIN tool_runs t ON t.execution_id = a.target
                     JOIN notification_rules r ON r.event = 'findings.new' AND r.enabled
                          AND (r.tool IS NULL OR r.tool = t.tool)
                     CROSS JOIN LATERAL (
                         SELECT count(*) AS total,
                                coalesce(jsonb_agg(jsonb_build_object(
                                    'fingerprint', n.fingerprint, 'state', n.to_state,
                                    'severity', n.severity, 'check_id', n.check_id,
                                    'title', n.title, 'resource_id', n.resource_id,
                                    'account', n.account, 'region', n.region)
                                    ORDER BY n.place)
                                  FILTER (WHERE n.place <= {LISTED_FINDINGS}), '[]') AS listed
                         FROM (SELECT fe.to_state, s.fingerprint, s.severity, s.check_id,
                                      s.title, s.resource_id, s.account, s.region,
                                      row_number() OVER (ORDER BY s.severity_rank, s.check_id,
                                                                  s.resource_id) AS place
                               FROM finding_events fe
                               JOIN finding_states s ON s.fingerprint = fe.fingerprint
                               WHERE fe.execution_id = t.execution_id
                                 AND fe.to_state IN ('new', 'reopened')
                                 AND s.severity_rank <= r.min_severity_rank) AS n) AS f
                     WHERE f.total > 0
                     ON CONFLICT (rule_id, dedupe_key) DO NOTHING"
                ),
                events(&["execution.finish"]),
            ),
        ];
        // Only the events some enabled rule listens for are matched.
        let listened: Vec<String> = transaction
            .query(
                "SELECT DISTINCT event FROM notification_rules WHERE enabled",
                &[],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        for (event, statement, actions) in &matches {
            if listened.iter().any(|e| e == event.as_str()) {
                transaction
                    .execute(statement.as_str(), &[&from, &to, actions])
                    .await?;
            }
        }
        transaction
            .execute("UPDATE notification_cursor SET audit_id = $1", &[&to])
            .await?;
        transaction.commit().await?;
        Ok(u64::try_from(read).unwrap_or_default())
    }

    /// Queues, once per rule and acceptance (and again if its expiry moves), a message
    /// for each acceptance in effect that ends within its rule's days.
    pub async fn queue_expiring_acceptances(&self) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute("SET LOCAL TIME ZONE 'UTC'", &[])
            .await?;
        let queued = transaction
            .execute(
                "INSERT INTO notification_outbox (rule_id, channel_id, event, dedupe_key, payload)
                 SELECT r.id, r.channel_id, r.event,
                        'acceptance:' || a.id || ':' || extract(epoch FROM a.expires_at),
                        jsonb_build_object('event', r.event, 'at', now(),
                            'acceptance', jsonb_build_object(
                                'id', a.id, 'tool', a.tool, 'fingerprint', a.fingerprint,
                                'check_id', a.check_id, 'accounts', a.accounts,
                                'regions', a.regions, 'resource', a.resource,
                                'reason', a.reason, 'expires_at', a.expires_at,
                                'requested_by', u.email))
                 FROM notification_rules r
                 JOIN risk_acceptances a ON a.status = 'approved' AND a.expires_at > now()
                      AND a.expires_at <= now() + make_interval(days => r.days_before)
                 JOIN users u ON u.id = a.requested_by
                 WHERE r.event = 'acceptance.expiring' AND r.enabled
                 ON CONFLICT (rule_id, dedupe_key) DO NOTHING",
                &[],
            )
            .await?;
        transaction.commit().await?;
        Ok(queued)
    }

    /// Claims up to `limit` due messages, oldest first, each with its channel.
    pub async fn claim_notifications(&self, limit: i64) -> Result<Vec<Outgoing>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH due AS (
                     SELECT id FROM notification_outbox
                     WHERE status = 'pending' AND next_attempt_at <= now()
                     ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
                 UPDATE notification_outbox o
                 SET next_attempt_at = now() + make_interval(secs => $2)
                 FROM due, notification_channels c
                 WHERE o.id = due.id AND c.id = o.channel_id
                 RETURNING o.id, o.channel_id, c.kind, c.config, c.sealed, o.event, o.payload,
                           o.attempts",
                &[&limit, &LEASE.as_secs_f64()],
            )
            .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(Outgoing {
                    id: row.get(0),
                    channel_id: row.get(1),
                    kind: row
                        .get::<_, String>(2)
                        .parse()
                        .map_err(|_| StoreError::Corrupt("notification channel kind"))?,
                    config: row.get::<_, Json<Value>>(3).0,
                    sealed: row.get(4),
                    event: row.get(5),
                    payload: row.get::<_, Json<Value>>(6).0,
                    attempts: row.get(7),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by_key(|o| o.id);
        Ok(claimed)
    }

    pub async fn notification_delivered(&self, id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE notification_outbox SET status = 'delivered', delivered_at = now(),
                        attempts = attempts + 1
                 WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(())
    }

    /// A failed attempt: tried again after `retry_in`, or, with `None`, given up.
    pub async fn notification_failed(
        &self,
        id: i64,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2,
                        status = CASE WHEN $3::float8 IS NULL THEN 'failed' ELSE status END,
                        next_attempt_at = now() + make_interval(secs => coalesce($3, 0))
                 WHERE id = $1",
                &[&id, &error, &retry_in.map(|d| d.as_secs_f64())],
            )
            .await?;
        Ok(())
    }
}
