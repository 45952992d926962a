//! Evidence reports: requested over HTTP (pending, with a job in the outbox), built by a
//! worker (building), then ready with their summary and files in S3, or failed with
//! the reason. Every step is audited.

use chrono::{DateTime, Utc};
use sage_model::names::WorkerId;
use sage_model::{EvidenceId, ExecutionId, UserId};
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::artifacts::Artifact;
use crate::audit::{AuditContext, Change, append};
use crate::conditions::Conditions;
use crate::runs::worker_context;
use crate::{Db, StoreError};

/// A report to build.
#[derive(Debug, Clone)]
pub struct EvidenceRequest {
    pub id: EvidenceId,
    pub title: String,
    pub lang: String,
    pub execution_ids: Vec<ExecutionId>,
    /// Only these tools' findings; `None`: every tool found.
    pub tools: Option<Vec<String>>,
    /// `None`: the building worker's default.
    pub max_findings_per_check: Option<i32>,
    /// The framework whose requirements the report assesses.
    pub compliance: Option<String>,
    pub created_by: UserId,
}

/// `GET /api/v1/evidence`: each filter given narrows the list.
#[derive(Debug, Clone, Default)]
pub struct EvidenceFilter {
    /// Only this user's reports (a reader who may not read everyone's).
    pub only_of: Option<UserId>,
    pub tool: Option<String>,
    pub lang: Option<String>,
    pub status: Option<EvidenceStatus>,
    /// The creator's email.
    pub created_by: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Created before this one (its time and id), newest first.
    pub after: Option<(DateTime<Utc>, EvidenceId)>,
    pub limit: i64,
}

/// What a pack's manifest records beside its files.
#[derive(Debug, Clone, PartialEq)]
pub struct PackFacts {
    pub runs: Value,
    pub audit_head: Value,
    /// (requirement, file name, S3 key) of each cited document.
    pub documents: Vec<(String, String, String)>,
}

/// How often a report is built before it fails for good.
pub const BUILD_ATTEMPTS: i32 = 3;

/// Why a report that stopped its worker on every attempt failed.
const GAVE_UP: &str = "the build stopped without finishing on each of its 3 attempts (its \
     worker was stopped, most likely out of memory); it is not tried again";

/// Builds found stale: queued again, or failed for good.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StaleBuilds {
    pub again: Vec<EvidenceId>,
    pub failed: Vec<EvidenceId>,
}

/// How a build ends.
enum BuildEnd<'a> {
    Ready {
        summary: &'a Value,
        files: &'a [Artifact],
    },
    Failed {
        error: &'a str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceStatus {
    Pending,
    Building,
    Ready,
    Failed,
}

impl EvidenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Building => "building",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub const ALL: [Self; 4] = [Self::Pending, Self::Building, Self::Ready, Self::Failed];

    /// The status named `text`, as the api reads a filter.
    pub fn named(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Self::named(text).ok_or(StoreError::Corrupt("evidence status"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub id: EvidenceId,
    pub title: String,
    pub lang: String,
    pub execution_ids: Vec<ExecutionId>,
    pub tools: Option<Vec<String>>,
    pub status: EvidenceStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// Once ready.
    pub summary: Option<Value>,
    pub max_findings_per_check: Option<i32>,
    /// The framework whose requirements it assesses.
    pub compliance: Option<String>,
    /// The creator's email.
    pub created_by: String,
    pub created_by_id: UserId,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub files: Vec<Artifact>,
}

/// The columns every read takes, in the order `from_row` expects.
const COLUMNS: &str = "e.id, e.title, e.lang, e.execution_ids, e.tools, e.status, e.error,
    e.summary, e.max_findings_per_check, u.email, e.created_by, e.created_at, e.finished_at,
    e.compliance";

impl Evidence {
    fn from_row(row: &Row, files: Vec<Artifact>) -> Result<Self, StoreError> {
        Ok(Self {
            id: EvidenceId::from(row.get::<_, Uuid>(0)),
            title: row.get(1),
            lang: row.get(2),
            execution_ids: row
                .get::<_, Vec<Uuid>>(3)
                .into_iter()
                .map(ExecutionId::from)
                .collect(),
            tools: row.get(4),
            status: EvidenceStatus::parse(row.get(5))?,
            error: row.get(6),
            summary: row.get(7),
            max_findings_per_check: row.get(8),
            compliance: row.get(13),
            created_by: row.get(9),
            created_by_id: UserId::from(row.get::<_, Uuid>(10)),
            created_at: row.get(11),
            finished_at: row.get(12),
            files,
        })
    }
}

impl Db {
    /// Records a report to build, pending, with its job, in one transaction.
    #[tracing::instrument(skip_all, fields(evidence_id = %request.id))]
    pub async fn request_evidence(
        &self,
        request: &EvidenceRequest,
        context: &AuditContext,
    ) -> Result<Evidence, StoreError> {
        let execution_ids: Vec<Uuid> = request
            .execution_ids
            .iter()
            .map(ExecutionId::as_uuid)
            .collect();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "INSERT INTO evidence (id, title, lang, execution_ids, tools,
                                       max_findings_per_check, created_by, compliance)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &request.id.as_uuid(),
                    &request.title,
                    &request.lang,
                    &execution_ids,
                    &request.tools,
                    &request.max_findings_per_check,
                    &request.created_by.as_uuid(),
                    &request.compliance,
                ],
            )
            .await?;
        transaction
            .execute(
                "INSERT INTO job_outbox (evidence_id, traceparent) VALUES ($1, $2)",
                &[&request.id.as_uuid(), &context.traceparent],
            )
            .await?;
        let change = Change {
            action: "evidence.request",
            target_type: "evidence",
            target_id: request.id.to_string(),
            before: None,
            after: Some(json!({
                "title": request.title, "lang": request.lang,
                "execution_ids": request.execution_ids, "tools": request.tools,
                "compliance": request.compliance,
            })),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        // Read before the commit: once committed, a worker may take it at once, and
        // the answer is the request as recorded (pending), not a later state.
        let row = transaction
            .query_one(
                &format!(
                    "SELECT {COLUMNS} FROM evidence e JOIN users u ON u.id = e.created_by
                     WHERE e.id = $1"
                ),
                &[&request.id.as_uuid()],
            )
            .await?;
        transaction.commit().await?;
        Evidence::from_row(&row, Vec::new())
    }

    /// pending → building; `None`: nothing to build (built, failed, or another worker
    /// builds it).
    pub async fn claim_evidence(&self, id: EvidenceId) -> Result<Option<Evidence>, StoreError> {
        let client = self.client().await?;
        let claimed = client
            .execute(
                "UPDATE evidence SET status = 'building', started_at = now(),
                     attempts = attempts + 1
                 WHERE id = $1 AND status = 'pending'",
                &[&id.as_uuid()],
            )
            .await?;
        if claimed == 0 {
            return Ok(None);
        }
        self.evidence(id).await
    }

    /// building → ready, with the files already in S3; false when it was not building.
    #[tracing::instrument(skip(self, summary, files))]
    pub async fn finish_evidence(
        &self,
        id: EvidenceId,
        summary: &Value,
        files: &[Artifact],
        worker_id: &WorkerId,
    ) -> Result<bool, StoreError> {
        self.end_build(id, BuildEnd::Ready { summary, files }, worker_id)
            .await
    }

    /// building → failed, with why.
    #[tracing::instrument(skip(self))]
    pub async fn fail_evidence(
        &self,
        id: EvidenceId,
        error: &str,
        worker_id: &WorkerId,
    ) -> Result<bool, StoreError> {
        self.end_build(id, BuildEnd::Failed { error }, worker_id)
            .await
    }

    /// Ends a build, with its files when ready, audited as the worker's; false when the
    /// report was not building.
    async fn end_build(
        &self,
        id: EvidenceId,
        end: BuildEnd<'_>,
        worker_id: &WorkerId,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let uuid = id.as_uuid();
        let (done, change) = match end {
            BuildEnd::Ready { summary, files } => {
                let done = transaction
                    .execute(
                        "UPDATE evidence SET status = 'ready', summary = $2, finished_at = now()
                         WHERE id = $1 AND status = 'building'",
                        &[&uuid, summary],
                    )
                    .await?;
                if done == 0 {
                    return Ok(false);
                }
                for file in files {
                    transaction
                        .execute(
                            "INSERT INTO evidence_files (evidence_id, name, size, sha256, content_type, s3_key)
                             VALUES ($1, $2, $3, $4, $5, $6)",
                            &[&uuid, &file.name, &file.size, &file.sha256, &file.content_type, &file.s3_key],
                        )
                        .await?;
                }
                let files: Vec<Value> = files
                    .iter()
                    .map(|f| json!({"name": f.name, "sha256": f.sha256}))
                    .collect();
                let after =
                    json!({"status": "ready", "total": summary.get("total"), "files": files});
                (done, ("evidence.create", after))
            }
            BuildEnd::Failed { error } => {
                let done = transaction
                    .execute(
                        "UPDATE evidence SET status = 'failed', error = $2, finished_at = now()
                         WHERE id = $1 AND status = 'building'",
                        &[&uuid, &error],
                    )
                    .await?;
                (
                    done,
                    ("evidence.fail", json!({"status": "failed", "error": error})),
                )
            }
        };
        if done == 0 {
            return Ok(false);
        }
        let (action, after) = change;
        let change = Change {
            action,
            target_type: "evidence",
            target_id: id.to_string(),
            before: Some(json!({"status": "building"})),
            after: Some(after),
        };
        append(
            &transaction,
            &self.audit_key,
            &worker_context(worker_id),
            &change,
        )
        .await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// Builds that have not finished for `stale_after` lost their worker: back to
    /// pending with a new job, or, after their last attempt, failed for good (audited
    /// as `worker_id`'s), since a report that stops every worker that builds it would
    /// otherwise be queued again forever.
    pub async fn requeue_stale_evidence(
        &self,
        stale_after: std::time::Duration,
        worker_id: &WorkerId,
    ) -> Result<StaleBuilds, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let stale = "status = 'building' AND started_at < now() - make_interval(secs => $1)";
        let ids = |rows: Vec<Row>| -> Vec<Uuid> { rows.iter().map(|row| row.get(0)).collect() };
        let failed = ids(transaction
            .query(
                &format!(
                    "UPDATE evidence SET status = 'failed', error = $2, finished_at = now()
                     WHERE {stale} AND attempts >= $3 RETURNING id"
                ),
                &[&stale_after.as_secs_f64(), &GAVE_UP, &BUILD_ATTEMPTS],
            )
            .await?);
        let context = worker_context(worker_id);
        for id in &failed {
            let change = Change {
                action: "evidence.fail",
                target_type: "evidence",
                target_id: id.to_string(),
                before: Some(json!({"status": "building"})),
                after: Some(json!({"status": "failed", "error": GAVE_UP})),
            };
            append(&transaction, &self.audit_key, &context, &change).await?;
        }
        let again = ids(transaction
            .query(
                &format!(
                    "UPDATE evidence SET status = 'pending', started_at = NULL
                     WHERE {stale} RETURNING id"
                ),
                &[&stale_after.as_secs_f64()],
            )
            .await?);
        transaction
            .execute(
                "INSERT INTO job_outbox (evidence_id) SELECT unnest($1::uuid[])",
                &[&again],
            )
            .await?;
        transaction.commit().await?;
        let typed = |ids: Vec<Uuid>| ids.into_iter().map(EvidenceId::from).collect();
        Ok(StaleBuilds {
            again: typed(again),
            failed: typed(failed),
        })
    }

    #[tracing::instrument(skip(self))]
    /// Reports newest first, as `filter` narrows them; without their files.
    pub async fn evidence_list(
        &self,
        filter: &EvidenceFilter,
    ) -> Result<Vec<Evidence>, StoreError> {
        let mut conditions = Conditions::default();
        if let Some(reader) = filter.only_of {
            let reader = conditions.bind(reader.as_uuid());
            conditions.and(format!("e.created_by = {reader}"));
        }
        if let Some(tool) = &filter.tool {
            let tool = conditions.bind(tool.clone());
            conditions.and(format!("{tool} = ANY (e.tools)"));
        }
        if let Some(lang) = &filter.lang {
            let lang = conditions.bind(lang.clone());
            conditions.and(format!("e.lang = {lang}"));
        }
        if let Some(status) = filter.status {
            let status = conditions.bind(status.as_str());
            conditions.and(format!("e.status = {status}"));
        }
        if let Some(email) = &filter.created_by {
            let email = conditions.bind(email.clone());
            conditions.and(format!("u.email = {email}"));
        }
        if let Some(since) = filter.since {
            let since = conditions.bind(since);
            conditions.and(format!("e.created_at >= {since}"));
        }
        if let Some(until) = filter.until {
            let until = conditions.bind(until);
            conditions.and(format!("e.created_at < {until}"));
        }
        if let Some((at, id)) = filter.after {
            let (at, id) = (conditions.bind(at), conditions.bind(id.as_uuid()));
            conditions.and(format!("(e.created_at, e.id) < ({at}, {id})"));
        }
        let limit = conditions.bind(filter.limit);
        let sql = format!(
            "SELECT {COLUMNS} FROM evidence e JOIN users u ON u.id = e.created_by {}
             ORDER BY e.created_at DESC, e.id DESC LIMIT {limit}",
            conditions.where_clause()
        );
        let client = self.client().await?;
        let rows = client.query(&sql, &conditions.values()).await?;
        rows.iter()
            .map(|row| Evidence::from_row(row, Vec::new()))
            .collect()
    }

    /// What a pack's manifest says beside its files: each run (module, version, masked
    /// parameters, tool and version), the audit chain's head, and the S3 keys of the
    /// latest version of each document of `framework` (requirement, file name, key).
    pub async fn pack_facts(
        &self,
        runs: &[ExecutionId],
        framework: Option<&str>,
    ) -> Result<PackFacts, StoreError> {
        let client = self.client().await?;
        let ids: Vec<Uuid> = runs.iter().map(ExecutionId::as_uuid).collect();
        let runs: Value = client
            .query_one(
                "SELECT coalesce(jsonb_agg(jsonb_build_object(
                     'execution_id', e.id, 'module', m.name, 'version', e.module_version,
                     'params', e.params, 'status', e.status, 'finished_at', e.finished_at,
                     'tool', r.tool, 'tool_version', r.tool_version) ORDER BY w.position),
                     '[]'::jsonb)
                 FROM unnest($1::uuid[]) WITH ORDINALITY AS w (id, position)
                 JOIN executions e ON e.id = w.id JOIN modules m ON m.id = e.module_id
                 LEFT JOIN tool_runs r ON r.execution_id = e.id",
                &[&ids],
            )
            .await?
            .get(0);
        let audit_head: Value = client
            .query_opt(
                "SELECT jsonb_build_object('id', id, 'hash', hash) FROM audit_events
                 ORDER BY id DESC LIMIT 1",
                &[],
            )
            .await?
            .map_or(Value::Null, |row| row.get(0));
        let documents = match framework {
            None => Vec::new(),
            Some(framework) => client
                .query(
                    "SELECT DISTINCT ON (requirement, name) requirement, name, s3_key
                     FROM evidence_documents WHERE framework = $1
                     ORDER BY requirement, name, version DESC",
                    &[&framework],
                )
                .await?
                .iter()
                .map(|row| (row.get(0), row.get(1), row.get(2)))
                .collect(),
        };
        Ok(PackFacts {
            runs,
            audit_head,
            documents,
        })
    }

    /// The latest ready report before `before` over the same tools and framework as
    /// `report`: its id, time and summary.
    pub async fn previous_evidence(
        &self,
        report: &Evidence,
    ) -> Result<Option<(EvidenceId, DateTime<Utc>, Value)>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id, created_at, summary FROM evidence
                 WHERE status = 'ready' AND created_at < $1 AND id <> $2
                   AND tools IS NOT DISTINCT FROM $3 AND compliance IS NOT DISTINCT FROM $4
                 ORDER BY created_at DESC LIMIT 1",
                &[
                    &report.created_at,
                    &report.id.as_uuid(),
                    &report.tools,
                    &report.compliance,
                ],
            )
            .await?;
        Ok(row.map(|row| {
            (
                EvidenceId::from(row.get::<_, Uuid>(0)),
                row.get(1),
                row.get(2),
            )
        }))
    }

    /// How many findings of `tools` (all when `None`) became new, reopened or fixed since
    /// `since`: (new, reopened, fixed).
    pub async fn finding_changes_since(
        &self,
        tools: Option<&[String]>,
        since: DateTime<Utc>,
    ) -> Result<(u64, u64, u64), StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT e.to_state, count(*) FROM finding_events e
                 JOIN finding_states s USING (fingerprint)
                 WHERE e.at > $1 AND ($2::text[] IS NULL OR s.tool = ANY ($2))
                   AND e.to_state IN ('new', 'reopened', 'fixed')
                 GROUP BY e.to_state",
                &[&since, &tools],
            )
            .await?;
        let count = |state: &str| {
            rows.iter()
                .find(|row| row.get::<_, &str>(0) == state)
                .map_or(0, |row| u64::try_from(row.get::<_, i64>(1)).unwrap_or(0))
        };
        Ok((count("new"), count("reopened"), count("fixed")))
    }

    /// Notes the public key a pack was signed with.
    pub async fn record_signing_key(
        &self,
        key_id: &str,
        public_key: &Value,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO evidence_signing_keys (key_id, public_key) VALUES ($1, $2)
                 ON CONFLICT (key_id) DO UPDATE SET last_used = now()",
                &[&key_id, public_key],
            )
            .await?;
        Ok(())
    }

    /// The public key packs were last signed with, or the one of `key_id`.
    pub async fn signing_key(&self, key_id: Option<&str>) -> Result<Option<Value>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT public_key FROM evidence_signing_keys
                 WHERE $1::text IS NULL OR key_id = $1 ORDER BY last_used DESC LIMIT 1",
                &[&key_id],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    pub async fn evidence(&self, id: EvidenceId) -> Result<Option<Evidence>, StoreError> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM evidence e JOIN users u ON u.id = e.created_by
                     WHERE e.id = $1"
                ),
                &[&id.as_uuid()],
            )
            .await?
        else {
            return Ok(None);
        };
        let files = client
            .query(
                "SELECT name, size, sha256, content_type, s3_key
                 FROM evidence_files WHERE evidence_id = $1 ORDER BY name",
                &[&id.as_uuid()],
            )
            .await?
            .iter()
            .map(|f| Artifact {
                name: f.get(0),
                size: f.get(1),
                sha256: f.get(2),
                content_type: f.get(3),
                s3_key: f.get(4),
                created_at: row.get(11),
            })
            .collect();
        Evidence::from_row(&row, files).map(Some)
    }
}
