//! Risk acceptances: a request, the second person's decision, and the end of what was
//! approved (expiry or revocation). Each step is one transaction with its audit event
//! and its notice; one that changes findings holds the tool's settling lock, writes
//! their events and moves the day's counts, as a run's settling does.

use chrono::{DateTime, Utc};
use sage_model::UserId;
use sage_model::acceptance::{
    AcceptanceScope, AcceptanceStatus, FindingPattern, NewAcceptance, ResourcePattern,
};
use sage_model::tools::Tool;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::conditions::Conditions;
use crate::finding_counts::{self, Cause};
use crate::finding_states::acceptance_matches;
use crate::tools::tool_of;
use crate::{Db, StoreError};

/// An acceptance as callers read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Acceptance {
    pub id: Uuid,
    pub tool: Tool,
    pub scope: AcceptanceScope,
    pub reason: String,
    pub expires_at: DateTime<Utc>,
    pub status: AcceptanceStatus,
    pub requested_by: String,
    pub requester_id: UserId,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_comment: Option<String>,
    pub ended_by: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_comment: Option<String>,
    /// The findings it holds accepted now.
    pub findings: i64,
}

/// A second person's decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptanceDecision {
    Approve,
    Reject,
}

/// What a step did.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    Done(Box<Acceptance>),
    /// The acceptance is not in a status this step applies to (its status now).
    NotApplicable(AcceptanceStatus),
}

/// `GET /api/v1/risk-acceptances`: each filter narrows the list.
#[derive(Debug, Clone, Default)]
pub struct AcceptanceFilter {
    pub status: Option<AcceptanceStatus>,
    pub tool: Option<Tool>,
    /// Only those this user requested.
    pub requested_by: Option<UserId>,
    /// Who reads: those of the tools they see every finding of, and their own.
    pub visible_tools: Vec<Tool>,
    pub reader: Option<UserId>,
    /// Requested before this one (its requested_at and id), newest first.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

const COLUMNS: &str = "a.id, a.tool, a.fingerprint, a.check_id, a.accounts, a.regions,
    a.resource, a.reason, a.expires_at, a.status, r.email, a.requested_by, a.requested_at,
    d.email, a.decided_at, a.decision_comment, x.email, a.ended_at, a.end_comment,
    (SELECT count(*) FROM finding_states s WHERE s.acceptance_id = a.id)";

const FROM: &str = "risk_acceptances a JOIN users r ON r.id = a.requested_by
    LEFT JOIN users d ON d.id = a.decided_by LEFT JOIN users x ON x.id = a.ended_by";

impl Db {
    /// The fingerprints of `tool`'s findings that stand accepted now: a report counts
    /// their failures as accepted risks.
    pub async fn accepted_fingerprints(
        &self,
        tool: Tool,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT fingerprint FROM finding_states WHERE tool = $1 AND state = 'accepted'",
                &[&tool.as_str()],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// The acceptances in effect now (approved, not past their expiry), oldest
    /// approval first: what a report shows as accepted risks.
    pub async fn acceptances_in_effect(&self) -> Result<Vec<Acceptance>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM {FROM}
                     WHERE a.status = 'approved' AND a.expires_at > now()
                     ORDER BY a.decided_at, a.id"
                ),
                &[],
            )
            .await?;
        rows.iter().map(acceptance_of).collect()
    }

    /// Records a request; nothing changes until someone else approves it.
    pub async fn request_acceptance(
        &self,
        new: &NewAcceptance,
        requester: UserId,
        context: &AuditContext,
    ) -> Result<Acceptance, StoreError> {
        let id = Uuid::new_v4();
        let (fingerprint, pattern) = match &new.scope {
            AcceptanceScope::Finding { fingerprint } => (Some(fingerprint.as_str()), None),
            AcceptanceScope::Pattern(pattern) => (None, Some(pattern)),
        };
        let resource = pattern.and_then(|p| p.resource.as_ref());
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "INSERT INTO risk_acceptances (id, tool, fingerprint, check_id, accounts, regions,
                                               resource, resource_like, reason, expires_at,
                                               requested_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &id,
                    &new.tool.as_str(),
                    &fingerprint,
                    &pattern.map(|p| p.check.as_str()),
                    &pattern.map(|p| p.accounts.clone()).unwrap_or_default(),
                    &pattern.map(|p| p.regions.clone()).unwrap_or_default(),
                    &resource.map(ResourcePattern::as_str),
                    &resource.map(ResourcePattern::to_like),
                    &new.reason,
                    &new.expires_at,
                    &requester.as_uuid(),
                ],
            )
            .await?;
        let step = Step {
            action: "risk_acceptance.requested",
            notice: "risk_acceptance.requested",
            before: None,
        };
        let acceptance = step.record(&transaction, self, context, id).await?;
        transaction.commit().await?;
        Ok(acceptance)
    }

    pub async fn acceptance(&self, id: Uuid) -> Result<Option<Acceptance>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM {FROM} WHERE a.id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(acceptance_of).transpose()
    }

    /// Acceptances newest first, as `filter` narrows them.
    pub async fn acceptances(
        &self,
        filter: &AcceptanceFilter,
    ) -> Result<Vec<Acceptance>, StoreError> {
        let mut conditions = Conditions::default();
        let tools: Vec<&str> = filter.visible_tools.iter().map(|t| t.as_str()).collect();
        let tools = conditions.bind(tools.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>());
        let reader = conditions.bind(filter.reader.map(|u| u.as_uuid()));
        conditions.and(format!(
            "(a.tool = ANY ({tools}) OR a.requested_by = {reader})"
        ));
        if let Some(status) = filter.status {
            let status = conditions.bind(status.as_str());
            conditions.and(format!("a.status = {status}"));
        }
        if let Some(tool) = filter.tool {
            let tool = conditions.bind(tool.as_str());
            conditions.and(format!("a.tool = {tool}"));
        }
        if let Some(requester) = filter.requested_by {
            let requester = conditions.bind(requester.as_uuid());
            conditions.and(format!("a.requested_by = {requester}"));
        }
        if let Some((at, id)) = filter.after {
            let (at, id) = (conditions.bind(at), conditions.bind(id));
            conditions.and(format!("(a.requested_at, a.id) < ({at}, {id})"));
        }
        let limit = conditions.bind(filter.limit);
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} {} ORDER BY a.requested_at DESC, a.id DESC LIMIT {limit}",
            conditions.where_clause()
        );
        let client = self.client().await?;
        let rows = client.query(&sql, &conditions.values()).await?;
        rows.iter().map(acceptance_of).collect()
    }

    /// The second person's decision on a request (the api checked who may decide). An
    /// approval accepts the tool's failing findings it covers, at once.
    pub async fn decide_acceptance(
        &self,
        id: Uuid,
        decider: UserId,
        decision: AcceptanceDecision,
        comment: &str,
        context: &AuditContext,
    ) -> Result<StepOutcome, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some((status, tool)) = lock(&transaction, id).await? else {
            return Err(StoreError::Corrupt("risk acceptance"));
        };
        let expired = transaction
            .query_one(
                "SELECT expires_at <= now() FROM risk_acceptances WHERE id = $1",
                &[&id],
            )
            .await?
            .get::<_, bool>(0);
        if status != AcceptanceStatus::Requested || expired {
            return Ok(StepOutcome::NotApplicable(status));
        }
        let to = match decision {
            AcceptanceDecision::Approve => AcceptanceStatus::Approved,
            AcceptanceDecision::Reject => AcceptanceStatus::Rejected,
        };
        transaction
            .execute(
                "UPDATE risk_acceptances SET status = $2, decided_by = $3, decided_at = now(),
                        decision_comment = $4
                 WHERE id = $1",
                &[&id, &to.as_str(), &decider.as_uuid(), &comment],
            )
            .await?;
        if to == AcceptanceStatus::Approved {
            settle_lock(&transaction, tool).await?;
            accept(&transaction, id).await?;
            finding_counts::record(&transaction, Cause::Acceptance(id), tool).await?;
        }
        let step = Step {
            action: match decision {
                AcceptanceDecision::Approve => "risk_acceptance.approved",
                AcceptanceDecision::Reject => "risk_acceptance.rejected",
            },
            notice: "risk_acceptance.resolved",
            before: Some(status),
        };
        let acceptance = step.record(&transaction, self, context, id).await?;
        transaction.commit().await?;
        Ok(StepOutcome::Done(Box::new(acceptance)))
    }

    /// Ends a request or an approved acceptance before its expiry (the api checked who
    /// may): its findings return to where they would stand without it.
    pub async fn revoke_acceptance(
        &self,
        id: Uuid,
        by: UserId,
        comment: &str,
        context: &AuditContext,
    ) -> Result<StepOutcome, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some((status, tool)) = lock(&transaction, id).await? else {
            return Err(StoreError::Corrupt("risk acceptance"));
        };
        if !matches!(
            status,
            AcceptanceStatus::Requested | AcceptanceStatus::Approved
        ) {
            return Ok(StepOutcome::NotApplicable(status));
        }
        end(
            &transaction,
            id,
            tool,
            AcceptanceStatus::Revoked,
            Some(by),
            comment,
        )
        .await?;
        let step = Step {
            action: "risk_acceptance.revoked",
            notice: "risk_acceptance.resolved",
            before: Some(status),
        };
        let acceptance = step.record(&transaction, self, context, id).await?;
        transaction.commit().await?;
        Ok(StepOutcome::Done(Box::new(acceptance)))
    }

    /// Ends acceptances (and requests) past their expiry; their findings return to
    /// where they would stand without them. Replicas sweeping at once skip each other's.
    pub async fn expire_acceptances(
        &self,
        sweeper: &AuditContext,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "SELECT id, tool, status FROM risk_acceptances
                 WHERE status IN ('requested', 'approved') AND expires_at <= now()
                 ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .await?;
        let mut expired = Vec::with_capacity(rows.len());
        for row in rows {
            let id: Uuid = row.get(0);
            let tool = tool_of(row.get(1))?;
            let status = status_of(row.get(2))?;
            end(&transaction, id, tool, AcceptanceStatus::Expired, None, "").await?;
            let step = Step {
                action: "risk_acceptance.expired",
                notice: "risk_acceptance.resolved",
                before: Some(status),
            };
            step.record(&transaction, self, sweeper, id).await?;
            expired.push(id);
        }
        transaction.commit().await?;
        Ok(expired)
    }
}

/// What one step of an acceptance leaves behind, in its transaction: the audit event
/// and the approvers' notice.
struct Step {
    action: &'static str,
    notice: &'static str,
    before: Option<AcceptanceStatus>,
}

impl Step {
    /// Records the step of acceptance `id`; returns the acceptance as it now stands.
    async fn record(
        &self,
        transaction: &deadpool_postgres::Transaction<'_>,
        db: &Db,
        context: &AuditContext,
        id: Uuid,
    ) -> Result<Acceptance, StoreError> {
        let acceptance = read(transaction, id).await?;
        notify(transaction, id, self.notice).await?;
        let change = Change {
            action: self.action,
            target_type: "risk_acceptance",
            target_id: id.to_string(),
            before: self.before.map(|status| json!({"status": status.as_str()})),
            after: Some(described(&acceptance)),
        };
        append(transaction, &db.audit_key, context, &change).await?;
        Ok(acceptance)
    }
}

/// Locks the acceptance's row: its steps happen one after another.
async fn lock(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
) -> Result<Option<(AcceptanceStatus, Tool)>, StoreError> {
    transaction
        .query_opt(
            "SELECT status, tool FROM risk_acceptances WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .map(|row| Ok((status_of(row.get(0))?, tool_of(row.get(1))?)))
        .transpose()
}

/// The lock every writer of a tool's finding states holds (see `finding_states::settle`).
async fn settle_lock(
    transaction: &deadpool_postgres::Transaction<'_>,
    tool: Tool,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('sage.finding_states.' || $1))",
            &[&tool.as_str()],
        )
        .await?;
    Ok(())
}

/// Accepts the failing findings of its tool that acceptance `id` covers and no other
/// holds: their events first (from the state each had), then their states.
async fn accept(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
) -> Result<u64, StoreError> {
    let covered = format!(
        "FROM finding_states s JOIN risk_acceptances a ON a.id = $1 AND s.tool = a.tool
         WHERE s.state IN ('new', 'open', 'reopened') AND {}",
        acceptance_matches("s", "a")
    );
    transaction
        .execute(
            &format!(
                "INSERT INTO finding_events (fingerprint, acceptance_id, from_state, to_state)
                 SELECT s.fingerprint, $1, s.state, 'accepted' {covered}"
            ),
            &[&id],
        )
        .await?;
    let accepted = transaction
        .execute(
            &format!(
                "UPDATE finding_states s SET state = 'accepted', acceptance_id = $1,
                        accepted_over = CASE s.state WHEN 'reopened' THEN 'reopened' ELSE 'open' END
                 FROM risk_acceptances a
                 WHERE a.id = $1 AND s.tool = a.tool AND s.state IN ('new', 'open', 'reopened')
                   AND {}",
                acceptance_matches("s", "a")
            ),
            &[&id],
        )
        .await?;
    Ok(accepted)
}

/// Ends acceptance `id` with `status`: its findings return to the state they would
/// have without it, then each other acceptance of the tool in effect takes those it
/// covers, and the day's counts move.
async fn end(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    tool: Tool,
    status: AcceptanceStatus,
    by: Option<UserId>,
    comment: &str,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "UPDATE risk_acceptances SET status = $2, ended_by = $3, ended_at = now(),
                    end_comment = nullif($4, ''),
                    decided_at = coalesce(decided_at, now())
             WHERE id = $1",
            &[&id, &status.as_str(), &by.map(|u| u.as_uuid()), &comment],
        )
        .await?;
    settle_lock(transaction, tool).await?;
    transaction
        .execute(
            "INSERT INTO finding_events (fingerprint, acceptance_id, from_state, to_state)
             SELECT fingerprint, $1, 'accepted', accepted_over FROM finding_states
             WHERE acceptance_id = $1",
            &[&id],
        )
        .await?;
    let released = transaction
        .execute(
            "UPDATE finding_states SET state = accepted_over, acceptance_id = NULL,
                    accepted_over = NULL
             WHERE acceptance_id = $1",
            &[&id],
        )
        .await?;
    if released > 0 {
        let others = transaction
            .query(
                "SELECT id FROM risk_acceptances
                 WHERE tool = $1 AND status = 'approved' AND expires_at > now() AND id <> $2
                 ORDER BY decided_at, id",
                &[&tool.as_str(), &id],
            )
            .await?;
        for other in others {
            accept(transaction, other.get(0)).await?;
        }
    }
    finding_counts::record(transaction, Cause::Acceptance(id), tool).await?;
    Ok(())
}

/// Queues the approvers' notice of acceptance `id`: who may decide on it (admins and
/// approvers, never its requester) and where it stands. The api's access rules decide
/// who may act; the notice names the roles that can.
async fn notify(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    event: &str,
) -> Result<(), StoreError> {
    transaction
        .execute("SET LOCAL TIME ZONE 'UTC'", &[])
        .await?;
    transaction
        .execute(
            "INSERT INTO approval_outbox (acceptance_id, event, payload)
             SELECT a.id, $2::text, jsonb_build_object(
                 'event', $2::text,
                 'at', now(),
                 'acceptance_id', a.id,
                 'acceptance_path', '/api/v1/risk-acceptances/' || a.id::text,
                 'tool', a.tool,
                 'fingerprint', a.fingerprint,
                 'check', a.check_id,
                 'accounts', to_jsonb(a.accounts),
                 'regions', to_jsonb(a.regions),
                 'resource', a.resource,
                 'reason', a.reason,
                 'expires_at', a.expires_at,
                 'status', a.status,
                 'requested_by', r.email,
                 'approvers', (
                     SELECT coalesce(jsonb_agg(u.email ORDER BY u.email), '[]'::jsonb)
                     FROM users u
                     WHERE u.id <> a.requested_by
                       AND ('admin' = ANY(u.roles) OR 'approver' = ANY(u.roles))))
             FROM risk_acceptances a JOIN users r ON r.id = a.requested_by
             WHERE a.id = $1",
            &[&id, &event],
        )
        .await?;
    Ok(())
}

async fn read(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
) -> Result<Acceptance, StoreError> {
    let row = transaction
        .query_one(
            &format!("SELECT {COLUMNS} FROM {FROM} WHERE a.id = $1"),
            &[&id],
        )
        .await?;
    acceptance_of(&row)
}

/// What the audit keeps of an acceptance.
fn described(acceptance: &Acceptance) -> Value {
    let scope = match &acceptance.scope {
        AcceptanceScope::Finding { fingerprint } => json!({"fingerprint": fingerprint}),
        AcceptanceScope::Pattern(pattern) => json!({
            "check": pattern.check,
            "accounts": pattern.accounts,
            "regions": pattern.regions,
            "resource": pattern.resource.as_ref().map(ResourcePattern::as_str),
        }),
    };
    json!({
        "tool": acceptance.tool.as_str(),
        "scope": scope,
        "reason": acceptance.reason,
        "expires_at": acceptance.expires_at,
        "status": acceptance.status.as_str(),
        "findings": acceptance.findings,
        "comment": acceptance.end_comment.as_ref().or(acceptance.decision_comment.as_ref()),
    })
}

fn status_of(name: &str) -> Result<AcceptanceStatus, StoreError> {
    name.parse()
        .map_err(|_| StoreError::Corrupt("risk acceptance status"))
}

fn acceptance_of(row: &tokio_postgres::Row) -> Result<Acceptance, StoreError> {
    let scope = match (
        row.get::<_, Option<String>>(2),
        row.get::<_, Option<String>>(3),
    ) {
        (Some(fingerprint), None) => AcceptanceScope::Finding { fingerprint },
        (None, Some(check)) => AcceptanceScope::Pattern(FindingPattern {
            check,
            accounts: row.get(4),
            regions: row.get(5),
            resource: row
                .get::<_, Option<&str>>(6)
                .map(ResourcePattern::parse)
                .transpose()
                .map_err(|_| StoreError::Corrupt("risk acceptance resource"))?,
        }),
        _ => return Err(StoreError::Corrupt("risk acceptance scope")),
    };
    Ok(Acceptance {
        id: row.get(0),
        tool: tool_of(row.get(1))?,
        scope,
        reason: row.get(7),
        expires_at: row.get(8),
        status: status_of(row.get(9))?,
        requested_by: row.get(10),
        requester_id: UserId::from(row.get::<_, Uuid>(11)),
        requested_at: row.get(12),
        decided_by: row.get(13),
        decided_at: row.get(14),
        decision_comment: row.get(15),
        ended_by: row.get(16),
        ended_at: row.get(17),
        end_comment: row.get(18),
        findings: row.get(19),
    })
}
