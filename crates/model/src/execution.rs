//! The execution state machine (docs/architecture.md) and how an execution ended. The store turns
//! each allowed [`Transition`] into a compare-and-set; this module is the single place
//! that says which are allowed, and [`EndReason`] the single place that says which
//! status and `reason` each way of ending has.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    AwaitingApproval,
    Queued,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Rejected,
    Lost,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("execution is already {0} and cannot change")]
    Terminal(ExecutionStatus),
    #[error("an execution cannot go from {from} to {to}")]
    NotAllowed {
        from: ExecutionStatus,
        to: ExecutionStatus,
    },
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 9] = [
        Self::AwaitingApproval,
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::TimedOut,
        Self::Cancelled,
        Self::Rejected,
        Self::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "awaiting_approval",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
            Self::Lost => "lost",
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::AwaitingApproval | Self::Queued | Self::Running)
    }

    /// Checks one step of the lifecycle; terminal states never change.
    pub fn transition(self, to: ExecutionStatus) -> Result<Transition, TransitionError> {
        use ExecutionStatus::*;
        if self.is_terminal() {
            return Err(TransitionError::Terminal(self));
        }
        let allowed = matches!(
            (self, to),
            (AwaitingApproval, Queued | Rejected | Cancelled)
                | (Queued, Running | Cancelled)
                | (Running, Succeeded | Failed | TimedOut | Cancelled | Lost)
        );
        if allowed {
            Ok(Transition { from: self, to })
        } else {
            Err(TransitionError::NotAllowed { from: self, to })
        }
    }
}

/// One step of the lifecycle that [`ExecutionStatus::transition`] allowed; the store
/// writes it as `UPDATE … SET status = to WHERE status = from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    from: ExecutionStatus,
    to: ExecutionStatus,
}

impl Transition {
    pub fn from(self) -> ExecutionStatus {
        self.from
    }

    pub fn to(self) -> ExecutionStatus {
        self.to
    }
}

/// Why an execution could not start; each ends it `failed` with its own reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartFailure {
    /// Its stored module version cannot be read back.
    BadDefinition,
    /// Its sealed secrets cannot be opened (another SECRETS_KEY, tampering).
    SecretsUnreadable,
    /// Its stored parameters, with the opened secrets, no longer pass its version's
    /// checks.
    ParamsInvalid,
    /// Its `secret_as: file` secrets cannot be written.
    SecretFilesUnwritable,
    /// Its script is no longer in the library.
    ScriptMissing,
    /// Its script no longer matches the sha256 pinned at registration.
    ScriptChanged,
    /// The verified copy of its script cannot be written.
    StagingUnwritable,
    /// The container engine refused or failed the sandbox.
    SandboxError,
    /// STS refused the role the run names, or could not be reached.
    AssumeRoleFailed,
}

impl StartFailure {
    pub const ALL: [StartFailure; 9] = [
        Self::BadDefinition,
        Self::SecretsUnreadable,
        Self::ParamsInvalid,
        Self::SecretFilesUnwritable,
        Self::ScriptMissing,
        Self::ScriptChanged,
        Self::StagingUnwritable,
        Self::SandboxError,
        Self::AssumeRoleFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadDefinition => "bad_definition",
            Self::SecretsUnreadable => "secrets_unreadable",
            Self::ParamsInvalid => "params_invalid",
            Self::SecretFilesUnwritable => "secret_files_unwritable",
            Self::ScriptMissing => "script_missing",
            Self::ScriptChanged => "script_changed",
            Self::StagingUnwritable => "staging_unwritable",
            Self::SandboxError => "sandbox_error",
            Self::AssumeRoleFailed => "assume_role_failed",
        }
    }
}

/// How an execution ended. Each variant knows its status ([`EndReason::status`]) and the
/// `reason` clients read ([`EndReason::as_str`]); adding a way of ending is one variant
/// here, and the compiler lists every place that must decide about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The script exited 0.
    Succeeded,
    /// The script exited with another code.
    ExitCode(i32),
    /// The kernel killed it for going over its memory limit.
    Oom,
    /// It ran past its timeout and was killed.
    Timeout,
    /// It printed more than its output limit and was killed.
    OutputLimit,
    /// Its requester or an admin cancelled it.
    CancelledBy,
    /// Its requester lost the right to run its module before it started.
    RunRevoked,
    /// Its worker stopped renewing the lease.
    WorkerLost,
    /// An approver rejected it.
    RejectedBy,
    /// Nobody decided on it before its approval expired.
    ApprovalExpired,
    /// It never ran.
    CannotStart(StartFailure),
    /// It ended by itself, but its outputs could not be stored by the worker's deadline
    /// (the artifact store stayed down): never a success with data missing.
    ArtifactsNotKept,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown end {reason:?} for status {status}")]
pub struct UnknownEnd {
    pub status: ExecutionStatus,
    pub reason: Option<String>,
}

impl EndReason {
    /// Every end whose wire name alone says which it is (all but a success, an exit
    /// code and the cannot-start causes of [`StartFailure::ALL`]).
    const NAMED: [EndReason; 9] = [
        Self::Oom,
        Self::Timeout,
        Self::OutputLimit,
        Self::CancelledBy,
        Self::RunRevoked,
        Self::WorkerLost,
        Self::RejectedBy,
        Self::ApprovalExpired,
        Self::ArtifactsNotKept,
    ];

    pub fn status(self) -> ExecutionStatus {
        match self {
            Self::Succeeded => ExecutionStatus::Succeeded,
            Self::ExitCode(_)
            | Self::Oom
            | Self::OutputLimit
            | Self::CannotStart(_)
            | Self::ArtifactsNotKept => ExecutionStatus::Failed,
            Self::Timeout => ExecutionStatus::TimedOut,
            Self::CancelledBy | Self::RunRevoked => ExecutionStatus::Cancelled,
            Self::WorkerLost => ExecutionStatus::Lost,
            Self::RejectedBy | Self::ApprovalExpired => ExecutionStatus::Rejected,
        }
    }

    /// The `reason` of the HTTP contract; `None` for a success, which needs none.
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Self::Succeeded => return None,
            Self::ExitCode(_) => "exit_code",
            Self::Oom => "oom",
            Self::Timeout => "timeout",
            Self::OutputLimit => "output_limit",
            Self::CancelledBy => "cancelled_by",
            Self::RunRevoked => "run_revoked",
            Self::WorkerLost => "worker_lost",
            Self::RejectedBy => "rejected_by",
            Self::ApprovalExpired => "approval_expired",
            Self::ArtifactsNotKept => "artifacts_not_kept",
            Self::CannotStart(failure) => failure.as_str(),
        })
    }

    /// The script's exit code, when it exited by itself.
    pub fn exit_code(self) -> Option<i32> {
        match self {
            Self::Succeeded => Some(0),
            Self::ExitCode(code) => Some(code),
            _ => None,
        }
    }

    /// The end from a process's exit code.
    pub fn exited(code: i32) -> Self {
        if code == 0 {
            Self::Succeeded
        } else {
            Self::ExitCode(code)
        }
    }

    /// Reads an end back from its stored parts; `None` while the execution has not
    /// ended. A reason that does not belong to its status is refused.
    pub fn from_stored(
        status: ExecutionStatus,
        reason: Option<&str>,
        exit_code: Option<i32>,
    ) -> Result<Option<Self>, UnknownEnd> {
        if !status.is_terminal() {
            return Ok(None);
        }
        let end = match reason {
            None => Some(Self::Succeeded),
            Some("exit_code") => exit_code.map(Self::ExitCode),
            Some(name) => Self::NAMED
                .into_iter()
                .chain(StartFailure::ALL.map(Self::CannotStart))
                .find(|end| end.as_str() == Some(name)),
        };
        end.filter(|end| end.status() == status)
            .map(Some)
            .ok_or_else(|| UnknownEnd {
                status,
                reason: reason.map(str::to_owned),
            })
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown execution status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for ExecutionStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::ExecutionStatus::*;
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        for status in ExecutionStatus::ALL {
            assert_eq!(status.as_str().parse::<ExecutionStatus>().unwrap(), status);
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert!("RUNNING".parse::<ExecutionStatus>().is_err());
    }

    #[test]
    fn terminal_states_never_change() {
        for from in ExecutionStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in ExecutionStatus::ALL {
                assert_eq!(from.transition(to), Err(TransitionError::Terminal(from)));
            }
        }
    }

    #[test]
    fn the_lifecycle_of_design_md_is_allowed() {
        for (from, to) in [
            (AwaitingApproval, Queued),
            (AwaitingApproval, Rejected),
            (Queued, Running),
            (Queued, Cancelled),
            (Running, Succeeded),
            (Running, Failed),
            (Running, TimedOut),
            (Running, Cancelled),
            (Running, Lost),
        ] {
            let step = from.transition(to).unwrap();
            assert_eq!((step.from(), step.to()), (from, to));
        }
    }

    /// One of each way to end. The matches fail to compile when a variant is added:
    /// list it here, and the round trip below checks it reads back.
    fn every_end() -> Vec<EndReason> {
        use EndReason as E;
        let _witness = |end: E| match end {
            E::Succeeded
            | E::ExitCode(_)
            | E::Oom
            | E::Timeout
            | E::OutputLimit
            | E::CancelledBy
            | E::RunRevoked
            | E::WorkerLost
            | E::RejectedBy
            | E::ApprovalExpired
            | E::ArtifactsNotKept
            | E::CannotStart(_) => {}
        };
        let _start_witness = |failure: StartFailure| match failure {
            StartFailure::BadDefinition
            | StartFailure::SecretsUnreadable
            | StartFailure::ParamsInvalid
            | StartFailure::SecretFilesUnwritable
            | StartFailure::ScriptMissing
            | StartFailure::ScriptChanged
            | StartFailure::StagingUnwritable
            | StartFailure::SandboxError
            | StartFailure::AssumeRoleFailed => {}
        };
        let mut ends = vec![
            E::Succeeded,
            E::ExitCode(3),
            E::Oom,
            E::Timeout,
            E::OutputLimit,
            E::CancelledBy,
            E::RunRevoked,
            E::WorkerLost,
            E::RejectedBy,
            E::ApprovalExpired,
            E::ArtifactsNotKept,
        ];
        ends.extend(
            [
                StartFailure::BadDefinition,
                StartFailure::SecretsUnreadable,
                StartFailure::ParamsInvalid,
                StartFailure::SecretFilesUnwritable,
                StartFailure::ScriptMissing,
                StartFailure::ScriptChanged,
                StartFailure::StagingUnwritable,
                StartFailure::SandboxError,
            ]
            .map(E::CannotStart),
        );
        ends
    }

    #[test]
    fn every_end_reads_back_as_stored() {
        for end in every_end() {
            let read = EndReason::from_stored(end.status(), end.as_str(), end.exit_code());
            assert_eq!(read, Ok(Some(end)), "{end:?}");
            assert!(end.status().is_terminal());
        }
        let names: std::collections::BTreeSet<_> =
            every_end().iter().filter_map(|e| e.as_str()).collect();
        assert_eq!(
            names.len(),
            every_end().len() - 1,
            "wire names are distinct"
        );
    }

    #[test]
    fn ends_that_do_not_match_their_status_are_refused() {
        assert_eq!(EndReason::from_stored(Running, Some("oom"), None), Ok(None));
        for (status, reason) in [
            (Queued, Some("oom")),
            (Failed, Some("timeout")),
            (Succeeded, Some("oom")),
            (Failed, None),
            (Failed, Some("exit_code")),
            (Rejected, Some("made_up")),
        ] {
            let read = EndReason::from_stored(status, reason, None);
            assert_eq!(read.is_err(), status.is_terminal(), "{status} {reason:?}");
        }
    }

    #[test]
    fn shortcuts_are_refused() {
        for (from, to) in [
            (AwaitingApproval, Running),
            (Queued, Succeeded),
            (Queued, Lost),
            (Running, Queued),
            (Running, AwaitingApproval),
        ] {
            assert_eq!(
                from.transition(to),
                Err(TransitionError::NotAllowed { from, to })
            );
        }
    }
}
