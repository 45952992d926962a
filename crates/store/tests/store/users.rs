use sage_store::testing::migrated_database;

use crate::base_settings;

#[tokio::test]
async fn ensuring_a_user_twice_keeps_one_row_and_adds_roles() {
    let db = migrated_database(&base_settings()).await.unwrap();
    let first = db.ensure_user("Admin@Example.com", &[]).await.unwrap();
    let second = db
        .ensure_user("admin@example.com", &["admin"])
        .await
        .unwrap();
    assert_eq!(first, second, "emails are case-insensitive");
    let third = db.ensure_user("admin@example.com", &[]).await.unwrap();
    assert_eq!(third, first);
    let roles = db.roles_of(first).await.unwrap();
    assert_eq!(roles, ["admin"], "bootstrapping never takes a role away");
}

#[tokio::test]
async fn unknown_roles_are_refused_by_the_database() {
    let db = migrated_database(&base_settings()).await.unwrap();
    assert!(db.ensure_user("x@example.com", &["root"]).await.is_err());
}
