//! Findings as the whole system speaks of them: how grave one is, on one scale for
//! every tool, and where it stands across runs.

use std::fmt;
use std::str::FromStr;

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

impl FromStr for Severity {
    type Err = String;

    /// One of the scale's own names, exactly (a tool's words go through `from_tool`).
    fn from_str(name: &str) -> Result<Self, String> {
        by_name(&Self::ALL, name, Self::as_str)
    }
}

/// Where a finding stands after the runs of its tool so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    /// Failing, first seen in the latest run that reported it.
    New,
    /// Failing again.
    Open,
    /// A run that covered it no longer fails it.
    Fixed,
    /// Failing after it was fixed.
    Reopened,
    /// Failing, its risk accepted.
    Accepted,
}

impl FindingState {
    pub const ALL: [Self; 5] = [
        Self::New,
        Self::Open,
        Self::Fixed,
        Self::Reopened,
        Self::Accepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Open => "open",
            Self::Fixed => "fixed",
            Self::Reopened => "reopened",
            Self::Accepted => "accepted",
        }
    }
}

impl FromStr for FindingState {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        by_name(&Self::ALL, name, Self::as_str)
    }
}

/// The region global services are reported in.
pub const GLOBAL: &str = "global";

/// A region as a finding's identity takes it (crates/findings/src/identity.rs).
pub fn region(region: &str) -> String {
    match region.trim().to_ascii_lowercase().as_str() {
        "" | GLOBAL | "aws-global" => GLOBAL.to_owned(),
        other => other.to_owned(),
    }
}

/// A resource as a finding's identity takes it (crates/findings/src/identity.rs).
pub fn resource(resource: &str) -> String {
    let resource = resource.trim();
    let Some(rest) = resource
        .strip_prefix("arn:")
        .or_else(|| resource.strip_prefix("ARN:"))
    else {
        return resource.to_owned();
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(partition), Some(service), Some(tail)) = (parts.next(), parts.next(), parts.next())
    else {
        return resource.to_owned();
    };
    let (partition, service) = (partition.to_ascii_lowercase(), service.to_ascii_lowercase());
    // `arn:aws:s3:::<bucket>`: no region, no account, and a bucket name is global.
    if service == "s3"
        && let Some(bucket) = tail.strip_prefix("::").filter(|b| !b.contains('/'))
    {
        return bucket.to_owned();
    }
    format!("arn:{partition}:{service}:{tail}")
}

/// The one of `all` called `name`, or why none is.
fn by_name<T: Copy>(all: &[T], name: &str, as_str: fn(T) -> &'static str) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|value| as_str(*value) == name)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|value| as_str(*value)).collect();
            format!("is not one of {}", names.join(", "))
        })
}
