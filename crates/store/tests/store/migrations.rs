use sage_store::testing::fresh_database;

use crate::base_settings;
use sage_store::{Db, MIGRATIONS, StoreError, migrate};

#[tokio::test]
async fn migrations_apply_once_and_are_idempotent() {
    let db = Db::connect(&fresh_database(&base_settings()).await.unwrap()).unwrap();
    let first = migrate(&db).await.unwrap();
    assert_eq!(first.len(), MIGRATIONS.len());
    let second = migrate(&db).await.unwrap();
    assert!(second.is_empty(), "second run applied {second:?}");
}

#[tokio::test]
async fn replicas_migrating_together_apply_each_migration_once() {
    let settings = fresh_database(&base_settings()).await.unwrap();
    let (a, b) = (
        Db::connect(&settings).unwrap(),
        Db::connect(&settings).unwrap(),
    );
    let (first, second) = tokio::join!(migrate(&a), migrate(&b));
    let applied = first.unwrap().len() + second.unwrap().len();
    assert_eq!(applied, MIGRATIONS.len());
}

#[tokio::test]
async fn a_migration_edited_after_it_was_applied_is_refused() {
    let db = sage_store::testing::migrated_database(&base_settings())
        .await
        .unwrap();
    db.execute_for_tests("UPDATE schema_migrations SET checksum = 'edited'")
        .await
        .unwrap();
    let error = migrate(&db).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::MigrationChanged { version, .. } if version == MIGRATIONS[0].version),
        "{error:?}"
    );
}
