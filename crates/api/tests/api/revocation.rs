//! Permissions are checked again where a run moves on, not only when it is submitted:
//! when its last approval queues it, when a worker claims it, and while a stream
//! follows its log.

use std::time::Duration;

use sage_model::ExecutionId;
use sage_model::names::WorkerId;
use serde_json::json;

use crate::approvals::{module_needing, waiting_run};
use crate::helpers::{ADMIN, ANALYST, OTHER, TestApp, spawn_app};

const APPROVER: &str = "approver@example.com";

/// The worker these tests claim runs as.
fn worker() -> WorkerId {
    WorkerId::parse("worker-test").unwrap()
}

/// Takes the analyst's `run` away, keeping the approvers' assignments.
async fn revoke_analyst(app: &TestApp, module: &str) {
    app.assign(module, json!([{"user": APPROVER, "permissions": ["view"]}]))
        .await;
}

#[tokio::test]
async fn the_last_approval_does_not_queue_a_run_its_requester_may_no_longer_run() {
    let app = spawn_app().await;
    let module = module_needing(&app, 1).await;
    let id = waiting_run(&app, &module).await;
    revoke_analyst(&app, &module).await;
    let (status, execution) = app
        .post_as(
            &format!("/api/v1/executions/{id}/approve"),
            APPROVER,
            &json!({"comment": "looks fine"}),
        )
        .await;
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["status"], "cancelled");
    assert_eq!(execution["reason"], "run_revoked");
    assert_eq!(app.db().pending_jobs().await.unwrap(), 0, "nothing queued");
}

#[tokio::test]
async fn a_worker_does_not_start_a_run_its_requester_may_no_longer_run() {
    let app = spawn_app().await;
    let module = app.backup_db_module().await;
    let id = app
        .submit(&module, json!({"db_name": "orders", "backup_key": "k"}))
        .await;
    app.assign(&module, json!([{"user": OTHER, "permissions": ["run"]}]))
        .await;
    let execution_id: ExecutionId = id.parse().unwrap();
    let claimed = app
        .db()
        .claim_execution(execution_id, &worker(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(claimed.is_none(), "the run was not handed to the worker");
    let (_, execution) = app.get_as(&format!("/api/v1/executions/{id}"), ADMIN).await;
    assert_eq!(execution["status"], "cancelled");
    assert_eq!(execution["reason"], "run_revoked");
    assert_eq!(execution["started_at"], serde_json::Value::Null);

    // A requester who may run it again gets the next run claimed as before.
    app.assign(&module, json!([{"user": ANALYST, "permissions": ["run"]}]))
        .await;
    let id: ExecutionId = app
        .submit(&module, json!({"db_name": "orders", "backup_key": "k"}))
        .await
        .parse()
        .unwrap();
    let claimed = app
        .db()
        .claim_execution(id, &worker(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(claimed.is_some());
}

#[tokio::test]
async fn a_stream_ends_when_its_viewer_loses_view() {
    let app = spawn_app().await;
    let module = app.backup_db_module().await;
    app.assign(
        &module,
        json!([{"user": ANALYST, "permissions": ["run", "view"]},
               {"user": OTHER, "permissions": ["view"]}]),
    )
    .await;
    // No worker runs in this test: the run stays queued and its stream stays open.
    let id = app
        .submit(&module, json!({"db_name": "orders", "backup_key": "k"}))
        .await;
    let mut stream = app.follow_logs(&id, OTHER, None).await;
    app.assign(
        &module,
        json!([{"user": ANALYST, "permissions": ["run", "view"]}]),
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(15), stream.next()).await;
    assert!(
        matches!(ended, Ok(None)),
        "the stream closed without an event: {ended:?}"
    );
}
