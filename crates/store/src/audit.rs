//! The audit trail: append-only rows (the database refuses UPDATE, DELETE and
//! TRUNCATE), each chained to the one before by an HMAC-SHA256 under a key that is not
//! in the database, so an edit made behind the triggers' back cannot be hidden by
//! recomputing the links; each row is queued for the SIEM in the same transaction, and
//! the copies the SIEM holds show a trail that was cut short.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SubsecRound, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

use crate::conditions::Conditions;
use crate::{Db, StoreError};

/// The key of the chain: AUDIT_KEY, at least 32 random bytes in base64. Api and workers
/// share it, and it must stay the same for as long as the trail is kept.
#[derive(Clone)]
pub struct AuditKey(Arc<Hmac<Sha256>>);

impl AuditKey {
    pub fn parse(value: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(value.trim())
            .map_err(|_| "must be base64 (openssl rand -base64 32)".to_owned())?;
        if bytes.len() < 32 {
            return Err(format!(
                "must decode to at least 32 bytes, not {}",
                bytes.len()
            ));
        }
        Hmac::new_from_slice(&bytes)
            .map(|mac| Self(Arc::new(mac)))
            .map_err(|_| "is not a usable HMAC key".to_owned())
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

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
    /// The request's W3C trace context, carried to the jobs it queues (not audited).
    pub traceparent: Option<String>,
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

impl Change {
    /// An execution's step from one status to another; `also` adds to what it became
    /// (an object: the reason, the worker).
    pub(crate) fn execution_step(
        action: &'static str,
        id: uuid::Uuid,
        step: sage_model::Transition,
        also: Value,
    ) -> Self {
        let mut after = json!({"status": step.to()});
        if let (Some(after), Value::Object(also)) = (after.as_object_mut(), also) {
            after.extend(also);
        }
        Self {
            action,
            target_type: "execution",
            target_id: id.to_string(),
            before: Some(json!({"status": step.from()})),
            after: Some(after),
        }
    }
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
    /// Linked by the keyed HMAC; `false` only for rows written before the chain was
    /// keyed (plain SHA-256), which may only precede every keyed row.
    pub keyed: bool,
}

/// The column list of every audit read, in the order `from_row` expects.
macro_rules! audit_columns {
    () => {
        "id, at, actor, action, target_type, target_id, before, after, ip, user_agent, \
         request_id, prev_hash, hash, keyed"
    };
}

impl AuditEvent {
    /// The event as the SIEM receives it: every field, with its chain hash, which the
    /// receiver keeps so that `verify` can hold the trail against it (`heads`).
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
            keyed: row.get(13),
        }
    }

    /// The hash this row must carry given its predecessor's.
    fn expected_hash(&self, key: &AuditKey, prev_hash: &str) -> String {
        chain_hash(
            self.keyed.then_some(key),
            prev_hash,
            &self.at,
            &AuditContext {
                actor: self.actor.clone(),
                ip: self.ip.clone(),
                user_agent: self.user_agent.clone(),
                request_id: self.request_id.clone(),
                traceparent: None,
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

/// The link of one row: HMAC-SHA256 under `key`, or plain SHA-256 for a row written
/// before the chain was keyed.
fn chain_hash(
    key: Option<&AuditKey>,
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
    let material = canonical(&material);
    match key {
        Some(key) => {
            let mut mac = (*key.0).clone();
            mac.update(material.as_bytes());
            sage_model::hex(&mac.finalize().into_bytes())
        }
        None => sage_model::hex(&Sha256::digest(material.as_bytes())),
    }
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
    key: &AuditKey,
    context: &AuditContext,
    change: &Change,
) -> Result<i64, StoreError> {
    append_linked(transaction, Some(key), context, change).await
}

/// Appends with a keyed link, or (tests of trails written before the key) a plain one.
async fn append_linked(
    transaction: &deadpool_postgres::Transaction<'_>,
    key: Option<&AuditKey>,
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
        key,
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
                                       ip, user_agent, request_id, prev_hash, hash, keyed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
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
                &key.is_some(),
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
        self.record_linked(Some(&self.audit_key), context, change)
            .await
    }

    async fn record_linked(
        &self,
        key: Option<&AuditKey>,
        context: &AuditContext,
        change: &Change,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let id = append_linked(&transaction, key, context, change).await?;
        transaction.commit().await?;
        Ok(id)
    }

    #[tracing::instrument(skip(self))]
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let mut conditions = Conditions::default();
        if let Some(actor) = &filter.actor {
            let actor = conditions.bind(actor.clone());
            conditions.and(format!("actor = {actor}"));
        }
        if let Some(action) = &filter.action {
            let action = conditions.bind(action.clone());
            conditions.and(format!("action = {action}"));
        }
        if let Some(target_id) = &filter.target_id {
            let target_id = conditions.bind(target_id.clone());
            conditions.and(format!("target_id = {target_id}"));
        }
        if let Some(since) = filter.since {
            let since = conditions.bind(since);
            conditions.and(format!("at >= {since}"));
        }
        if let Some(before_id) = filter.before_id {
            let before_id = conditions.bind(before_id);
            conditions.and(format!("id < {before_id}"));
        }
        let limit = conditions.bind(filter.limit);
        let sql = format!(
            "SELECT {} FROM audit_events {} ORDER BY id DESC LIMIT {limit}",
            audit_columns!(),
            conditions.where_clause()
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client.query(&statement, &conditions.values()).await?;
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

    /// Walks the whole chain in id order and reports the first broken link, then holds
    /// it against copies of events the SIEM received (`heads`, id and hash): a trail cut
    /// short, or rewritten from a row on, differs from them.
    #[tracing::instrument(skip(self, heads))]
    pub async fn verify_audit_chain(&self, heads: &[ChainHead]) -> Result<ChainReport, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .await?;
        let mut walk = ChainWalk::default();
        // The walk reads every row: it notes the hashes of the heads' rows on its way.
        let wanted: std::collections::HashSet<i64> = heads.iter().map(|head| head.id).collect();
        let mut held: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
        loop {
            let rows = client
                .query(&statement, &[&walk.after_id, &VERIFY_PAGE])
                .await?;
            if rows.is_empty() {
                break;
            }
            for event in rows.iter().map(AuditEvent::from_row) {
                if let Err(reason) = walk.step(&self.audit_key, &event) {
                    return Ok(walk.broken(event.id, reason));
                }
                if wanted.contains(&event.id) {
                    held.insert(event.id, event.hash);
                }
            }
        }
        // A walk that got here saw its keyed rows last: `seen_keyed` is the last row's.
        if walk.checked > 0 && !walk.seen_keyed {
            // Every running api seals a legacy trail with a keyed event at start, so an
            // unkeyed last row means keyed rows were removed or turned into plain ones.
            return Ok(walk.broken(
                walk.after_id,
                "the last event is not keyed: keyed events after it were removed or rewritten",
            ));
        }
        for head in heads {
            let reason = match held.get(&head.id) {
                None => "the SIEM received this event, and the trail no longer holds it",
                Some(hash) if *hash != head.hash => {
                    "the SIEM received this event with another hash"
                }
                Some(_) => continue,
            };
            return Ok(walk.broken(head.id, reason));
        }
        Ok(ChainReport {
            ok: true,
            checked: walk.checked,
            broken_at: None,
            reason: None,
        })
    }

    /// Gives a trail written before the chain was keyed a keyed last event, so that from
    /// now on an unkeyed last row shows that keyed ones were removed. Nothing happens on
    /// an empty or already keyed trail.
    pub async fn seal_unkeyed_audit_trail(&self) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let last = client
            .query_opt(
                "SELECT keyed FROM audit_events ORDER BY id DESC LIMIT 1",
                &[],
            )
            .await?;
        if !matches!(last, Some(row) if !row.get::<_, bool>(0)) {
            return Ok(false);
        }
        let change = Change {
            action: "audit.chain.keyed",
            target_type: "audit",
            target_id: "chain".to_owned(),
            before: None,
            after: Some(json!({"links": "hmac-sha256"})),
        };
        self.record_audit(&AuditContext::system(), &change).await?;
        Ok(true)
    }
}

#[cfg(feature = "testing")]
impl Db {
    /// Appends an event linked by plain SHA-256, as every event was before the chain
    /// was keyed.
    pub async fn record_unkeyed_audit_for_tests(
        &self,
        context: &AuditContext,
        change: &Change,
    ) -> Result<i64, StoreError> {
        self.record_linked(None, context, change).await
    }
}

/// An event as the SIEM received it, to hold the trail against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub id: i64,
    pub hash: String,
}

/// Where a walk along the chain is.
struct ChainWalk {
    after_id: i64,
    prev_hash: String,
    checked: u64,
    seen_keyed: bool,
}

impl Default for ChainWalk {
    fn default() -> Self {
        Self {
            after_id: 0,
            prev_hash: GENESIS.to_owned(),
            checked: 0,
            seen_keyed: false,
        }
    }
}

impl ChainWalk {
    fn step(&mut self, key: &AuditKey, event: &AuditEvent) -> Result<(), &'static str> {
        if self.seen_keyed && !event.keyed {
            return Err("it is not keyed, yet keyed events precede it");
        }
        if event.prev_hash != self.prev_hash {
            return Err("its prev_hash is not the hash of the row before it");
        }
        if event.expected_hash(key, &self.prev_hash) != event.hash {
            return Err(
                "its content does not match its hash (or AUDIT_KEY is not the key it was written with)",
            );
        }
        self.checked += 1;
        self.after_id = event.id;
        self.prev_hash.clone_from(&event.hash);
        self.seen_keyed |= event.keyed;
        Ok(())
    }

    fn broken(&self, at: i64, reason: &str) -> ChainReport {
        ChainReport {
            ok: false,
            checked: self.checked,
            broken_at: Some(at),
            reason: Some(reason.to_owned()),
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
    fn a_keyed_link_depends_on_the_key_and_differs_from_the_plain_one() {
        let at = Utc::now().trunc_subsecs(6);
        let context = AuditContext::system();
        let fields = ("create", "script", "id", &None, &None);
        let key = AuditKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        let other = AuditKey::parse(&STANDARD.encode([8u8; 32])).unwrap();
        let keyed = chain_hash(Some(&key), GENESIS, &at, &context, fields);
        assert_eq!(
            keyed,
            chain_hash(Some(&key), GENESIS, &at, &context, fields)
        );
        assert_ne!(
            keyed,
            chain_hash(Some(&other), GENESIS, &at, &context, fields)
        );
        assert_ne!(keyed, chain_hash(None, GENESIS, &at, &context, fields));
    }

    #[test]
    fn an_audit_key_is_long_base64() {
        assert!(AuditKey::parse("not base64!").is_err());
        let short = AuditKey::parse(&STANDARD.encode([1u8; 16])).unwrap_err();
        assert!(short.contains("at least 32 bytes"), "{short}");
        assert_eq!(
            format!(
                "{:?}",
                AuditKey::parse(&STANDARD.encode([1u8; 32])).unwrap()
            ),
            "AuditKey(..)"
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
            None,
            GENESIS,
            &at,
            &context,
            ("create", "script", "id", &None, &after),
        );
        let other_after = Some(json!({"k": 2}));
        assert_ne!(
            base,
            chain_hash(
                None,
                GENESIS,
                &at,
                &context,
                ("create", "script", "id", &None, &other_after)
            )
        );
        assert_ne!(
            base,
            chain_hash(
                None,
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
                None,
                GENESIS,
                &at,
                &other_actor,
                ("create", "script", "id", &None, &after)
            )
        );
        assert_ne!(
            base,
            chain_hash(
                None,
                &"1".repeat(64),
                &at,
                &context,
                ("create", "script", "id", &None, &after)
            )
        );
    }
}
