//! PostgreSQL: the connection pool, the migrations of `migrations/`, and every query
//! Sage Runner makes. Rows become domain types here; nothing above sees SQL.

pub mod accounts;
pub mod approval_notices;
pub mod approvals;
pub mod artifacts;
pub mod audit;
pub mod catalog;
pub mod compliance;
mod conditions;
pub mod evidence;
pub mod evidence_documents;
pub mod executions;
pub mod finding_changes;
pub mod finding_counts;
pub mod finding_history;
pub mod finding_states;
pub mod findings;
pub mod in_flight;
pub mod jobs;
pub mod logs;
pub mod metrics;
mod migrate;
pub mod notifications;
pub mod outbox;
mod pool;
pub mod retention;
pub mod risk_acceptances;
pub mod runs;
pub mod scans;
pub mod schedules;
pub mod seed;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tools;
pub mod users;

pub use migrate::{MIGRATIONS, Migration, migrate};
pub use pool::{DatabaseSettings, Db};

/// What can go wrong talking to PostgreSQL. Callers map it to an opaque 500; the cause
/// chain is logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no database connection available")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("cannot build the connection pool")]
    Build(#[from] deadpool_postgres::BuildError),
    #[error("database query failed")]
    Query(#[from] tokio_postgres::Error),
    /// A row holds a value the code does not know: the database was changed outside it.
    #[error("unexpected {0} in the database")]
    Corrupt(&'static str),
    /// A status change the state machine refuses: a bug in the caller, never a race
    /// (races are compare-and-sets that change nothing).
    #[error("refused status change")]
    Transition(#[from] sage_model::TransitionError),
    /// A unique key is taken: the message says which, in the client's words.
    #[error("{0}")]
    Conflict(&'static str),
    /// A submission past a limit of runs in flight; nothing was recorded.
    #[error("{0}")]
    OverLimit(executions::OverLimit),
    #[error(
        "migration {version} was changed after it was applied (checksum {found}, expected {expected})"
    )]
    MigrationChanged {
        version: String,
        expected: String,
        found: String,
    },
}

/// Whether user `u` is assigned execution `e`'s module with `$right` (`can_run`,
/// `can_view`): by verified email or by group. The api's `Access`, said again in SQL
/// for the moments a run moves on without a request: change both together.
macro_rules! user_assigned {
    ($right:literal) => {
        concat!(
            "EXISTS (
                SELECT 1 FROM module_assignments a
                WHERE a.module_id = e.module_id AND a.",
            $right,
            " AND ((a.principal_kind = 'user' AND a.principal = u.email AND u.email_verified)
                     OR (a.principal_kind = 'group' AND a.principal = ANY(u.groups))))"
        )
    };
}
pub(crate) use user_assigned;

/// Whether the requester of execution `e` may run its module now: an admin, or assigned
/// `run` (the api's `Access::runnable_module`), checked when a run is queued and claimed.
macro_rules! requester_may_run {
    () => {
        concat!(
            "EXISTS (
                SELECT 1 FROM users u
                WHERE u.id = e.requested_by
                  AND ('admin' = ANY(u.roles) OR ",
            $crate::user_assigned!("can_run"),
            "))"
        )
    };
}
pub(crate) use requester_may_run;

/// A compare-and-set on a row that this transaction locked and whose status it checked
/// must change exactly that row; anything else means the row changed under the lock.
pub(crate) fn changed_one(updated: u64, what: &'static str) -> Result<(), StoreError> {
    if updated == 1 {
        Ok(())
    } else {
        Err(StoreError::Corrupt(what))
    }
}

/// Turns a unique-key violation into `Conflict(message)`; other errors pass through.
pub(crate) fn unique_violation(error: tokio_postgres::Error, message: &'static str) -> StoreError {
    if error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(message)
    } else {
        StoreError::Query(error)
    }
}
