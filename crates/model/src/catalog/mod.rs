//! The catalog: scripts of the library and the modules that wrap them, with their
//! parameter schemas, argv/env templates, limits and policies.

pub mod admission;
pub mod cloud;
pub mod inputs;
pub mod module;
pub mod params;
pub mod script;
pub mod template;

use std::fmt;

use serde::Serialize;

/// One failing input, named the way the client wrote it (`params[2].max`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// Every problem on one line: `field message; field message`.
    pub fn list(problems: &[FieldError]) -> String {
        problems
            .iter()
            .map(|p| format!("{} {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Collects every problem of an input instead of stopping at the first.
/// Where a definition comes from, and so what its reading owes. A request is checked in
/// full. A stored definition passed those checks when it was written (the store takes
/// only a [`module::ModuleDefinition`]), so reading it back builds its typed parts (templates,
/// parameter kinds) and skips the checks that cost most and cannot have changed: each
/// pattern compiled as a regular expression and each default validated against its
/// parameter's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Request,
    Stored,
}

#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.0.push(FieldError::new(field, message));
    }

    /// How many problems so far; it only grows, so a caller can tell whether a step
    /// added any.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing failed, every problem otherwise.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}
