//! Scanner outputs parsed into one normalized finding, the counts an evidence report
//! is built from, and the evidence PDF.

pub mod cli;
pub mod error;
pub mod finding;
pub mod identity;
pub mod pack;
pub mod parse;
pub mod report;
pub mod summary;

pub use error::ParseError;
pub use finding::{Finding, Severity, Source, Status, Tool};
pub use parse::{Input, Parsed, Record, parse_inputs};
