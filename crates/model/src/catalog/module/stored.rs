//! A checked definition as the store keeps it: the request that defines it, with every
//! limit resolved, read back into its typed parts without the checks its write passed
//! (see [`Origin`]).

use serde_json::Number;

use super::{Limits, ModuleDefinition, ModuleRequest, RawApproval, RawLimits};
use crate::catalog::cloud::{Credentials, SandboxImage};
use crate::catalog::{FieldError, Origin};

/// Why a stored definition does not read back: every problem, as the checks name them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored module definition does not pass its checks: {}", FieldError::list(.0))]
pub struct StoredDefinitionError(pub Vec<FieldError>);

impl TryFrom<ModuleRequest> for ModuleDefinition {
    type Error = StoredDefinitionError;

    /// Reads a stored version back. Stored versions were checked against the limit
    /// ceiling of their day; a lower ceiling later must not make them unreadable.
    fn try_from(stored: ModuleRequest) -> Result<Self, Self::Error> {
        Self::build(&stored, &Limits::UNBOUNDED, Origin::Stored).map_err(StoredDefinitionError)
    }
}

impl From<ModuleDefinition> for ModuleRequest {
    fn from(definition: ModuleDefinition) -> Self {
        let number = |v: u64| Some(Number::from(v));
        let limits = definition.limits;
        let args = definition.args();
        Self {
            name: None,
            description: Some(definition.description),
            script_id: definition.script_id,
            params: definition.params.iter().map(|p| p.raw().clone()).collect(),
            args,
            env: definition
                .env
                .iter()
                .map(|(key, t)| (key.clone(), t.as_str().to_owned()))
                .collect(),
            limits: RawLimits {
                timeout_sec: number(limits.timeout_sec),
                memory_mb: number(limits.memory_mb),
                cpus: Number::from_f64(limits.cpus),
                pids: number(limits.pids),
                open_files: number(limits.open_files),
                max_output_bytes: number(limits.max_output_bytes),
            },
            network: Some(definition.network.as_str().to_owned()),
            approval: RawApproval {
                required: number(u64::from(definition.approvals_required)),
            },
            // Left out at their defaults, so versions stored before they existed read
            // back and write out the same.
            image: (definition.image != SandboxImage::default())
                .then(|| definition.image.as_str().to_owned()),
            credentials: (definition.credentials != Credentials::default())
                .then(|| definition.credentials.as_str().to_owned()),
        }
    }
}
