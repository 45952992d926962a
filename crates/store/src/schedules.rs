//! Schedules and their fires. Whichever api replica finds a schedule due, the fire is
//! decided in one transaction that locks the schedule, checks it is still at that fire
//! time, records the fire (keyed by its time) with its run, and moves the schedule to
//! its next fire time: each fire happens once, across replicas and restarts.

use chrono::{DateTime, Utc};
use sage_model::{ModuleId, UserId};
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::executions::{NewExecution, insert_execution};
use crate::scans::{NewScanRecord, ScanTarget, insert_scan};
use crate::{Db, StoreError};

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: Uuid,
    /// `run` (a module's run) or `scan`.
    pub kind: String,
    pub name: String,
    pub cron: String,
    pub timezone: String,
    /// `skip` or `run_once`.
    pub missed_policy: String,
    pub enabled: bool,
    pub module_id: ModuleId,
    pub module_version: Option<i32>,
    pub params: Value,
    pub owner: UserId,
    pub owner_email: String,
    pub version: i32,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a schedule is made of, checked.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub missed_policy: String,
    pub enabled: bool,
    pub module_id: ModuleId,
    pub module_version: Option<i32>,
    pub params: Value,
    pub sealed_params: Vec<u8>,
    pub owner: UserId,
    pub next_fire_at: Option<DateTime<Utc>>,
}

/// One fire of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub fire_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    pub outcome: String,
    pub execution_id: Option<Uuid>,
    pub scan_id: Option<Uuid>,
    pub detail: Option<String>,
}

/// An approval of a schedule's version, in effect until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingApproval {
    pub approver: String,
    pub comment: String,
    pub approved_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What became of a fire time.
#[derive(Debug)]
pub enum FireOutcome {
    /// Its run, recorded, and what let it run without waiting (a standing approval).
    Run(NewExecution, Option<String>),
    /// Its scan, recorded with each account's run or refusal.
    Scan(NewScanRecord, Vec<ScanTarget>),
    /// Why its run was refused (the owner may no longer run it, a parameter no longer
    /// passes): recorded, and the schedule goes on.
    Refused(String),
    /// No scheduler ran when it came, and the schedule skips missed fires.
    Missed,
}

const COLUMNS: &str = "s.id, s.name, s.cron, s.timezone, s.missed_policy, s.enabled, s.module_id,
    s.module_version, s.params, s.owner, u.email, s.version, s.next_fire_at, s.created_at,
    s.updated_at, s.kind";

const FROM: &str = "schedules s JOIN users u ON u.id = s.owner";

fn schedule_of(row: &Row) -> Schedule {
    Schedule {
        id: row.get(0),
        name: row.get(1),
        cron: row.get(2),
        timezone: row.get(3),
        missed_policy: row.get(4),
        enabled: row.get(5),
        module_id: ModuleId::from(row.get::<_, Uuid>(6)),
        module_version: row.get(7),
        params: row.get(8),
        owner: UserId::from(row.get::<_, Uuid>(9)),
        owner_email: row.get(10),
        version: row.get(11),
        next_fire_at: row.get(12),
        created_at: row.get(13),
        updated_at: row.get(14),
        kind: row.get(15),
    }
}

fn audited(schedule: &Schedule) -> Value {
    json!({
        "kind": schedule.kind, "name": schedule.name, "cron": schedule.cron, "timezone": schedule.timezone,
        "missed_policy": schedule.missed_policy, "enabled": schedule.enabled,
        "module_id": schedule.module_id, "module_version": schedule.module_version,
        "params": schedule.params, "version": schedule.version,
    })
}

impl Db {
    pub async fn create_schedule(
        &self,
        new: &NewSchedule,
        context: &AuditContext,
    ) -> Result<Schedule, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "INSERT INTO schedules (id, name, cron, timezone, missed_policy, enabled, module_id,
                                        module_version, params, sealed_params, owner, next_fire_at,
                                        kind)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &new.id,
                    &new.name,
                    &new.cron,
                    &new.timezone,
                    &new.missed_policy,
                    &new.enabled,
                    &new.module_id.as_uuid(),
                    &new.module_version,
                    &new.params,
                    &new.sealed_params,
                    &new.owner.as_uuid(),
                    &new.next_fire_at,
                    &new.kind,
                ],
            )
            .await?;
        let schedule = read_in(&transaction, new.id).await?;
        let change = Change {
            action: "schedule.create",
            target_type: "schedule",
            target_id: new.id.to_string(),
            before: None,
            after: Some(audited(&schedule)),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(schedule)
    }

    /// Replaces what a schedule is made of (its version goes up); `None` when there is
    /// no such schedule.
    pub async fn update_schedule(
        &self,
        new: &NewSchedule,
        context: &AuditContext,
    ) -> Result<Option<Schedule>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(before) = lock(&transaction, new.id).await? else {
            return Ok(None);
        };
        transaction
            .execute(
                "UPDATE schedules SET name = $2, cron = $3, timezone = $4, missed_policy = $5,
                        enabled = $6, module_version = $7, params = $8, sealed_params = $9,
                        next_fire_at = $10, version = version + 1, updated_at = now()
                 WHERE id = $1",
                &[
                    &new.id,
                    &new.name,
                    &new.cron,
                    &new.timezone,
                    &new.missed_policy,
                    &new.enabled,
                    &new.module_version,
                    &new.params,
                    &new.sealed_params,
                    &new.next_fire_at,
                ],
            )
            .await?;
        let after = read_in(&transaction, new.id).await?;
        let change = Change {
            action: "schedule.update",
            target_type: "schedule",
            target_id: new.id.to_string(),
            before: Some(audited(&before)),
            after: Some(audited(&after)),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(Some(after))
    }

    /// Pauses (`next_fire_at` None) or resumes a schedule, or deletes it
    /// (`deleted`); audited as `action`.
    pub async fn set_schedule_state(
        &self,
        id: Uuid,
        enabled: bool,
        next_fire_at: Option<DateTime<Utc>>,
        deleted: bool,
        action: &'static str,
        context: &AuditContext,
    ) -> Result<Option<Schedule>, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let Some(before) = lock(&transaction, id).await? else {
            return Ok(None);
        };
        transaction
            .execute(
                "UPDATE schedules SET enabled = $2, next_fire_at = $3, updated_at = now(),
                        deleted_at = CASE WHEN $4 THEN now() END
                 WHERE id = $1",
                &[&id, &enabled, &next_fire_at, &deleted],
            )
            .await?;
        let after = read_in(&transaction, id).await?;
        let change = Change {
            action,
            target_type: "schedule",
            target_id: id.to_string(),
            before: Some(json!({"enabled": before.enabled, "next_fire_at": before.next_fire_at})),
            after: Some(
                json!({"enabled": after.enabled, "next_fire_at": after.next_fire_at,
                               "deleted": deleted}),
            ),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(Some(after))
    }

    /// A schedule that was not deleted.
    pub async fn schedule(&self, id: Uuid) -> Result<Option<Schedule>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1 AND s.deleted_at IS NULL"),
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(schedule_of))
    }

    /// Schedules by name: all, or `owner`'s.
    pub async fn schedules(&self, owner: Option<UserId>) -> Result<Vec<Schedule>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM {FROM}
                     WHERE s.deleted_at IS NULL AND ($1::uuid IS NULL OR s.owner = $1)
                     ORDER BY s.name, s.id"
                ),
                &[&owner.map(|u| u.as_uuid())],
            )
            .await?;
        Ok(rows.iter().map(schedule_of).collect())
    }

    /// A schedule's sealed parameters, for the run of a fire.
    pub async fn sealed_schedule_params(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT sealed_params FROM schedules WHERE id = $1", &[&id])
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Schedules whose next fire time has come, soonest first.
    pub async fn due_schedules(&self, limit: i64) -> Result<Vec<Schedule>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM {FROM}
                     WHERE s.next_fire_at <= now() ORDER BY s.next_fire_at LIMIT $1"
                ),
                &[&limit],
            )
            .await?;
        Ok(rows.iter().map(schedule_of).collect())
    }

    /// Decides the fire of `schedule` at `fire_at`: records it with its outcome (and
    /// the run, when there is one) and moves the schedule to `next`. `false` when the
    /// schedule is no longer at that fire time (another replica decided it, or it was
    /// edited, paused or deleted meanwhile): nothing is written.
    pub async fn fire_schedule(
        &self,
        schedule: Uuid,
        fire_at: DateTime<Utc>,
        outcome: &FireOutcome,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let current = transaction
            .query_opt(
                "SELECT next_fire_at FROM schedules WHERE id = $1 FOR UPDATE SKIP LOCKED",
                &[&schedule],
            )
            .await?;
        let at: Option<Option<DateTime<Utc>>> = current.map(|row| row.get(0));
        if at != Some(Some(fire_at)) {
            return Ok(false);
        }
        let context = AuditContext::system();
        let (kind, execution, scan, detail) = match outcome {
            FireOutcome::Run(run, approved) => {
                insert_execution(&transaction, &self.audit_key, run, &context, None).await?;
                (
                    "submitted",
                    Some(run.id.as_uuid()),
                    None,
                    approved.as_deref(),
                )
            }
            FireOutcome::Scan(record, targets) => {
                insert_scan(&transaction, &self.audit_key, record, targets, &context).await?;
                ("submitted", None, Some(record.id), None)
            }
            FireOutcome::Refused(why) => ("refused", None, None, Some(why.as_str())),
            FireOutcome::Missed => ("missed", None, None, None),
        };
        transaction
            .execute(
                "INSERT INTO schedule_fires (schedule_id, fire_at, outcome, execution_id, scan_id,
                                             detail)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&schedule, &fire_at, &kind, &execution, &scan, &detail],
            )
            .await?;
        transaction
            .execute(
                "UPDATE schedules SET next_fire_at = $2 WHERE id = $1",
                &[&schedule, &next],
            )
            .await?;
        let change = Change {
            action: "schedule.fire",
            target_type: "schedule",
            target_id: schedule.to_string(),
            before: None,
            after: Some(
                json!({"fire_at": fire_at, "outcome": kind, "execution_id": execution, "scan_id": scan,
                               "detail": detail, "next_fire_at": next}),
            ),
        };
        append(&transaction, &self.audit_key, &context, &change).await?;
        transaction.commit().await?;
        Ok(true)
    }

    /// Approves `version` of a schedule until `expires_at` (again: the new expiry and
    /// comment); audited.
    pub async fn approve_schedule(
        &self,
        id: Uuid,
        version: i32,
        approver: UserId,
        comment: &str,
        expires_at: DateTime<Utc>,
        context: &AuditContext,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "INSERT INTO schedule_approvals (schedule_id, schedule_version, approver, comment,
                                                 expires_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (schedule_id, schedule_version, approver)
                 DO UPDATE SET comment = $4, expires_at = $5, approved_at = now()",
                &[&id, &version, &approver.as_uuid(), &comment, &expires_at],
            )
            .await?;
        let change = Change {
            action: "schedule.approve",
            target_type: "schedule",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({"version": version, "comment": comment, "expires_at": expires_at})),
        };
        append(&transaction, &self.audit_key, context, &change).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The approvals in effect of a schedule's `version`, by approvers other than its
    /// owner, soonest to expire first.
    pub async fn standing_approvals(
        &self,
        id: Uuid,
        version: i32,
    ) -> Result<Vec<StandingApproval>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT u.email, a.comment, a.approved_at, a.expires_at
                 FROM schedule_approvals a JOIN schedules s ON s.id = a.schedule_id
                      JOIN users u ON u.id = a.approver
                 WHERE a.schedule_id = $1 AND a.schedule_version = $2
                   AND a.expires_at > now() AND a.approver <> s.owner
                 ORDER BY a.expires_at, u.email",
                &[&id, &version],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| StandingApproval {
                approver: r.get(0),
                comment: r.get(1),
                approved_at: r.get(2),
                expires_at: r.get(3),
            })
            .collect())
    }

    /// A schedule's latest fires, newest first.
    pub async fn schedule_fires(&self, id: Uuid, limit: i64) -> Result<Vec<Fire>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT fire_at, fired_at, outcome, execution_id, detail, scan_id FROM schedule_fires
                 WHERE schedule_id = $1 ORDER BY fire_at DESC LIMIT $2",
                &[&id, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Fire {
                fire_at: r.get(0),
                fired_at: r.get(1),
                outcome: r.get(2),
                execution_id: r.get(3),
                detail: r.get(4),
                scan_id: r.get(5),
            })
            .collect())
    }
}

async fn lock(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
) -> Result<Option<Schedule>, StoreError> {
    let row = transaction
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1 AND s.deleted_at IS NULL
                 FOR UPDATE OF s"
            ),
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(schedule_of))
}

async fn read_in(
    transaction: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
) -> Result<Schedule, StoreError> {
    let row = transaction
        .query_one(
            &format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1"),
            &[&id],
        )
        .await?;
    Ok(schedule_of(&row))
}
