//! A script's place in the library and the interpreter that runs it.
//!
//! `ScriptPath` is checked here lexically; that the file exists, is regular and stays
//! inside the library after symlinks is checked by the api against the filesystem.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A path relative to the script library root: components of `[A-Za-z0-9._-]`, none of
/// them `.` or `..` or hidden, separated by `/`. Anything else, including look-alike
/// Unicode, percent-encoding and backslashes, is refused rather than normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ScriptPath(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptPathError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 255 characters")]
    TooLong,
    #[error("must not contain NUL bytes")]
    Nul,
    #[error("must be relative to the script library, not absolute")]
    Absolute,
    #[error("must not contain '..' or '.' components")]
    Traversal,
    #[error("must not contain percent-encoding")]
    Encoded,
    #[error("must not contain hidden components (starting with '.')")]
    Hidden,
    #[error("may contain only ASCII letters, digits, '.', '_', '-' and '/' (found {0:?})")]
    Character(char),
}

impl ScriptPath {
    pub fn parse(raw: &str) -> Result<Self, ScriptPathError> {
        if raw.is_empty() {
            return Err(ScriptPathError::Empty);
        }
        if raw.len() > 255 {
            return Err(ScriptPathError::TooLong);
        }
        if raw.contains('\0') {
            return Err(ScriptPathError::Nul);
        }
        if raw.starts_with('/') || raw.starts_with('\\') {
            return Err(ScriptPathError::Absolute);
        }
        if raw.contains('%') {
            return Err(ScriptPathError::Encoded);
        }
        for component in raw.split('/') {
            match component {
                "" | "." | ".." => return Err(ScriptPathError::Traversal),
                hidden if hidden.starts_with('.') => return Err(ScriptPathError::Hidden),
                _ => {}
            }
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
        {
            return Err(ScriptPathError::Character(bad));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file name, which is where the script appears inside the sandbox.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for ScriptPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The interpreters a script may name. A script is always run as
/// `<interpreter> /opt/scripts/<file> <args…>`, so its own mode bits and shebang do not
/// matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpreter {
    Python3,
    Bash,
    Sh,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of python3, bash, sh")]
pub struct UnknownInterpreter;

impl Interpreter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Python3 => "python3",
            Self::Bash => "bash",
            Self::Sh => "sh",
        }
    }

    /// The program inside the runner image.
    pub fn program(self) -> &'static str {
        match self {
            Self::Python3 => "/usr/bin/python3",
            Self::Bash => "/bin/bash",
            Self::Sh => "/bin/sh",
        }
    }
}

impl FromStr for Interpreter {
    type Err = UnknownInterpreter;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "python3" => Ok(Self::Python3),
            "bash" => Ok(Self::Bash),
            "sh" => Ok(Self::Sh),
            _ => Err(UnknownInterpreter),
        }
    }
}

impl fmt::Display for Interpreter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_paths_are_accepted() {
        for ok in [
            "backup_db.py",
            "team-a/nightly.sh",
            "_acceptance/sleep.py",
            "a/b/c.v2.py",
        ] {
            assert_eq!(ScriptPath::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(ScriptPath::parse("team/x.py").unwrap().file_name(), "x.py");
    }

    #[test]
    fn escapes_are_refused() {
        use ScriptPathError::*;
        let cases = [
            ("", Empty),
            ("/etc/passwd", Absolute),
            ("\\windows", Absolute),
            ("../../etc/passwd", Traversal),
            ("a/../../b", Traversal),
            ("./x.py", Traversal),
            (".", Traversal),
            ("a//b", Traversal),
            ("a/", Traversal),
            ("%2e%2e/%2e%2e/etc/passwd", Encoded),
            ("backup_db.py\0.txt", Nul),
            (".hidden.py", Hidden),
            ("a/.git/config", Hidden),
            ("a\\..\\b", Character('\\')),
            ("x .py", Character(' ')),
            // Unicode look-alikes of '.', '/' and '‥' are not normalised, just refused.
            ("\u{2025}/etc/passwd", Character('\u{2025}')),
            ("a\u{2215}b.py", Character('\u{2215}')),
            ("\u{FF0E}\u{FF0E}/x", Character('\u{FF0E}')),
        ];
        for (raw, expected) in cases {
            assert_eq!(ScriptPath::parse(raw), Err(expected), "{raw:?}");
        }
        assert_eq!(ScriptPath::parse(&"a".repeat(256)), Err(TooLong));
    }

    #[test]
    fn only_allowlisted_interpreters() {
        for name in ["python3", "bash", "sh"] {
            assert_eq!(name.parse::<Interpreter>().unwrap().as_str(), name);
        }
        for name in ["perl", "/bin/sh -c", "python", "PYTHON3", "sh "] {
            assert!(name.parse::<Interpreter>().is_err(), "{name}");
        }
    }
}
