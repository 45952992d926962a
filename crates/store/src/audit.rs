//! The audit trail: append-only rows (the database refuses UPDATE, DELETE and
//! TRUNCATE), each chained to the one before by a sha256 hash so an edit made behind
//! the triggers' back is detectable, and each queued for the SIEM in the same
//! transaction.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::{Db, StoreError};

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Serialises appends so each row sees its predecessor's hash.
const AUDIT_LOCK: i64 = 0x5a6e_6175_6469_7400;

/// Who made a change and from where; taken from the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    pub actor: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl AuditContext {
    /// Changes Sage Runner makes by itself (start-up seeding, approval expiry).
    pub fn system() -> Self {
        Self {
            actor: "system".to_owned(),
            ..Self::default()
        }
    }
}

/// One change. `before` and `after` must already have secrets masked.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The column list of every audit read, in the order `from_row` expects.
macro_rules! audit_columns {
    () => {
        "id, at, actor, action, target_type, target_id, before, after, ip, user_agent, \
         request_id, prev_hash, hash"
    };
}

impl AuditEvent {
    /// The event as the SIEM receives it: every field, with its chain hash so the
    /// receiver can check the chain on its side.
    pub fn to_siem_json(&self) -> Value {
        json!({
            "id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
            "target_type": self.target_type, "target_id": self.target_id,
            "before": self.before, "after": self.after, "ip": self.ip,
            "user_agent": self.user_agent, "request_id": self.request_id, "hash": self.hash,
        })
    }

    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get(0),
            at: row.get(1),
            actor: row.get(2),
            action: row.get(3),
            target_type: row.get(4),
            target_id: row.get(5),
            before: row.get(6),
            after: row.get(7),
            ip: row.get(8),
            user_agent: row.get(9),
            request_id: row.get(10),
            prev_hash: row.get(11),
            hash: row.get(12),
        }
    }

    /// The hash this row must carry given its predecessor's.
    fn expected_hash(&self, prev_hash: &str) -> String {
        chain_hash(
            prev_hash,
            &self.at,
            &AuditContext {
                actor: self.actor.clone(),
                ip: self.ip.clone(),
                user_agent: self.user_agent.clone(),
                request_id: self.request_id.clone(),
            },
            (
                &self.action,
                &self.target_type,
                &self.target_id,
                &self.before,
                &self.after,
            ),
        )
    }
}

type Fields<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a Option<Value>,
    &'a Option<Value>,
);

fn chain_hash(
    prev_hash: &str,
    at: &DateTime<Utc>,
    context: &AuditContext,
    fields: Fields,
) -> String {
    let (action, target_type, target_id, before, after) = fields;
    // A JSON array of every field: unambiguous whatever the fields contain.
    let material = json!([
        prev_hash,
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        context.actor,
        action,
        target_type,
        target_id,
        before,
        after,
        context.ip,
        context.user_agent,
        context.request_id,
    ]);
    sage_model::hex(&Sha256::digest(canonical(&material).as_bytes()))
}

/// JSON with object keys sorted at every level, so a value hashes the same after a
/// round trip through `jsonb` (which reorders keys).
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// Appends one event inside the caller's transaction, with its SIEM outbox row.
#[tracing::instrument(skip_all, fields(action = change.action))]
pub(crate) async fn append(
    transaction: &deadpool_postgres::Transaction<'_>,
    context: &AuditContext,
    change: &Change,
) -> Result<i64, StoreError> {
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await?;
    let prev_hash: String = transaction
        .query_opt(
            "SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await?
        .map_or_else(|| GENESIS.to_owned(), |row| row.get(0));
    // PostgreSQL keeps microseconds; hash exactly what will be stored.
    let at = Utc::now().trunc_subsecs(6);
    let hash = chain_hash(
        &prev_hash,
        &at,
        context,
        (
            change.action,
            change.target_type,
            &change.target_id,
            &change.before,
            &change.after,
        ),
    );
    let statement = transaction
        .prepare_cached(
            "INSERT INTO audit_events (at, actor, action, target_type, target_id, before, after,
                                       ip, user_agent, request_id, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .await?;
    let row = transaction
        .query_one(
            &statement,
            &[
                &at,
                &context.actor,
                &change.action,
                &change.target_type,
                &change.target_id,
                &change.before,
                &change.after,
                &context.ip,
                &context.user_agent,
                &context.request_id,
                &prev_hash,
                &hash,
            ],
        )
        .await?;
    let id: i64 = row.get(0);
    transaction
        .execute("INSERT INTO siem_outbox (audit_id) VALUES ($1)", &[&id])
        .await?;
    Ok(id)
}

/// Filters of `GET /api/v1/audit`; newest first, `before_id` pages.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub ok: bool,
    pub checked: u64,
    /// The first event whose link is broken.
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
}

/// Rows read at once while verifying, so memory stays flat on a long trail.
const VERIFY_PAGE: i64 = 1000;

impl Db {
    /// Records a change that has no other row to go with (a login that created a
    /// user, say).
    pub async fn record_audit(
        &self,
        context: &AuditContext,
        change: &Change,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let id = append(&transaction, context, change).await?;
        transaction.commit().await?;
        Ok(id)
    }

    #[tracing::instrument(skip(self))]
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let client = self.client().await?;
        let sql = concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events
             WHERE ($1::text IS NULL OR actor = $1)
               AND ($2::text IS NULL OR action = $2)
               AND ($3::text IS NULL OR target_id = $3)
               AND ($4::timestamptz IS NULL OR at >= $4)
               AND ($5::bigint IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6"
        );
        let statement = client.prepare_cached(sql).await?;
        let params: [&(dyn ToSql + Sync); 6] = [
            &filter.actor,
            &filter.action,
            &filter.target_id,
            &filter.since,
            &filter.before_id,
            &filter.limit,
        ];
        let rows = client.query(&statement, &params).await?;
        Ok(rows.iter().map(AuditEvent::from_row).collect())
    }

    /// Events by id, in id order.
    pub async fn audit_events_by_id(&self, ids: &[i64]) -> Result<Vec<AuditEvent>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_events WHERE id = ANY($1) ORDER BY id"
            ))
            .await?;
        let rows = client.query(&statement, &[&ids]).await?;
        Ok(rows.iter().map(AuditEvent::from_row).collect())
    }

    /// Walks the whole chain in id order and reports the first broken link.
    #[tracing::instrument(skip(self))]
    pub async fn verify_audit_chain(&self) -> Result<ChainReport, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .await?;
        let (mut after_id, mut prev_hash, mut checked) = (0i64, GENESIS.to_owned(), 0u64);
        loop {
            let rows = client.query(&statement, &[&after_id, &VERIFY_PAGE]).await?;
            if rows.is_empty() {
                return Ok(ChainReport {
                    ok: true,
                    checked,
                    broken_at: None,
                    reason: None,
                });
            }
            for event in rows.iter().map(AuditEvent::from_row) {
                let reason = if event.prev_hash != prev_hash {
                    Some("its prev_hash is not the hash of the row before it")
                } else if event.expected_hash(&prev_hash) != event.hash {
                    Some("its content does not match its hash")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Ok(ChainReport {
                        ok: false,
                        checked,
                        broken_at: Some(event.id),
                        reason: Some(reason.to_owned()),
                    });
                }
                checked += 1;
                after_id = event.id;
                prev_hash = event.hash;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": null}});
        assert_eq!(
            canonical(&a),
            r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#
        );
    }

    #[test]
    fn the_hash_covers_every_field() {
        let at = Utc::now().trunc_subsecs(6);
        let context = AuditContext {
            actor: "a@x".into(),
            ..Default::default()
        };
        let after = Some(json!({"k": 1}));
        let base = chain_hash(
            GENESIS,
            &at,
            &context,
            ("create", "script", "id", &None, &after),
        );
        let other_after = Some(json!({"k": 2}));
        assert_ne!(
            base,
            chain_hash(
                GENESIS,
                &at,
                &context,
                ("create", "script", "id", &None, &other_after)
            )
        );
        assert_ne!(
            base,
            chain_hash(
                GENESIS,
                &at,
                &context,
                ("delete", "script", "id", &None, &after)
            )
        );
        let other_actor = AuditContext {
            actor: "b@x".into(),
            ..Default::default()
        };
        assert_ne!(
            base,
            chain_hash(
                GENESIS,
                &at,
                &other_actor,
                ("create", "script", "id", &None, &after)
            )
        );
        assert_ne!(
            base,
            chain_hash(
                &"1".repeat(64),
                &at,
                &context,
                ("create", "script", "id", &None, &after)
            )
        );
    }
}
