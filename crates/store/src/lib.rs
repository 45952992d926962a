//! PostgreSQL: the connection pool, the migrations of `migrations/`, and every query
//! Sage Runner makes. Rows become domain types here; nothing above sees SQL.

pub mod audit;
mod migrate;
mod pool;
#[cfg(feature = "testing")]
pub mod testing;
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
    #[error(
        "migration {version} was changed after it was applied (checksum {found}, expected {expected})"
    )]
    MigrationChanged {
        version: String,
        expected: String,
        found: String,
    },
}
