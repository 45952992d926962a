//! Domain types of Sage Runner. Pure: no IO and no async runtime, so every rule here is
//! testable in isolation and shared unchanged by the api, the worker and the store.

pub mod catalog;
pub mod execution;
pub mod ids;
pub mod logs;
pub mod queue;

pub use catalog::FieldError;
pub use execution::{ExecutionStatus, TransitionError};
pub use ids::ExecutionId;
pub use queue::JobMessage;
