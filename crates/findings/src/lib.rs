//! Scanner outputs parsed into one normalized finding, and the evidence PDF built from
//! them. This crate starts with the shared vocabulary; the parsers come per tool.

pub mod finding;

pub use finding::{Severity, Status};
