use sage_store::audit::{AuditContext, AuditFilter, AuditKey, ChainHead, Change};
use sage_store::testing::migrated_database;

use crate::base_settings;
use serde_json::json;

fn context(actor: &str) -> AuditContext {
    AuditContext {
        actor: actor.to_owned(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("tests".into()),
        request_id: Some("req-1".into()),
        traceparent: None,
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
    let empty = db.verify_audit_chain(&[]).await.unwrap();
    assert!(empty.ok && empty.checked == 0);
    for n in 0..5 {
        db.record_audit(&context("admin@example.com"), &change("t1", n))
            .await
            .unwrap();
    }
    db.record_audit(&context("other@example.com"), &change("t2", 9))
        .await
        .unwrap();
    let report = db.verify_audit_chain(&[]).await.unwrap();
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
    assert!(db.verify_audit_chain(&[]).await.unwrap().ok);
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
    let report = db.verify_audit_chain(&[]).await.unwrap();
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

/// Takes the append-only triggers away, as someone with full write access could.
async fn bypass_triggers(db: &sage_store::Db) {
    db.execute_for_tests("ALTER TABLE audit_events DISABLE TRIGGER USER")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_link_written_without_the_key_breaks_the_chain() {
    let db = migrated_database(&base_settings()).await.unwrap();
    db.record_audit(&context("a@example.com"), &change("t", 1))
        .await
        .unwrap();
    // Someone who can write to the database, but holds another key.
    let mut forger = base_settings();
    forger.audit_key =
        AuditKey::parse("b3RoZXIta2V5LW9mLXRoZS1mb3JnZXItMzItYnl0ZXMtbG9uZw==").unwrap();
    let database = db
        .rows_as_text_for_tests("SELECT current_database()")
        .await
        .unwrap()
        .remove(0);
    let forger = sage_store::Db::connect(&forger.with_database(&database).unwrap()).unwrap();
    let forged = forger
        .record_audit(&context("a@example.com"), &change("t", 2))
        .await
        .unwrap();
    let report = db.verify_audit_chain(&[]).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.broken_at, Some(forged));
    assert!(report.reason.unwrap().contains("does not match its hash"));
}

#[tokio::test]
async fn a_trail_from_before_the_key_stays_valid_below_the_keyed_events_and_only_there() {
    let db = migrated_database(&base_settings()).await.unwrap();
    for n in 0..3 {
        db.record_unkeyed_audit_for_tests(&context("a@example.com"), &change("old", n))
            .await
            .unwrap();
    }
    assert!(db.seal_unkeyed_audit_trail().await.unwrap(), "sealed");
    assert!(!db.seal_unkeyed_audit_trail().await.unwrap(), "once");
    let report = db.verify_audit_chain(&[]).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.checked, 4);
    let sealed = db
        .audit_events(&AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sealed[0].action, "audit.chain.keyed");
    assert!(sealed[0].keyed);

    // A plain link after keyed ones is refused.
    let late = db
        .record_unkeyed_audit_for_tests(&context("a@example.com"), &change("late", 1))
        .await
        .unwrap();
    let report = db.verify_audit_chain(&[]).await.unwrap();
    assert_eq!(report.broken_at, Some(late), "{report:?}");
    assert!(
        report
            .reason
            .unwrap()
            .contains("not keyed, yet keyed events precede it")
    );
}

#[tokio::test]
async fn cutting_the_keyed_tail_off_a_sealed_trail_shows() {
    let db = migrated_database(&base_settings()).await.unwrap();
    let old = db
        .record_unkeyed_audit_for_tests(&context("a@example.com"), &change("old", 1))
        .await
        .unwrap();
    db.seal_unkeyed_audit_trail().await.unwrap();
    db.record_audit(&context("a@example.com"), &change("new", 1))
        .await
        .unwrap();
    bypass_triggers(&db).await;
    db.execute_for_tests(&format!("DELETE FROM siem_outbox WHERE audit_id > {old}"))
        .await
        .unwrap();
    db.execute_for_tests(&format!("DELETE FROM audit_events WHERE id > {old}"))
        .await
        .unwrap();
    let report = db.verify_audit_chain(&[]).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.broken_at, Some(old));
    assert!(
        report
            .reason
            .unwrap()
            .contains("the last event is not keyed")
    );
}

#[tokio::test]
async fn the_heads_the_siem_received_show_a_trail_cut_short_or_rewritten() {
    let db = migrated_database(&base_settings()).await.unwrap();
    for n in 0..3 {
        db.record_audit(&context("a@example.com"), &change("t", n))
            .await
            .unwrap();
    }
    let events = db
        .audit_events(&AuditFilter {
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let head = |event: &sage_store::audit::AuditEvent| ChainHead {
        id: event.id,
        hash: event.hash.clone(),
    };
    let (last, middle) = (head(&events[0]), head(&events[1]));
    let report = db
        .verify_audit_chain(&[middle.clone(), last.clone()])
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");

    let other = ChainHead {
        hash: "0".repeat(64),
        ..middle.clone()
    };
    let report = db.verify_audit_chain(&[other]).await.unwrap();
    assert_eq!(report.broken_at, Some(middle.id));
    assert!(report.reason.unwrap().contains("with another hash"));

    // The last row removed: the chain itself still links, the SIEM's copy does not.
    bypass_triggers(&db).await;
    for table in ["siem_outbox WHERE audit_id", "audit_events WHERE id"] {
        db.execute_for_tests(&format!("DELETE FROM {table} = {}", last.id))
            .await
            .unwrap();
    }
    assert!(db.verify_audit_chain(&[]).await.unwrap().ok);
    let report = db
        .verify_audit_chain(&[middle, last.clone()])
        .await
        .unwrap();
    assert!(!report.ok);
    assert_eq!(report.broken_at, Some(last.id));
    assert!(report.reason.unwrap().contains("no longer holds it"));
}
