//! Messages on the job queue. They carry an id only (an execution's, an evidence
//! report's, an account import's): everything else is read from PostgreSQL by the worker that claims the job,
//! so a message can never smuggle parameters or secrets past validation.

use serde::{Deserialize, Serialize};

use crate::{EvidenceId, ExecutionId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobMessage {
    RunV1 {
        execution_id: ExecutionId,
    },
    /// Build the evidence report of this id.
    EvidenceV1 {
        evidence_id: EvidenceId,
    },
    /// List an organisation's accounts into the inventory (an import of this id).
    AccountImportV1 {
        import_id: uuid::Uuid,
    },
}

impl JobMessage {
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising a enum of plain fields cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let message = JobMessage::RunV1 {
            execution_id: ExecutionId::new(),
        };
        assert_eq!(
            JobMessage::from_bytes(&message.to_bytes()).unwrap(),
            message
        );
    }

    #[test]
    fn carries_nothing_but_the_id() {
        let id = ExecutionId::new();
        let json: serde_json::Value =
            serde_json::from_slice(&JobMessage::RunV1 { execution_id: id }.to_bytes()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "run_v1", "execution_id": id.to_string()})
        );
    }

    #[test]
    fn refuses_extra_fields_and_unknown_kinds() {
        let id = ExecutionId::new();
        let extra = format!(r#"{{"kind":"run_v1","execution_id":"{id}","params":{{}}}}"#);
        assert!(JobMessage::from_bytes(extra.as_bytes()).is_err());
        let unknown = format!(r#"{{"kind":"run_v9","execution_id":"{id}"}}"#);
        assert!(JobMessage::from_bytes(unknown.as_bytes()).is_err());
        assert!(JobMessage::from_bytes(b"garbage").is_err());
    }
}
