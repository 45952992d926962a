//! Store tests against the real PostgreSQL of the local stack, one database per test.

// Test helpers panic on purpose: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod migrations;
mod users;
