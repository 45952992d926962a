//! Typed identifiers, so an execution id cannot be passed where a module id is meant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// For constants; everything else converts with `From<Uuid>`.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// The identity of one execution: a UUID, the only thing a job message carries.
    ExecutionId
);
uuid_id!(
    /// A module, across all of its versions.
    ModuleId
);
uuid_id!(
    /// A script registered from the library.
    ScriptId
);
uuid_id!(
    /// A user, as Sage Runner provisioned them.
    UserId
);
uuid_id!(
    /// An evidence report, from its request to its PDF.
    EvidenceId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints() {
        let id = ExecutionId::new();
        assert_eq!(id.to_string().parse::<ExecutionId>().unwrap(), id);
        let module = ModuleId::new();
        assert_eq!(serde_json::to_value(module).unwrap(), module.to_string());
    }

    #[test]
    fn refuses_non_uuids() {
        assert!("not-a-uuid".parse::<ExecutionId>().is_err());
        assert!("".parse::<ModuleId>().is_err());
    }
}
