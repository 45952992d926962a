//! The SIEM webhook: every audit event once, in order, signed, despite an outage.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{ADMIN, TestApp, spawn_app_with, test_env};
use crate::receiver::Receiver;
use sage_api::background::webhook::SIEM_VARS;

async fn wait_for_empty(app: &TestApp, table: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while app
        .db()
        .execute_for_tests(&format!("SELECT 1 FROM {table}"))
        .await
        .unwrap()
        > 0
    {
        assert!(Instant::now() < deadline, "{table} was not emptied");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn audit_events_reach_the_siem_once_each_in_order_despite_an_outage() {
    let receiver = Receiver::start(2).await;
    let app = spawn_app_with(receiver.env_for(SIEM_VARS)).await;
    let script = app.register_backup_script().await;
    let module = crate::helpers::backup_module(&script);
    let (status, _) = app.post_as("/api/v1/modules", ADMIN, &module).await;
    assert_eq!(status, 201);

    wait_for_empty(&app, "siem_outbox", Duration::from_secs(30)).await;
    let (_, events) = app.get_as("/api/v1/audit?limit=500", ADMIN).await;
    let mut expected: Vec<(i64, String)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    expected.sort_unstable();
    let accepted = receiver.accepted();
    let got: Vec<(i64, String)> = accepted.iter().map(|r| (r.id, r.event.clone())).collect();
    assert_eq!(got, expected, "every event once, oldest first");
    for received in &accepted {
        assert!(received.signed, "every signature verifies");
        assert_eq!(received.body["id"], received.id);
        assert_eq!(received.body["hash"].as_str().map(str::len), Some(64));
    }
    assert_eq!(
        receiver.seen(),
        expected.len() + 2,
        "two refusals, then each event once"
    );

    // The trail holds the copies the SIEM received, and refuses heads it cannot read.
    let heads: Vec<String> = accepted
        .iter()
        .map(|r| format!("{}:{}", r.id, r.body["hash"].as_str().unwrap()))
        .collect();
    let path = format!("/api/v1/audit/verify?heads={}", heads.join(","));
    let (status, verify) = app.get_as(&path, ADMIN).await;
    assert_eq!(status, 200);
    assert_eq!(verify["ok"], true, "{verify}");
    let forged = format!("{}:{}", accepted[0].id, "0".repeat(64));
    let (_, verify) = app
        .get_as(&format!("/api/v1/audit/verify?heads={forged}"), ADMIN)
        .await;
    assert_eq!(verify["ok"], false);
    assert_eq!(verify["broken_at"], accepted[0].id);
    let (status, refused) = app.get_as("/api/v1/audit/verify?heads=latest", ADMIN).await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["fields"][0]["field"], "heads");
}

#[tokio::test]
async fn without_receivers_the_outboxes_do_not_grow() {
    let mut env = test_env();
    env.set("SIEM_WEBHOOK_URL", "");
    env.set("APPROVAL_WEBHOOK_URL", "");
    let app = spawn_app_with(env).await;
    let module = crate::approvals::module_needing(&app, 1).await;
    crate::approvals::waiting_run(&app, &module).await;
    wait_for_empty(&app, "siem_outbox", Duration::from_secs(10)).await;
    wait_for_empty(&app, "approval_outbox", Duration::from_secs(10)).await;
    let (_, verify) = app.get_as("/api/v1/audit/verify", ADMIN).await;
    assert_eq!(verify, json!({"ok": true, "checked": verify["checked"]}));
}
