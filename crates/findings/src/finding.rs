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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Manual,
    Muted,
    Error,
    NotEvaluated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Manual => "manual",
            Self::Muted => "muted",
            Self::Error => "error",
            Self::NotEvaluated => "not_evaluated",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
