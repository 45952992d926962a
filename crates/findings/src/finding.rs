//! The vocabulary every parser maps its tool's words onto.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use sage_model::findings::Severity;

/// Ordered so that what needs attention sorts first in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Fail,
    Error,
    Warning,
    Manual,
    Info,
    Muted,
    Skipped,
    NotEvaluated,
    Pass,
}

impl Status {
    pub const ALL: [Self; 9] = [
        Self::Fail,
        Self::Error,
        Self::Warning,
        Self::Manual,
        Self::Info,
        Self::Muted,
        Self::Skipped,
        Self::NotEvaluated,
        Self::Pass,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Manual => "manual",
            Self::Muted => "muted",
            Self::Error => "error",
            Self::NotEvaluated => "not_evaluated",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use sage_model::tools::Tool;

/// Where a finding was read: enough for an auditor to find it in the raw file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The file as the caller named it (an artifact name, a path).
    pub file: String,
    /// Within the file: `[12]` (array element), `line 14` (CSV), a dotted path.
    pub position: String,
}

/// One finding, whatever tool produced it. Text the tool did not give is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub tool: Tool,
    pub check_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub resource_id: String,
    pub resource_type: String,
    pub region: String,
    pub account: String,
    pub remediation: String,
    /// `<framework>: <requirement>` pairs, as the tool maps the check.
    pub compliance: Vec<String>,
    pub source: Source,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_words_map_onto_one_scale() {
        assert_eq!(Severity::from_tool("CRITICAL"), Severity::Critical);
        assert_eq!(Severity::from_tool(" info "), Severity::Informational);
        assert_eq!(Severity::from_tool("moderate"), Severity::Medium);
        assert_eq!(Severity::from_tool("whatever"), Severity::Unknown);
    }

    #[test]
    fn names_are_snake_case_in_json() {
        assert_eq!(
            serde_json::to_string(&Status::NotEvaluated).unwrap(),
            "\"not_evaluated\""
        );
        assert_eq!(
            serde_json::to_string(&Severity::Informational).unwrap(),
            "\"informational\""
        );
    }
}
