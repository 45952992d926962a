//! OpenAPI schemas of the model's types, which stay free of documentation concerns.

use sage_model::ExecutionStatus;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// `status` of an execution: one of the state machine's names.
pub fn execution_status() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ExecutionStatus::ALL.map(ExecutionStatus::as_str)))
        .build()
}
