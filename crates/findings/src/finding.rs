//! The vocabulary every parser maps its tool's words onto.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    Unknown,
}

impl Severity {
    pub const ALL: [Self; 6] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Informational,
        Self::Unknown,
    ];

    /// Maps a tool's severity word; tools disagree on case and on "info" vs
    /// "informational", and anything unrecognised is kept visible as `Unknown`.
    pub fn from_tool(word: &str) -> Self {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" => Self::Critical,
            "high" => Self::High,
            "medium" | "moderate" => Self::Medium,
            "low" => Self::Low,
            "informational" | "info" | "information" => Self::Informational,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Informational => "informational",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
