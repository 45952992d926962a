//! The worker's integration tests, against the real Docker engine and services of the
//! local stack.

// Test helpers panic on purpose: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod artifacts;
mod credentials;
mod drivers;
mod evidence;
mod finding_states;
mod isms_p_evidence;
mod logs;
mod metrics;
mod networks;
mod pipeline;
mod runtimes;
mod sandbox;
mod scanners;
mod startup;
mod support;
mod tool_outputs;
mod traces;
