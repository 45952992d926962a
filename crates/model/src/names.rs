//! Names parsed at the edge, as ids are: a value of these types has passed its rule,
//! so what holds one never checks it again.

use std::fmt;

use crate::tools::Tool;

/// A worker's name in leases, audit events and its sandboxes' labels: at most 64 of
/// a-z, A-Z, 0-9, '-', '_' and '.'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId(String);

impl WorkerId {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err("must be 1 to 64 characters of a-z, A-Z, 0-9, '-', '_', '.'")
        }
    }

    /// A name of its own for a worker that was given none: `worker-` and 12 hex digits.
    pub fn generated() -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("worker-{}", &suffix[..12]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A module's name: 2 to 63 of a-z, 0-9 and '-', starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModuleName(String);

impl ModuleName {
    pub fn parse(name: &str) -> Result<Self, &'static str> {
        let ok = (2..=63).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err("must be 2 to 63 of a-z, 0-9 and '-', starting with a letter or digit")
        }
    }

    /// The module a scanner tool runs as, named after it.
    pub fn of_tool(tool: Tool) -> Self {
        Self(tool.as_str().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address as people and tokens present it: trimmed and lower-cased, at most
/// 254 printable ASCII characters, a local part and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        let shaped = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
        if shaped && email.len() <= 254 && email.chars().all(|c| c.is_ascii_graphic()) {
            Ok(Self(email))
        } else {
            Err("is not an email address")
        }
    }

    /// An address under `.invalid` (RFC 2606), which no mailbox or person can have:
    /// what deploy configs ship in place of a real one.
    pub fn is_placeholder(&self) -> bool {
        self.0.ends_with(".invalid")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_checked_and_every_tool_has_one() {
        assert_eq!(
            ModuleName::parse("backup-db").unwrap().as_str(),
            "backup-db"
        );
        for bad in ["", "a", "-db", "Backup", "db_1", &"a".repeat(64)] {
            assert!(ModuleName::parse(bad).is_err(), "{bad:?}");
        }
        for tool in Tool::ALL {
            assert_eq!(
                ModuleName::parse(tool.as_str()),
                Ok(ModuleName::of_tool(tool))
            );
        }
    }

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            Email::parse(" Analyst@Example.COM ").unwrap().as_str(),
            "analyst@example.com"
        );
        for bad in [
            "",
            "nobody",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@.com",
            "ä@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Email::parse("admin@your-company.invalid")
                .unwrap()
                .is_placeholder()
        );
        assert!(!Email::parse("admin@example.com").unwrap().is_placeholder());
    }

    #[test]
    fn worker_ids_are_label_and_audit_safe() {
        assert_eq!(
            WorkerId::parse("worker-a1.b_2").unwrap().as_str(),
            "worker-a1.b_2"
        );
        let generated = WorkerId::generated();
        assert_eq!(WorkerId::parse(generated.as_str()), Ok(generated));
        for bad in ["", "a b", "w/1", "ü", &"x".repeat(65)] {
            assert!(WorkerId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
