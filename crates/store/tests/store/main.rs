//! Store tests against the real PostgreSQL of the local stack, one database per test.

// Test helpers panic on purpose: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod evidence;
mod finding_states;
mod migrations;
mod outbox;
mod users;

use sage_store::DatabaseSettings;

/// DATABASE_URL of the test environment, with a small pool.
fn base_settings() -> DatabaseSettings {
    let env = sage_infra::config::Env::for_tests();
    let url = env.raw("DATABASE_URL").unwrap_or_default();
    DatabaseSettings {
        url: DatabaseSettings::parse_url(url).unwrap(),
        pool_size: 4,
        audit_key: sage_store::audit::AuditKey::parse(env.raw("AUDIT_KEY").unwrap_or_default())
            .unwrap(),
    }
}
