//! Risk acceptance: a request that failing findings be accepted until a date, which
//! takes effect only when a second person approves it. What a request may say, checked
//! once here; who may decide lives in the api's access rules.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::tools::Tool;

/// What a request covers: one finding, or a check's findings across accounts, regions
/// and resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptanceScope {
    Finding { fingerprint: String },
    Pattern(FindingPattern),
}

/// A check's findings, narrowed by accounts, regions and a resource pattern (each
/// empty or absent: any). New findings that match are accepted as they appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingPattern {
    pub check: String,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub resource: Option<ResourcePattern>,
}

/// A resource id in which `*` stands for any run of characters; nothing else is special.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourcePattern(String);

impl ResourcePattern {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() || pattern.len() > 1024 {
            return Err("must be 1 to 1024 characters".to_owned());
        }
        if pattern.chars().all(|c| c == '*') {
            return Err("must name more than `*`: leave it out to take every resource".to_owned());
        }
        if pattern.chars().any(char::is_control) {
            return Err("must not hold control characters".to_owned());
        }
        Ok(Self(pattern.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pattern as SQL `LIKE` reads it (escape `\`): `*` is `%`, and the characters
    /// `LIKE` would read as its own stand for themselves.
    pub fn to_like(&self) -> String {
        let mut like = String::with_capacity(self.0.len() + 4);
        for c in self.0.chars() {
            match c {
                '*' => like.push('%'),
                '%' | '_' | '\\' => {
                    like.push('\\');
                    like.push(c);
                }
                _ => like.push(c),
            }
        }
        like
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct AcceptanceRequest {
    pub tool: Option<String>,
    pub fingerprint: Option<String>,
    pub check: Option<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub resource: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A request that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAcceptance {
    pub tool: Tool,
    pub scope: AcceptanceScope,
    pub reason: String,
    pub expires_at: DateTime<Utc>,
}

/// The longest reason kept.
const MAX_REASON: usize = 4000;
/// The most accounts or regions one request names.
const MAX_NAMES: usize = 1000;

impl AcceptanceRequest {
    /// Checks every field, naming each that does not hold: an expiry in the future and
    /// at most `max_days` after `now`, a reason, and exactly one of `fingerprint` (one
    /// finding) or `check` (a pattern); `tool` is required with a pattern (a finding
    /// names its own tool, which the caller passes as `finding_tool`).
    pub fn check(
        self,
        now: DateTime<Utc>,
        max_days: u32,
        finding_tool: Option<Tool>,
    ) -> Result<NewAcceptance, Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(FieldError::new(field.to_owned(), message));
        };
        let reason = self.reason.as_deref().map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            problem(
                "reason",
                "is required: say why the risk is accepted".to_owned(),
            );
        } else if reason.chars().count() > MAX_REASON {
            problem("reason", format!("must be at most {MAX_REASON} characters"));
        }
        let latest = now + Duration::days(i64::from(max_days));
        match self.expires_at {
            None => problem(
                "expires_at",
                format!("is required: an RFC 3339 time at most {max_days} days ahead"),
            ),
            Some(at) if at <= now => problem("expires_at", "must be in the future".to_owned()),
            Some(at) if at > latest => problem(
                "expires_at",
                format!("must be at most {max_days} days ahead (ACCEPTANCE_MAX_DAYS)"),
            ),
            Some(_) => {}
        }
        let named_tool = self.tool.as_deref().map(str::parse::<Tool>);
        if let Some(Err(why)) = &named_tool {
            problem("tool", why.clone());
        }
        let scope = match (self.fingerprint, self.check) {
            (Some(fingerprint), None) => {
                let pattern_fields = [
                    ("accounts", !self.accounts.is_empty()),
                    ("regions", !self.regions.is_empty()),
                    ("resource", self.resource.is_some()),
                ];
                for (field, given) in pattern_fields {
                    if given {
                        problem(
                            field,
                            "narrows a check's pattern, not one finding".to_owned(),
                        );
                    }
                }
                if !is_fingerprint(&fingerprint) {
                    problem(
                        "fingerprint",
                        "is not a finding's fingerprint (64 hex digits)".to_owned(),
                    );
                }
                Some(AcceptanceScope::Finding { fingerprint })
            }
            (None, Some(check)) => {
                if check.is_empty() || check.len() > 256 || check.chars().any(char::is_control) {
                    problem(
                        "check",
                        "must be a check's id, 1 to 256 characters".to_owned(),
                    );
                }
                for (field, names) in [("accounts", &self.accounts), ("regions", &self.regions)] {
                    if names.len() > MAX_NAMES {
                        problem(field, format!("names at most {MAX_NAMES}"));
                    } else if names.iter().any(|n| n.is_empty() || n.len() > 128) {
                        problem(field, "each must be 1 to 128 characters".to_owned());
                    }
                }
                let resource = match self.resource.as_deref().map(ResourcePattern::parse) {
                    Some(Err(why)) => {
                        problem("resource", why);
                        None
                    }
                    Some(Ok(pattern)) => Some(pattern),
                    None => None,
                };
                Some(AcceptanceScope::Pattern(FindingPattern {
                    check,
                    accounts: lowered(self.accounts, false),
                    regions: lowered(self.regions, true),
                    resource,
                }))
            }
            (Some(_), Some(_)) => {
                problem(
                    "check",
                    "names a pattern: give either fingerprint or check".to_owned(),
                );
                None
            }
            (None, None) => {
                problem(
                    "fingerprint",
                    "or check is required: one finding, or a check's findings".to_owned(),
                );
                None
            }
        };
        let tool = match (&scope, named_tool, finding_tool) {
            (Some(AcceptanceScope::Finding { .. }), _, Some(tool)) => Some(tool),
            (Some(AcceptanceScope::Finding { .. }), _, None) => {
                problem("fingerprint", "names no finding you may see".to_owned());
                None
            }
            (Some(AcceptanceScope::Pattern(_)), Some(Ok(tool)), _) => Some(tool),
            (Some(AcceptanceScope::Pattern(_)), None, _) => {
                problem("tool", "is required with a check".to_owned());
                None
            }
            _ => None,
        };
        match (problems.is_empty(), tool, scope, self.expires_at) {
            (true, Some(tool), Some(scope), Some(expires_at)) => Ok(NewAcceptance {
                tool,
                scope,
                reason: reason.to_owned(),
                expires_at,
            }),
            _ => Err(problems),
        }
    }
}

/// Names kept once each, in order; regions lowercase as findings hold them.
fn lowered(names: Vec<String>, lowercase: bool) -> Vec<String> {
    let mut kept: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let name = if lowercase {
            name.to_ascii_lowercase()
        } else {
            name
        };
        if !kept.contains(&name) {
            kept.push(name);
        }
    }
    kept
}

fn is_fingerprint(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where an acceptance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceptanceStatus {
    /// Waiting for a second person.
    Requested,
    /// In effect until it expires or is revoked.
    Approved,
    Rejected,
    Revoked,
    Expired,
}

impl AcceptanceStatus {
    pub const ALL: [Self; 5] = [
        Self::Requested,
        Self::Approved,
        Self::Rejected,
        Self::Revoked,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl std::str::FromStr for AcceptanceStatus {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| {
                format!("{name:?} is not one of requested, approved, rejected, revoked, expired")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn pattern() -> AcceptanceRequest {
        AcceptanceRequest {
            tool: Some("prowler".to_owned()),
            check: Some("s3_bucket_default_encryption".to_owned()),
            regions: vec!["EU-West-1".to_owned(), "eu-west-1".to_owned()],
            resource: Some("logs-*".to_owned()),
            reason: Some("  archive buckets, encrypted by the client  ".to_owned()),
            expires_at: Some(now() + Duration::days(30)),
            ..AcceptanceRequest::default()
        }
    }

    #[test]
    fn a_pattern_is_kept_as_findings_hold_its_names() {
        let accepted = pattern().check(now(), 365, None).unwrap();
        assert_eq!(accepted.tool, Tool::Prowler);
        assert_eq!(accepted.reason, "archive buckets, encrypted by the client");
        let AcceptanceScope::Pattern(pattern) = accepted.scope else {
            panic!("a pattern");
        };
        assert_eq!(pattern.regions, ["eu-west-1"]);
        assert_eq!(pattern.resource.unwrap().to_like(), "logs-%");
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = pattern();
        bad.reason = Some(" ".to_owned());
        bad.expires_at = Some(now() + Duration::days(366));
        bad.resource = Some("**".to_owned());
        bad.tool = Some("nmap".to_owned());
        let errors = bad.check(now(), 365, None).unwrap_err();
        assert_eq!(
            fields(&errors),
            ["reason", "expires_at", "tool", "resource"]
        );

        let mut past = pattern();
        past.expires_at = Some(now());
        assert_eq!(
            fields(&past.check(now(), 365, None).unwrap_err()),
            ["expires_at"]
        );

        let both = AcceptanceRequest {
            fingerprint: Some("a".repeat(64)),
            ..pattern()
        };
        assert!(fields(&both.check(now(), 365, None).unwrap_err()).contains(&"check"));

        let one = AcceptanceRequest {
            fingerprint: Some("A".repeat(64)),
            check: None,
            regions: Vec::new(),
            resource: None,
            ..pattern()
        };
        assert_eq!(
            fields(&one.check(now(), 365, Some(Tool::Prowler)).unwrap_err()),
            ["fingerprint"]
        );
        let narrowed = AcceptanceRequest {
            fingerprint: Some("a".repeat(64)),
            check: None,
            ..pattern()
        };
        assert_eq!(
            fields(&narrowed.check(now(), 365, Some(Tool::Prowler)).unwrap_err()),
            ["regions", "resource"]
        );
    }

    #[test]
    fn like_reads_only_the_star() {
        let pattern = ResourcePattern::parse(r"arn:aws:s3:::a_b%c\d*").unwrap();
        assert_eq!(pattern.to_like(), r"arn:aws:s3:::a\_b\%c\\d%");
    }
}
