//! Files handed to third-party tools are input too. A kubeconfig can name a program for
//! the Kubernetes client to run (`exec`, `auth-provider`); a Google credential of any
//! type but a service account key can read a local file and post it to a URL of its
//! choosing; a Custodian policy can act on the account, deploy functions, or read a
//! file or URL. Any of them would run code beside the run's cloud credentials.
//!
//! A module hands such a file to a tool through the variable the tool reads it from, so
//! the variable decides the format: whatever a version sends to `KUBECONFIG`,
//! `GOOGLE_APPLICATION_CREDENTIALS` or `CUSTODIAN_POLICY` is checked here as data, at
//! submission and again when the worker restores the run, and the sandbox receives only
//! a copy rebuilt from the checked fields (as JSON, which the tools' YAML readers read
//! too). The drivers check that copy once more inside the sandbox.

mod custodian;
mod gcp;
mod kubeconfig;

use serde_json::{Map, Value};

pub use custodian::{MAX_FILTERS, MAX_POLICIES};

/// The formats of tool inputs, each named by the variable its tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolInput {
    Kubeconfig,
    GcpServiceAccountKey,
    CustodianPolicy,
}

/// Why a tool input is refused. The messages name places in the file and the rule,
/// never a value: the input may be a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("is not valid {format}{}", location(.line, .column))]
    Unreadable {
        format: &'static str,
        line: Option<usize>,
        column: Option<usize>,
    },
    #[error("{at} is not accepted: {rule}")]
    NotAccepted { at: String, rule: &'static str },
    #[error("{at} {expected}")]
    Invalid { at: String, expected: &'static str },
}

fn location(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        _ => String::new(),
    }
}

/// A tool input that passed its checks: the file the sandbox receives, and the
/// credentials inside it, which the run's log and artifacts are redacted of.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckedInput {
    pub(crate) content: String,
    pub(crate) secrets: Vec<String>,
}

impl std::fmt::Debug for CheckedInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedInput").finish_non_exhaustive()
    }
}

impl ToolInput {
    pub const ALL: [ToolInput; 3] = [
        Self::Kubeconfig,
        Self::GcpServiceAccountKey,
        Self::CustodianPolicy,
    ];

    /// The variable the tool reads the input from (a file's path, or the text itself).
    pub fn variable(self) -> &'static str {
        match self {
            Self::Kubeconfig => "KUBECONFIG",
            Self::GcpServiceAccountKey => "GOOGLE_APPLICATION_CREDENTIALS",
            Self::CustodianPolicy => "CUSTODIAN_POLICY",
        }
    }

    pub fn for_variable(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|input| input.variable() == name)
    }

    /// The accepted form, in words, for descriptions and refusals.
    pub fn rule(self) -> &'static str {
        match self {
            Self::Kubeconfig => kubeconfig::RULE,
            Self::GcpServiceAccountKey => gcp::RULE,
            Self::CustodianPolicy => custodian::RULE,
        }
    }

    /// Checks `text` and rebuilds it from the checked fields alone.
    pub fn check(self, text: &str) -> Result<CheckedInput, InputError> {
        let document = read_yaml(text, self.format_name())?;
        match self {
            Self::Kubeconfig => kubeconfig::check(&document),
            Self::GcpServiceAccountKey => gcp::check(&document),
            Self::CustodianPolicy => custodian::check(&document),
        }
    }

    fn format_name(self) -> &'static str {
        match self {
            Self::Kubeconfig => "kubeconfig YAML",
            Self::GcpServiceAccountKey => "JSON",
            Self::CustodianPolicy => "policy YAML",
        }
    }
}

/// YAML (and so JSON) into a JSON value. The parser bounds nesting and alias
/// expansion; its error is reduced to where it happened, since its text may quote the
/// input.
fn read_yaml(text: &str, format: &'static str) -> Result<Value, InputError> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|error| {
        let at = error.location();
        InputError::Unreadable {
            format,
            line: at.as_ref().map(|l| l.line()),
            column: at.as_ref().map(|l| l.column()),
        }
    })
}

fn not_accepted(at: impl Into<String>, rule: &'static str) -> InputError {
    InputError::NotAccepted {
        at: at.into(),
        rule,
    }
}

fn invalid(at: impl Into<String>, expected: &'static str) -> InputError {
    InputError::Invalid {
        at: at.into(),
        expected,
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

/// The object at `at`, refusing any key not in `allowed`.
fn object<'a>(
    value: &'a Value,
    at: &str,
    allowed: &[&str],
    rule: &'static str,
) -> Result<&'a Map<String, Value>, InputError> {
    let map = value
        .as_object()
        .ok_or_else(|| invalid(display(at), "must be a mapping"))?;
    match map.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(not_accepted(join(at, &shown_key(key)), rule)),
        None => Ok(map),
    }
}

fn display(at: &str) -> String {
    if at.is_empty() {
        "the document".to_owned()
    } else {
        at.to_owned()
    }
}

/// A key as a refusal names it: printable and short, since it comes from the input.
fn shown_key(key: &str) -> String {
    let printable = key.chars().all(|c| !c.is_control()) && key.chars().count() <= 64;
    if printable {
        key.to_owned()
    } else {
        "(a key that is not a plain name)".to_owned()
    }
}

fn text<'a>(
    map: &'a Map<String, Value>,
    at: &str,
    key: &str,
    ok: fn(&str) -> bool,
    expected: &'static str,
) -> Result<Option<&'a str>, InputError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(value)) if ok(value) => Ok(Some(value)),
        Some(_) => Err(invalid(join(at, key), expected)),
    }
}

fn required<'a>(
    map: &'a Map<String, Value>,
    at: &str,
    key: &str,
    ok: fn(&str) -> bool,
    expected: &'static str,
) -> Result<&'a str, InputError> {
    text(map, at, key, ok, expected)?.ok_or_else(|| invalid(join(at, key), "is required"))
}

fn is_base64(data: &str) -> bool {
    use base64::Engine;
    let compact: String = data.split_ascii_whitespace().collect();
    !compact.is_empty()
        && base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .is_ok()
}

/// What a check says of `text`: "accepted", or its refusal.
#[cfg(test)]
fn refusal(input: ToolInput, text: &str) -> String {
    input
        .check(text)
        .map(|_| "accepted".to_owned())
        .unwrap_or_else(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_input_is_refused_without_quoting_it() {
        let why = refusal(ToolInput::Kubeconfig, "clusters: [\n  secret-value-123: {");
        assert!(why.starts_with("is not valid kubeconfig YAML"), "{why}");
        assert!(!why.contains("secret-value-123"), "{why}");
        // Aliases cannot multiply a small document into a large one.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let previous = level - 1;
            let name = (b'a' + level) as char;
            let prev = (b'a' + previous) as char;
            bomb.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(ToolInput::CustodianPolicy.check(&bomb).is_err());
    }

    #[test]
    fn every_input_is_known_by_its_variable() {
        for input in ToolInput::ALL {
            assert_eq!(ToolInput::for_variable(input.variable()), Some(input));
        }
        assert_eq!(ToolInput::for_variable("PATH"), None);
    }
}
