//! Test support: each test gets a database of its own, named by a fresh UUID, on the
//! server of DATABASE_URL, so tests run in parallel without seeing each other's rows.

use std::str::FromStr;

use secrecy::ExposeSecret;
use tokio_postgres::NoTls;

use crate::{DatabaseSettings, Db, StoreError, migrate};

/// Prefix of every test database; `just test` drops leftovers by it.
pub const TEST_DATABASE_PREFIX: &str = "sage_test_";

/// Creates an empty database and returns settings that point at it.
pub async fn fresh_database(base: &DatabaseSettings) -> Result<DatabaseSettings, StoreError> {
    let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let config = tokio_postgres::Config::from_str(base.url.expose_secret())?;
    // The name is ours (prefix + hex), so quoting it as an identifier is safe.
    on_server(&config, &format!("CREATE DATABASE \"{name}\"")).await?;
    base.with_database(&name)
}

/// Drops the test database `url` names (its name must carry the prefix), whoever is
/// still connected to it.
pub async fn drop_test_database(url: &str) -> Result<(), StoreError> {
    let mut config = tokio_postgres::Config::from_str(url)?;
    let name = config
        .get_dbname()
        .filter(|name| name.starts_with(TEST_DATABASE_PREFIX))
        .ok_or(StoreError::Corrupt("not a test database"))?
        .to_owned();
    config.dbname("postgres");
    on_server(&config, &format!("DROP DATABASE \"{name}\" WITH (FORCE)")).await
}

/// Runs `sql` on a connection of its own, closed before this returns.
async fn on_server(config: &tokio_postgres::Config, sql: &str) -> Result<(), StoreError> {
    let (client, connection) = config.connect(NoTls).await?;
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// A fresh database with every migration applied.
pub async fn migrated_database(base: &DatabaseSettings) -> Result<Db, StoreError> {
    let settings = fresh_database(base).await?;
    let db = Db::connect(&settings)?;
    migrate(&db).await?;
    Ok(db)
}

impl Db {
    /// Raw SQL for tests that must reach past the store's API (to simulate tampering).
    pub async fn execute_for_tests(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(self.client().await?.execute(sql, &[]).await?)
    }

    /// Several statements at once (a migration run again on rows it did not see).
    pub async fn batch_for_tests(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client().await?.batch_execute(sql).await?)
    }
}

impl Db {
    /// Every row a query returns, as text (tests search whole tables for secrets).
    pub async fn rows_as_text_for_tests(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client.query(sql, &[]).await?;
        Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
    }
}
