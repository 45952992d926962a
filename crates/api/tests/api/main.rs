//! The api's integration tests: each starts the whole application on a random port
//! against a fresh database and the real services of the local stack.

// Test helpers panic on purpose: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod approvals;
mod catalog;
mod config;
mod console;
mod console_accounts;
mod console_findings;
mod evidence_documents;
mod executions;
mod findings;
mod metrics;
mod notifications;
mod queue;
/// The shared test support, under the name these tests have always used.
mod helpers {
    pub use sage_testkit::*;
}
mod oidc;
/// The webhook receiver, now the test kit's.
mod receiver {
    pub use sage_testkit::receiver::*;
}
mod retention;
mod revocation;
mod risk_acceptances;
mod scans;
mod schedules;
mod seed;
mod service;
mod sign_in_cache;
mod stream_costs;
mod streams;
mod tools;
mod versions;
mod webhooks;
