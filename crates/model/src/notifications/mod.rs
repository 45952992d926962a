//! Notifications: where a message may go (a channel), what to tell it (a rule), both
//! checked once here, and the words of a message, drawn from what the store matched.

use std::fmt;
use std::str::FromStr;

use crate::FieldError;

mod channels;
mod destinations;
mod message;
mod rules;

pub use channels::{ChannelKind, ChannelRequest, NewChannel, Smtp, SmtpTls, Target};
pub use destinations::{Destinations, reachable};
pub use message::{Message, message};
pub use rules::{NewRule, RuleRequest, SCAN_ENDS, severity_rank};

const MAX_NAME: usize = 100;
/// How many new findings a message lists; the rest are counted.
pub const LISTED_FINDINGS: usize = 50;

/// What a rule tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A run of a module ended (its status among the rule's, if it names any).
    RunFinished,
    /// A scan ended.
    ScanFinished,
    /// A tool run's findings include some first seen (or failing again after a fix) of
    /// at least the rule's severity.
    NewFindings,
    /// An accepted risk's acceptance ends within the rule's days.
    AcceptanceExpiring,
    /// A run waits for an approver.
    ApprovalRequested,
}

impl Event {
    pub const ALL: [Self; 5] = [
        Self::RunFinished,
        Self::ScanFinished,
        Self::NewFindings,
        Self::AcceptanceExpiring,
        Self::ApprovalRequested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunFinished => "run.finished",
            Self::ScanFinished => "scan.finished",
            Self::NewFindings => "findings.new",
            Self::AcceptanceExpiring => "acceptance.expiring",
            Self::ApprovalRequested => "approval.requested",
        }
    }
}

impl FromStr for Event {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|event| event.as_str() == text)
            .ok_or_else(|| format!("must be one of {}", Self::names()))
    }
}

impl Event {
    fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn checked_name(name: Option<&str>, problems: &mut Vec<FieldError>) -> Option<String> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        problems.push(FieldError::new(
            "name",
            format!("is required: 1 to {MAX_NAME} characters"),
        ));
        return None;
    }
    Some(name.to_owned())
}
