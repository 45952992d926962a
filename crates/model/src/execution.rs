//! The execution state machine of DESIGN.md. The store turns each allowed transition
//! into a compare-and-set; this module is the single place that says which are allowed.

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
    pub fn transition(self, to: ExecutionStatus) -> Result<ExecutionStatus, TransitionError> {
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
            Ok(to)
        } else {
            Err(TransitionError::NotAllowed { from: self, to })
        }
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
        assert_eq!(AwaitingApproval.transition(Queued), Ok(Queued));
        assert_eq!(AwaitingApproval.transition(Rejected), Ok(Rejected));
        assert_eq!(Queued.transition(Running), Ok(Running));
        assert_eq!(Queued.transition(Cancelled), Ok(Cancelled));
        for end in [Succeeded, Failed, TimedOut, Cancelled, Lost] {
            assert_eq!(Running.transition(end), Ok(end));
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
