use sage_store::audit::{AuditContext, AuditFilter, Change};
use sage_store::testing::migrated_database;

use crate::base_settings;
use serde_json::json;

fn context(actor: &str) -> AuditContext {
    AuditContext {
        actor: actor.to_owned(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("tests".into()),
        request_id: Some("req-1".into()),
    }
}

fn change(target: &str, n: i64) -> Change {
    Change {
        action: "script.create",
        target_type: "script",
        target_id: target.to_owned(),
        before: None,
        // Keys out of order and nested: jsonb reorders them, the chain must not care.
        after: Some(json!({"z": n, "a": {"y": [1, 2.5, "x"], "b": null}})),
    }
}

#[tokio::test]
async fn appended_events_chain_and_verify() {
    let db = migrated_database(&base_settings()).await.unwrap();
    let empty = db.verify_audit_chain().await.unwrap();
    assert!(empty.ok && empty.checked == 0);
    for n in 0..5 {
        db.record_audit(&context("admin@example.com"), &change("t1", n))
            .await
            .unwrap();
    }
    db.record_audit(&context("other@example.com"), &change("t2", 9))
        .await
        .unwrap();
    let report = db.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checked, 6);

    let filter = AuditFilter {
        actor: Some("admin@example.com".into()),
        limit: 3,
        ..Default::default()
    };
    let page = db.audit_events(&filter).await.unwrap();
    assert_eq!(page.len(), 3);
    assert!(page.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let next = AuditFilter {
        before_id: Some(page[2].id),
        ..filter
    };
    assert_eq!(db.audit_events(&next).await.unwrap().len(), 2);
    let by_target = AuditFilter {
        target_id: Some("t2".into()),
        limit: 50,
        ..Default::default()
    };
    let t2 = db.audit_events(&by_target).await.unwrap();
    assert_eq!(t2.len(), 1);
    assert_eq!(t2[0].ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(t2[0].user_agent.as_deref(), Some("tests"));
}

#[tokio::test]
async fn the_database_refuses_to_change_audit_rows() {
    let db = migrated_database(&base_settings()).await.unwrap();
    db.record_audit(&context("a@example.com"), &change("t", 1))
        .await
        .unwrap();
    for sql in [
        "UPDATE audit_events SET actor = 'someone-else'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events CASCADE",
    ] {
        let error = db.execute_for_tests(sql).await.unwrap_err();
        let text = format!("{:?}", error);
        assert!(text.contains("append-only"), "{sql}: {text}");
    }
    assert!(db.verify_audit_chain().await.unwrap().ok);
}

#[tokio::test]
async fn an_edit_behind_the_triggers_back_is_detected() {
    let db = migrated_database(&base_settings()).await.unwrap();
    for n in 0..3 {
        db.record_audit(&context("a@example.com"), &change("t", n))
            .await
            .unwrap();
    }
    let second = db
        .audit_events(&AuditFilter {
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap()[1]
        .id;
    db.execute_for_tests("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        .await
        .unwrap();
    db.execute_for_tests(&format!(
        "UPDATE audit_events SET after = '{{\"z\": 99}}' WHERE id = {second}"
    ))
    .await
    .unwrap();
    let report = db.verify_audit_chain().await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.broken_at, Some(second));
    assert_eq!(report.checked, 1);
}

#[tokio::test]
async fn every_event_is_queued_for_the_siem() {
    let db = migrated_database(&base_settings()).await.unwrap();
    for n in 0..4 {
        db.record_audit(&context("a@example.com"), &change("t", n))
            .await
            .unwrap();
    }
    let queued = db
        .execute_for_tests("SELECT audit_id FROM siem_outbox")
        .await
        .unwrap();
    assert_eq!(queued, 4);
}
