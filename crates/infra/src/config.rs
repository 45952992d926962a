//! Reading settings from the environment. Every binary reads the environment once, here,
//! and a bad value is reported together with every other bad value, each naming its
//! variable, before anything starts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// One variable that is missing or holds a value we refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration (see .env.example):")?;
        for problem in &self.problems {
            writeln!(f, "  {}: {}", problem.variable, problem.message)?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// For a value that `Env::finish` already vouched for: a missing one would have
    /// been reported there.
    pub fn unreachable() -> Self {
        Self {
            problems: vec![Problem {
                variable: "(internal)".to_owned(),
                message: "a setting was refused without being reported".to_owned(),
            }],
        }
    }
}

/// A snapshot of the environment that records each refused value instead of stopping at
/// the first, so an operator fixes them all in one go.
#[derive(Debug, Default, Clone)]
pub struct Env {
    vars: BTreeMap<String, String>,
    problems: Vec<Problem>,
}

impl Env {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that reads the environment"
    )]
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            problems: Vec::new(),
        }
    }

    /// The environment of the test suite.
    #[cfg(feature = "testing")]
    #[allow(
        clippy::disallowed_methods,
        reason = "tests read their environment here, once"
    )]
    pub fn for_tests() -> Self {
        // `.env.example` under the process environment (what `just test` exports), so
        // `cargo test` works from a bare shell against the local stack too.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
        let mut pairs: BTreeMap<String, String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        pairs.extend(std::env::vars());
        Self::from_pairs(pairs)
    }

    /// Sets or replaces a value before settings are read (tests point one dependency
    /// elsewhere this way).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.vars.insert(name.to_owned(), value.into());
    }

    /// Every variable as set, for handing the same environment to a child process.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The raw value, treating an empty string as unset, as shells and `.env` files do.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn refuse(&mut self, name: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            variable: name.to_owned(),
            message: message.into(),
        });
    }

    /// A required value, checked by `parse`, whose error text says what is expected.
    pub fn required_with<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match self.raw(name).map(str::to_owned) {
            None => {
                self.refuse(name, "is required but not set");
                None
            }
            Some(raw) => self.checked(name, &raw, parse),
        }
    }

    /// An optional value with a default used when the variable is unset.
    pub fn optional_with<T>(
        &mut self,
        name: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match self.raw(name).map(str::to_owned) {
            None => Some(default),
            Some(raw) => self.checked(name, &raw, parse),
        }
    }

    pub fn string(&mut self, name: &str, default: &str) -> Option<String> {
        self.optional_with(name, default.to_owned(), |v| Ok(v.to_owned()))
    }

    pub fn secret(&mut self, name: &str) -> Option<SecretString> {
        self.required_with(name, |v| Ok(SecretString::from(v.to_owned())))
    }

    /// An optional access key id and secret, set together or not at all.
    pub fn key_pair(&mut self, id: &str, secret: &str) -> Option<Option<(String, SecretString)>> {
        match (self.raw(id).map(str::to_owned), self.raw(secret)) {
            (Some(key), Some(value)) => Some(Some((key, SecretString::from(value.to_owned())))),
            (None, None) => Some(None),
            (Some(_), None) => {
                self.refuse(secret, format!("is required when {id} is set"));
                None
            }
            (None, Some(_)) => {
                self.refuse(id, format!("is required when {secret} is set"));
                None
            }
        }
    }

    pub fn number<T: FromStr + PartialOrd + fmt::Display>(
        &mut self,
        name: &str,
        default: T,
        min: T,
        max: T,
    ) -> Option<T> {
        self.optional_with(name, default, |v| {
            let value: T = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
            if value < min || value > max {
                return Err(format!("{v} is outside {min}..={max}"));
            }
            Ok(value)
        })
    }

    pub fn seconds(&mut self, name: &str, default: u64, min: u64, max: u64) -> Option<Duration> {
        self.number(name, default, min, max)
            .map(Duration::from_secs)
    }

    pub fn flag(&mut self, name: &str, default: bool) -> Option<bool> {
        self.optional_with(name, default, |v| match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(format!("{v:?} is not a boolean (true or false)")),
        })
    }

    /// A comma-separated list; blanks around items are dropped.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ends reading: every refused value at once, or nothing.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }

    fn checked<T>(
        &mut self,
        name: &str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.refuse(name, message);
                None
            }
        }
    }
}

/// A listening address, or `off` for none (a metrics endpoint that is not served).
pub fn address_or_off(value: &str) -> Result<Option<std::net::SocketAddr>, String> {
    match value {
        "off" => Ok(None),
        _ => value.parse().map(Some).map_err(|_| {
            format!("{value:?} is neither off nor a socket address such as 0.0.0.0:9091")
        }),
    }
}

/// Checks the scheme of a URL-shaped setting without echoing credentials it may carry.
pub fn url_with_scheme(value: &str, schemes: &[&str]) -> Result<String, String> {
    let scheme_ok = schemes
        .iter()
        .any(|scheme| value.starts_with(&format!("{scheme}://")));
    if scheme_ok && value.len() > value.find("://").map_or(0, |i| i + 3) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "must be a URL starting with {}",
            schemes.join("://, ") + "://"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn collects_every_problem_naming_each_variable() {
        let mut e = env(&[("A_NUM", "abc"), ("A_FLAG", "maybe"), ("EMPTY", "  ")]);
        assert_eq!(e.number("A_NUM", 1u32, 1, 10), None);
        assert_eq!(e.flag("A_FLAG", false), None);
        assert!(e.secret("EMPTY").is_none());
        let error = e.finish().unwrap_err();
        let names: Vec<_> = error.problems.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(names, ["A_NUM", "A_FLAG", "EMPTY"]);
        let text = error.to_string();
        assert!(text.contains("A_NUM: \"abc\" is not a number"), "{text}");
        assert!(text.contains("EMPTY: is required but not set"), "{text}");
    }

    #[test]
    fn defaults_apply_only_when_unset() {
        let mut e = env(&[("N", "7")]);
        assert_eq!(e.number("N", 1u32, 1, 10), Some(7));
        assert_eq!(e.number("M", 3u32, 1, 10), Some(3));
        assert_eq!(e.string("S", "x"), Some("x".to_owned()));
        assert!(e.finish().is_ok());
    }

    #[test]
    fn ranges_are_enforced() {
        let mut e = env(&[("N", "11")]);
        assert_eq!(e.number("N", 1u32, 1, 10), None);
        assert!(
            e.finish()
                .unwrap_err()
                .to_string()
                .contains("outside 1..=10")
        );
    }

    #[test]
    fn lists_drop_blanks() {
        let mut e = env(&[("L", " a@x , ,b@y ")]);
        assert_eq!(e.list("L"), ["a@x", "b@y"]);
        assert!(e.list("MISSING").is_empty());
    }

    #[test]
    fn url_scheme_is_checked_without_echoing_the_value() {
        assert!(url_with_scheme("amqp://u:p@h/", &["amqp", "amqps"]).is_ok());
        let error = url_with_scheme("http://u:secret@h/", &["amqp", "amqps"]).unwrap_err();
        assert!(!error.contains("secret"));
        assert!(url_with_scheme("amqp://", &["amqp"]).is_err());
    }
}
