//! Typed identifiers, so an execution id cannot be passed where a module id is meant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identity of one execution: a UUID, the only thing a job message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(Uuid);

impl ExecutionId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for ExecutionId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for ExecutionId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl FromStr for ExecutionId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints() {
        let id = ExecutionId::new();
        assert_eq!(id.to_string().parse::<ExecutionId>().unwrap(), id);
    }

    #[test]
    fn refuses_non_uuids() {
        assert!("not-a-uuid".parse::<ExecutionId>().is_err());
        assert!("".parse::<ExecutionId>().is_err());
    }
}
