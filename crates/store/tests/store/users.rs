use sage_store::testing::migrated_database;

use crate::base_settings;
use sage_model::names::Email;

#[tokio::test]
async fn ensuring_a_user_twice_keeps_one_row_and_adds_roles() {
    let db = migrated_database(&base_settings()).await.unwrap();
    let first = db
        .ensure_user(&Email::parse("Admin@Example.com").unwrap(), &[])
        .await
        .unwrap();
    let second = db
        .ensure_user(&Email::parse("admin@example.com").unwrap(), &["admin"])
        .await
        .unwrap();
    assert_eq!(first, second, "emails are case-insensitive");
    let third = db
        .ensure_user(&Email::parse("admin@example.com").unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(third, first);
    let roles = db.roles_of(first).await.unwrap();
    assert_eq!(roles, ["admin"], "bootstrapping never takes a role away");
}

#[tokio::test]
async fn unknown_roles_are_refused_by_the_database() {
    let db = migrated_database(&base_settings()).await.unwrap();
    assert!(
        db.ensure_user(&Email::parse("x@example.com").unwrap(), &["root"])
            .await
            .is_err()
    );
}

/// The row's version and when it was last seen: a write changes the first.
async fn row_of(db: &sage_store::Db, email: &str) -> String {
    db.rows_as_text_for_tests(&format!(
        "SELECT xmin::text || ' ' || roles::text FROM users WHERE email = '{email}'"
    ))
    .await
    .unwrap()
    .concat()
}

#[tokio::test]
async fn a_sign_in_writes_the_users_row_only_when_something_changed_or_a_minute_passed() {
    use sage_store::audit::AuditContext;
    use sage_store::users::Claims;

    let db = migrated_database(&base_settings()).await.unwrap();
    let context = AuditContext::default();
    let email = "seen@example.com";
    let address = Email::parse(email).unwrap();
    let claims = |roles: &[&str]| Claims {
        roles: Some(roles.iter().map(|r| (*r).to_owned()).collect()),
        groups: Some(vec!["ops".to_owned()]),
    };
    let first = db.sign_in(&address, &claims(&[]), &context).await.unwrap();
    let written = row_of(&db, email).await;
    for _ in 0..3 {
        let again = db.sign_in(&address, &claims(&[]), &context).await.unwrap();
        assert_eq!(again, first);
        assert_eq!(
            row_of(&db, email).await,
            written,
            "nothing changed: no write"
        );
    }
    let promoted = db
        .sign_in(&address, &claims(&["approver"]), &context)
        .await
        .unwrap();
    assert_eq!(
        promoted.roles,
        ["approver"],
        "a role change is written at once"
    );
    assert_ne!(row_of(&db, email).await, written);
    // A minute later the same sign-in records that the user was seen.
    db.execute_for_tests(&format!(
        "UPDATE users SET last_seen_at = now() - interval '61 seconds' WHERE email = '{email}'"
    ))
    .await
    .unwrap();
    let stale = row_of(&db, email).await;
    db.sign_in(&address, &claims(&["approver"]), &context)
        .await
        .unwrap();
    assert_ne!(row_of(&db, email).await, stale);
}
