//! Notification channels and rules, and their outbox. Messages are matched from the
//! audit trail: every change that can be told of is audited in its own transaction,
//! and audit events commit in id order (their chain is appended under one lock), so
//! reading the trail after a cursor sees each change once, whichever replica reads.
//! A matched message waits in the outbox until its channel took it, retried with
//! backoff, and stays there afterwards as the channel's record of deliveries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sage_model::UserId;
use sage_model::notifications::{ChannelKind, Event, LISTED_FINDINGS, NewRule};
use serde_json::{Value, json};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

/// How long a claimed message is hidden from other relays while it is sent.
const LEASE: Duration = Duration::from_secs(120);

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

/// What `delete_channel` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRemoval {
    Deleted,
    Missing,
    /// Rules (by name) still send to it.
    InUse(Vec<String>),
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
