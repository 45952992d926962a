//! Domain types of Sage Runner. Pure: no IO and no async runtime, so every rule here is
//! testable in isolation and shared unchanged by the api, the worker and the store.

pub mod acceptance;
pub mod accounts;
pub mod artifacts;
pub mod catalog;
pub mod compliance;
pub mod evidence;
pub mod execution;
pub mod findings;
pub mod ids;
pub mod logs;
pub mod names;
pub mod notifications;
pub mod plan;
pub mod queue;
pub mod schedules;
pub mod tools;

/// Lowercase hex, as sha256 digests are shown and stored everywhere in Sage Runner.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
            out
        })
}

pub use catalog::FieldError;
pub use execution::{EndReason, ExecutionStatus, StartFailure, Transition, TransitionError};
pub use ids::{EvidenceId, ExecutionId, ModuleId, ScriptId, UserId};
pub use queue::JobMessage;
