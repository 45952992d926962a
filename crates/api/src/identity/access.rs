//! Who may see or act on what: every route asks here, none decides it inline.
//!
//! Objects a caller may not see answer 404, never 403, so ids cannot be probed;
//! collections and actions the caller may see but not use answer 403.

use sage_model::acceptance::AcceptanceScope;
use sage_model::tools::Tool;
use sage_model::{EvidenceId, ExecutionId, ModuleId};
use sage_store::catalog::{Module, Permissions};
use sage_store::evidence::Evidence;
use sage_store::executions::{Execution, Viewer};
use sage_store::risk_acceptances::Acceptance;
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::identity::caller::Caller;
use crate::state::AppState;

/// Roles that may read the audit trail.
const AUDIT_READERS: &[&str] = &["admin", "auditor"];

/// The caller as the access rules see them, with the state to look assignments up.
pub struct Access<'a> {
    state: &'a AppState,
    caller: &'a Caller,
}

impl<'a> Access<'a> {
    pub fn new(state: &'a AppState, caller: &'a Caller) -> Self {
        Self { state, caller }
    }

    /// Admin-only routes answer 403 to everyone else: the route itself is no secret.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.caller.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this needs the admin role".into()))
        }
    }

    pub fn require_audit_reader(&self) -> Result<(), ApiError> {
        if AUDIT_READERS.iter().any(|r| self.caller.user.has_role(r)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs one of the roles {}",
                AUDIT_READERS.join(", ")
            )))
        }
    }

    /// What the caller may do with a module; admins may do everything.
    async fn permissions(&self, module_id: ModuleId) -> Result<Permissions, ApiError> {
        if self.caller.is_admin() {
            return Ok(Permissions::ALL);
        }
        let user = &self.caller.user;
        Ok(self
            .state
            .db
            .permissions(module_id, user.verified_email(), &user.groups)
            .await?)
    }

    /// A module the caller may run or view, with what they may do with it; else 404.
    pub async fn module(&self, id: ModuleId) -> Result<(Module, Permissions), ApiError> {
        let module = self.state.db.module(id).await?.ok_or(ApiError::NotFound)?;
        let permissions = self.permissions(module.id).await?;
        if permissions.run || permissions.view {
            Ok((module, permissions))
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// A module the caller may run: 404 when they may not see it, 403 when they may
    /// only view it.
    pub async fn runnable_module(&self, id: ModuleId) -> Result<Module, ApiError> {
        let (module, permissions) = self.module(id).await?;
        if permissions.run {
            Ok(module)
        } else {
            Err(ApiError::Forbidden(
                "you may view this module but not run it".into(),
            ))
        }
    }

    /// Whose modules a module list shows: `None` for all of them (admins), else the
    /// caller's verified email and groups, matched against assignments.
    pub fn module_viewer(&self) -> Option<(Option<&'a str>, &'a [String])> {
        let user = &self.caller.user;
        (!self.caller.is_admin()).then_some((user.verified_email(), user.groups.as_slice()))
    }

    /// Whose executions an execution list shows: admins see everything, others their
    /// own runs and the runs of modules they may view.
    pub fn execution_viewer(&self) -> Viewer {
        if self.caller.is_admin() {
            Viewer::Everything
        } else {
            let user = &self.caller.user;
            Viewer::User {
                id: user.id,
                email: user.verified_email().map(str::to_owned),
                groups: user.groups.clone(),
            }
        }
    }

    /// Whose findings of `tool` the caller sees: all of them when they may see every
    /// run of it (admins, and whoever may view the tool's module), else as
    /// `execution_viewer` says.
    pub async fn tool_viewer(&self, tool: Tool) -> Result<Viewer, ApiError> {
        if self.caller.is_admin() {
            return Ok(Viewer::Everything);
        }
        let module = self
            .state
            .db
            .tools()
            .await?
            .into_iter()
            .find(|t| t.tool == tool);
        if let Some(module) = module
            && self.permissions(module.module_id).await?.view
        {
            return Ok(Viewer::Everything);
        }
        Ok(self.execution_viewer())
    }

    /// An execution the caller may see: admins, its requester, and whoever may view
    /// its module; else 404.
    pub async fn execution(&self, id: ExecutionId) -> Result<Execution, ApiError> {
        let execution = self
            .state
            .db
            .execution(id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if self.caller.is_admin() || self.is_requester(&execution) {
            return Ok(execution);
        }
        if self.permissions(execution.module_id).await?.view {
            Ok(execution)
        } else {
            Err(ApiError::NotFound)
        }
    }

    fn is_requester(&self, execution: &Execution) -> bool {
        execution.requested_by_id == self.caller.user.id
    }

    /// An execution the caller may cancel: its requester or an admin.
    pub async fn cancellable_execution(&self, id: ExecutionId) -> Result<Execution, ApiError> {
        let execution = self.execution(id).await?;
        if self.caller.is_admin() || self.is_requester(&execution) {
            Ok(execution)
        } else {
            Err(ApiError::Forbidden(
                "only the requester or an admin may cancel an execution".into(),
            ))
        }
    }

    /// Whose runs the caller may cancel at once: their own; an admin anyone's, by email,
    /// and an admin must name a module or a user (never every run at once by accident).
    pub fn cancel_filter(
        &self,
        module: Option<ModuleId>,
        requested_by: Option<&str>,
    ) -> Result<Option<sage_store::executions::Requester>, ApiError> {
        use sage_store::executions::Requester;
        let own =
            requested_by.is_none_or(|email| email.eq_ignore_ascii_case(&self.caller.user.email));
        match (self.caller.is_admin(), requested_by) {
            (false, _) if own => Ok(Some(Requester::User(self.caller.user.id))),
            (false, _) => Err(ApiError::Forbidden(
                "only admins may cancel other users' runs".into(),
            )),
            (true, Some(email)) => Ok(Some(Requester::Email(email.to_lowercase()))),
            (true, None) if module.is_some() => Ok(None),
            (true, None) => Err(ApiError::invalid(vec![FieldProblem::new(
                "requested_by",
                "name a user (or a module_id): an admin never cancels every run at once",
            )])),
        }
    }

    /// An execution the caller may approve or reject: admins and approvers who may see
    /// it, never its requester.
    pub async fn decidable_execution(&self, id: ExecutionId) -> Result<Execution, ApiError> {
        let execution = self.execution(id).await?;
        if !(self.caller.is_admin() || self.caller.user.has_role("approver")) {
            return Err(ApiError::Forbidden(
                "only admins and approvers may decide on runs".into(),
            ));
        }
        if self.is_requester(&execution) {
            return Err(ApiError::Forbidden(
                "the requester cannot decide on their own run".into(),
            ));
        }
        Ok(execution)
    }

    /// Whether the caller sees every finding an acceptance may cover: all of its tool's
    /// for a pattern; the one finding for a one-finding scope.
    async fn sees_acceptance_findings(&self, acceptance: &Acceptance) -> Result<bool, ApiError> {
        if matches!(self.tool_viewer(acceptance.tool).await?, Viewer::Everything) {
            return Ok(true);
        }
        match &acceptance.scope {
            AcceptanceScope::Finding { fingerprint } => Ok(self
                .state
                .db
                .tracked_finding(&self.execution_viewer(), fingerprint)
                .await?
                .is_some()),
            AcceptanceScope::Pattern(_) => Ok(false),
        }
    }

    /// Whether the caller may ask that `scope`'s findings of `tool` be accepted: who
    /// sees them all (a pattern covers findings yet to come: the tool's whole view).
    pub async fn may_request_acceptance(
        &self,
        tool: Tool,
        scope: &AcceptanceScope,
    ) -> Result<(), ApiError> {
        let sees = match scope {
            AcceptanceScope::Finding { .. } => true,
            AcceptanceScope::Pattern(_) => {
                matches!(self.tool_viewer(tool).await?, Viewer::Everything)
            }
        };
        if sees {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a check's findings may be accepted only by who sees every {tool} finding (an admin, or a viewer of its module)"
            )))
        }
    }

    /// A risk acceptance the caller may see: its requester, and whoever sees the
    /// findings it may cover; else 404.
    pub async fn acceptance(&self, id: Uuid) -> Result<Acceptance, ApiError> {
        let acceptance = self
            .state
            .db
            .acceptance(id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if acceptance.requester_id == self.caller.user.id
            || self.sees_acceptance_findings(&acceptance).await?
        {
            Ok(acceptance)
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// A risk acceptance the caller may approve or reject: admins and approvers who see
    /// its findings, never its requester.
    pub async fn decidable_acceptance(&self, id: Uuid) -> Result<Acceptance, ApiError> {
        let acceptance = self.acceptance(id).await?;
        if !(self.caller.is_admin() || self.caller.user.has_role("approver")) {
            return Err(ApiError::Forbidden(
                "only admins and approvers may decide on risk acceptances".into(),
            ));
        }
        if acceptance.requester_id == self.caller.user.id {
            return Err(ApiError::Forbidden(
                "the requester cannot decide on their own risk acceptance: a second person does"
                    .into(),
            ));
        }
        if !self.sees_acceptance_findings(&acceptance).await? {
            return Err(ApiError::Forbidden(
                "only who sees the findings it covers may decide on it".into(),
            ));
        }
        Ok(acceptance)
    }

    /// A risk acceptance the caller may revoke: its requester (withdrawing it), or
    /// whoever may decide on it.
    pub async fn revocable_acceptance(&self, id: Uuid) -> Result<Acceptance, ApiError> {
        let acceptance = self.acceptance(id).await?;
        if acceptance.requester_id == self.caller.user.id {
            return Ok(acceptance);
        }
        self.decidable_acceptance(id).await
    }

    /// The tools whose every finding the caller sees: whose acceptances they list.
    pub async fn tools_seen_whole(&self) -> Result<Vec<Tool>, ApiError> {
        let mut tools = Vec::new();
        for tool in Tool::ALL {
            if matches!(self.tool_viewer(tool).await?, Viewer::Everything) {
                tools.push(tool);
            }
        }
        Ok(tools)
    }

    /// Documents that evidence requirements are kept by admins and approvers: a report
    /// cites them to auditors.
    pub fn may_attest(&self) -> Result<(), ApiError> {
        if self.caller.is_admin() || self.caller.user.has_role("approver") {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only admins and approvers may add evidence documents".into(),
            ))
        }
    }

    /// The accounts inventory is read by admins, auditors and approvers (it holds no
    /// secret, but maps the organisation).
    pub fn may_read_accounts(&self) -> Result<(), ApiError> {
        if self.overseer() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only admins, auditors and approvers may read the accounts".into(),
            ))
        }
    }

    /// Whether the caller may give `schedule` a standing approval: an admin or approver
    /// who sees its module and is not its owner.
    pub async fn may_approve_schedule(
        &self,
        schedule: &sage_store::schedules::Schedule,
    ) -> Result<(), ApiError> {
        if !(self.caller.is_admin() || self.caller.user.has_role("approver")) {
            return Err(ApiError::Forbidden(
                "only admins and approvers may approve schedules".into(),
            ));
        }
        if schedule.owner == self.caller.user.id {
            return Err(ApiError::Forbidden(
                "the owner cannot approve their own schedule".into(),
            ));
        }
        self.module(schedule.module_id).await.map(|_| ())
    }

    /// Notification channels and rules are read by admins, auditors and approvers
    /// (never their secrets), and written by admins.
    pub fn may_read_notifications(&self) -> Result<(), ApiError> {
        if self.overseer() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only admins, auditors and approvers may read notification channels and rules"
                    .into(),
            ))
        }
    }

    /// Admins, auditors and approvers: who read what attests to the whole deployment
    /// (its accounts, its evidence documents).
    fn overseer(&self) -> bool {
        let user = &self.caller.user;
        self.caller.is_admin() || user.has_role("auditor") || user.has_role("approver")
    }

    /// Admins and auditors see every scan, as every report; others their own.
    pub fn sees_all_scans(&self) -> bool {
        self.reads_all_evidence()
    }

    /// Evidence documents are read by admins, auditors and approvers.
    pub fn may_read_documents(&self) -> Result<(), ApiError> {
        if self.overseer() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only admins, auditors and approvers may read evidence documents".into(),
            ))
        }
    }

    /// Whether the caller reads every evidence report (admins and auditors) or only
    /// their own.
    pub fn reads_all_evidence(&self) -> bool {
        self.caller.is_admin() || self.caller.user.has_role("auditor")
    }

    /// The evidence report `id`, if the caller may read it; else 404.
    pub async fn readable_evidence(&self, id: EvidenceId) -> Result<Evidence, ApiError> {
        let evidence = self
            .state
            .db
            .evidence(id)
            .await?
            .ok_or(ApiError::NotFound)?;
        self.evidence(evidence)
    }

    /// An evidence report the caller may read: its creator, admins and auditors; else
    /// 404.
    pub fn evidence(&self, evidence: Evidence) -> Result<Evidence, ApiError> {
        let user = &self.caller.user;
        let may_read = self.reads_all_evidence() || evidence.created_by_id == user.id;
        if may_read {
            Ok(evidence)
        } else {
            Err(ApiError::NotFound)
        }
    }
}
