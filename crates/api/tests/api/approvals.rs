//! Four-eyes approval: runs of a version that needs approvals wait, are decided on by
//! admins and approvers (never their requester), are queued once enough approved, end
//! `rejected` on one rejection or when nobody decided in time.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, ANALYST, OTHER, TestApp, backup_module, spawn_app, spawn_app_with, test_env,
};
use crate::receiver::Receiver;
use sage_api::background::webhook::APPROVAL_VARS;

const APPROVER: &str = "approver@example.com";
const SECOND_APPROVER: &str = "second-approver@example.com";

/// A backup-db module needing `required` approvals; the analyst may run it, the
/// approvers may view it.
pub(crate) async fn module_needing(app: &TestApp, required: u32) -> String {
    module_of(app, &app.register_backup_script().await, required).await
}

pub(crate) async fn module_of(app: &TestApp, script: &str, required: u32) -> String {
    let mut definition = backup_module(script);
    definition["name"] = json!(format!("backup-db-{required}"));
    definition["approval"]["required"] = json!(required);
    let (status, module) = app.post_as("/api/v1/modules", ADMIN, &definition).await;
    assert_eq!(status, 201, "{module}");
    let id = module["id"].as_str().unwrap().to_owned();
    app.user_with(APPROVER, &["approver"], &[]).await;
    app.user_with(SECOND_APPROVER, &["approver"], &[]).await;
    app.assign(
        &id,
        json!([{"user": ANALYST, "permissions": ["run", "view"]},
               {"user": APPROVER, "permissions": ["view"]},
               {"user": SECOND_APPROVER, "permissions": ["run", "view"]}]),
    )
    .await;
    id
}

fn params() -> Value {
    json!({"db_name": "orders", "backup_key": "k3y-for-approval-tests"})
}

async fn run_as(app: &TestApp, module: &str, user: &str) -> Value {
    let (status, execution) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            user,
            &json!({"params": params()}),
        )
        .await;
    assert_eq!(status, 202, "{execution}");
    execution
}

/// The id of a run the analyst just submitted.
pub(crate) async fn waiting_run(app: &TestApp, module: &str) -> String {
    run_as(app, module, ANALYST).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn decide(
    app: &TestApp,
    id: &str,
    verb: &str,
    user: &str,
    comment: &str,
) -> (reqwest::StatusCode, Value) {
    app.post_as(
        &format!("/api/v1/executions/{id}/{verb}"),
        user,
        &json!({"comment": comment}),
    )
    .await
}

async fn outbox_rows(app: &TestApp, id: &str) -> usize {
    app.db()
        .rows_as_text_for_tests(&format!(
            "SELECT execution_id::text FROM job_outbox WHERE execution_id = '{id}'"
        ))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_run_waits_until_an_approver_other_than_its_requester_approves() {
    let app = spawn_app().await;
    let module = module_needing(&app, 1).await;
    let execution = run_as(&app, &module, ANALYST).await;
    assert_eq!(execution["status"], "awaiting_approval");
    assert_eq!(execution["approvals"], json!([]));
    assert_eq!(execution["approvals_required"], 1);
    let expires: chrono::DateTime<chrono::Utc> = execution["approval_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = expires - chrono::Utc::now();
    assert!(
        (86_000..=86_400).contains(&left.num_seconds()),
        "default 24 h: {left}"
    );
    let id = execution["id"].as_str().unwrap();
    assert_eq!(outbox_rows(&app, id).await, 0, "not enqueued while waiting");

    let (status, body) = decide(&app, id, "approve", ANALYST, "self").await;
    assert_eq!(status, 403, "the requester: {body}");
    let (status, _) = decide(&app, id, "approve", OTHER, "not mine to see").await;
    assert_eq!(status, 404);

    // The approvers' inbox.
    let (_, inbox) = app
        .get_as("/api/v1/executions?status=awaiting_approval", APPROVER)
        .await;
    assert_eq!(inbox["items"][0]["id"], id, "{inbox}");
    let (_, inbox) = app
        .get_as("/api/v1/executions?status=awaiting_approval", OTHER)
        .await;
    assert_eq!(inbox["items"], json!([]));

    let audits = app.audit_count().await;
    let (status, approved) = decide(&app, id, "approve", APPROVER, "looks fine").await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "queued");
    assert!(
        approved["approval_expires_at"].is_null(),
        "no longer waiting"
    );
    assert_eq!(approved["approvals"][0]["approver"], APPROVER);
    assert_eq!(approved["approvals"][0]["decision"], "approve");
    assert_eq!(approved["approvals"][0]["comment"], "looks fine");
    assert_eq!(app.audit_count().await, audits + 1);
    let (status, body) = decide(&app, id, "approve", ADMIN, "late").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        app.execution(id).await["approvals"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_requester_with_the_approver_role_still_cannot_approve_their_own_run() {
    let app = spawn_app().await;
    let module = module_needing(&app, 1).await;
    let execution = run_as(&app, &module, SECOND_APPROVER).await;
    let id = execution["id"].as_str().unwrap();
    let (status, _) = decide(&app, id, "approve", SECOND_APPROVER, "mine").await;
    assert_eq!(status, 403);
    let (status, _) = decide(&app, id, "reject", SECOND_APPROVER, "mine").await;
    assert_eq!(status, 403);
    // An analyst who may see the run but has no approver role.
    let execution = run_as(&app, &module, SECOND_APPROVER).await;
    let (status, body) = decide(
        &app,
        execution["id"].as_str().unwrap(),
        "approve",
        ANALYST,
        "x",
    )
    .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn one_rejection_ends_the_run_and_it_never_starts() {
    let app = spawn_app().await;
    let module = module_needing(&app, 2).await;
    let id = waiting_run(&app, &module).await;
    let (status, _) = decide(&app, &id, "approve", APPROVER, "ok by me").await;
    assert_eq!(status, 200);
    let (status, rejected) = decide(&app, &id, "reject", ADMIN, "not today").await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "rejected_by");
    assert!(rejected["started_at"].is_null());
    assert!(rejected["finished_at"].is_string());
    assert_eq!(rejected["approvals"].as_array().unwrap().len(), 2);
    assert_eq!(outbox_rows(&app, &id).await, 0);
    let secrets = app
        .db()
        .rows_as_text_for_tests(&format!(
            "SELECT execution_id::text FROM execution_secrets WHERE execution_id = '{id}'"
        ))
        .await
        .unwrap();
    assert!(secrets.is_empty(), "a rejected run's secrets are deleted");
}

#[tokio::test]
async fn two_approvals_need_two_distinct_approvers() {
    let app = spawn_app().await;
    let module = module_needing(&app, 2).await;
    let id = waiting_run(&app, &module).await;
    let (status, first) = decide(&app, &id, "approve", APPROVER, "one").await;
    assert_eq!(
        (status.as_u16(), first["status"].as_str()),
        (200, Some("awaiting_approval"))
    );
    let (status, body) = decide(&app, &id, "approve", APPROVER, "one again").await;
    assert_eq!(status, 409, "the same approver counts once: {body}");
    let (status, second) = decide(&app, &id, "approve", ADMIN, "two").await;
    assert_eq!(status, 200);
    assert_eq!(second["status"], "queued");
}

#[tokio::test]
async fn approvers_approving_at_the_same_moment_enqueue_the_run_once() {
    let app = spawn_app().await;
    let module = module_needing(&app, 1).await;
    for _ in 0..5 {
        let id = waiting_run(&app, &module).await;
        let (a, b, c) = tokio::join!(
            decide(&app, &id, "approve", APPROVER, "a"),
            decide(&app, &id, "approve", SECOND_APPROVER, "b"),
            decide(&app, &id, "approve", ADMIN, "c"),
        );
        let statuses = [a.0.as_u16(), b.0.as_u16(), c.0.as_u16()];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 409).count(),
            2,
            "{statuses:?}"
        );
        let execution = app.execution(&id).await;
        assert_eq!(execution["approvals"].as_array().unwrap().len(), 1);
        let enqueued = app
            .db()
            .rows_as_text_for_tests(&format!(
                "SELECT id::text FROM audit_events WHERE target_id = '{id}'
                 AND action = 'execution.approve'"
            ))
            .await
            .unwrap();
        assert_eq!(enqueued.len(), 1);
    }
}

#[tokio::test]
async fn an_undecided_run_expires_as_rejected() {
    let mut env = test_env();
    env.set("APPROVAL_TTL_SEC", "1");
    let app = spawn_app_with(env).await;
    let module = module_needing(&app, 1).await;
    let id = waiting_run(&app, &module).await;
    let expired = app
        .wait_for(&id, Some("rejected"), Duration::from_secs(10))
        .await;
    assert_eq!(expired["reason"], "approval_expired");
    assert!(expired["started_at"].is_null());
    let (status, body) = decide(&app, &id, "approve", ADMIN, "too late").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(outbox_rows(&app, &id).await, 0);
}

#[tokio::test]
async fn bad_decisions_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let module = module_needing(&app, 1).await;
    let id = waiting_run(&app, &module).await;
    let audits = app.audit_count().await;
    let path = format!("/api/v1/executions/{id}/approve");
    for body in [
        json!({}),
        json!({"comment": 5}),
        json!({"comment": "x".repeat(2001)}),
        json!({"comment": "bell\u{7}"}),
        json!({"comment": "ok", "extra": true}),
    ] {
        let (status, answer) = app.post_as(&path, ADMIN, &body).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        let fields = answer["error"]["fields"].to_string();
        assert!(
            fields.contains("comment") || fields.contains("extra"),
            "{answer}"
        );
    }
    assert_eq!(app.audit_count().await, audits);
    assert_eq!(app.execution(&id).await["status"], "awaiting_approval");
    // A run that never needed approval cannot be approved.
    let plain = module_of(&app, &app.register_backup_script_again().await, 0).await;
    let queued = run_as(&app, &plain, ANALYST).await;
    let (status, _) = decide(&app, queued["id"].as_str().unwrap(), "approve", ADMIN, "x").await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn approvers_are_told_of_waiting_runs_and_of_their_outcome_through_the_webhook() {
    let receiver = Receiver::start(1).await;
    let mut env = receiver.env_for(APPROVAL_VARS);
    // Long enough to reject the first run by hand, short enough to watch one expire.
    env.set("APPROVAL_TTL_SEC", "5");
    let app = spawn_app_with(env).await;
    let module = module_needing(&app, 1).await;
    app.user_with("auditor@example.com", &["auditor"], &[])
        .await;

    let rejected = waiting_run(&app, &module).await;
    let requested = &receiver.wait_for(1, Duration::from_secs(20)).await[0];
    assert!(requested.signed, "signed with APPROVAL_WEBHOOK_SECRET");
    assert_eq!(requested.event, "approval.requested");
    let body = &requested.body;
    assert_eq!(body["event"], "approval.requested");
    assert_eq!(body["execution_id"], rejected.as_str());
    assert_eq!(
        body["execution_path"],
        format!("/api/v1/executions/{rejected}")
    );
    assert_eq!(body["module"]["id"], module.as_str());
    assert_eq!(body["module"]["name"], "backup-db-1");
    assert_eq!(body["requested_by"], ANALYST);
    assert_eq!(body["status"], "awaiting_approval");
    assert_eq!(body["approvals_required"], 1);
    assert!(
        body["expires_at"].as_str().unwrap().ends_with("+00:00"),
        "{body}"
    );
    assert_eq!(body["params"]["backup_key"], "***", "secrets stay masked");
    assert_eq!(
        body["approvers"],
        json!([ADMIN, APPROVER, SECOND_APPROVER]),
        "who may decide: not the requester, not an unassigned or plain user"
    );

    let (status, _) = decide(&app, &rejected, "reject", ADMIN, "not today").await;
    assert_eq!(status, 200);
    let resolved = &receiver.wait_for(2, Duration::from_secs(20)).await[1];
    assert_eq!(resolved.event, "approval.resolved");
    assert!(resolved.signed);
    assert!(resolved.id > requested.id, "ids grow with each notice");
    assert_eq!(resolved.body["execution_id"], rejected.as_str());
    assert_eq!(resolved.body["status"], "rejected");
    assert_eq!(resolved.body["reason"], "rejected_by");
    assert_eq!(resolved.body["approvers"], json!([]));
    assert_eq!(resolved.body["decisions"][0]["approver"], ADMIN);
    assert_eq!(resolved.body["decisions"][0]["comment"], "not today");

    // Nobody decides on the next one: it expires, and that is told too.
    let expired = waiting_run(&app, &module).await;
    let notices = receiver.wait_for(4, Duration::from_secs(30)).await;
    let about: Vec<(&str, &str, &str)> = notices[2..]
        .iter()
        .map(|n| {
            (
                n.event.as_str(),
                n.body["execution_id"].as_str().unwrap(),
                n.body["reason"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        about,
        [
            ("approval.requested", expired.as_str(), "-"),
            ("approval.resolved", expired.as_str(), "approval_expired"),
        ]
    );
    assert_eq!(receiver.seen(), 5, "one refusal, then each notice once");
}

#[tokio::test]
async fn runs_needing_no_approval_send_no_notice() {
    let receiver = Receiver::start(0).await;
    let app = spawn_app_with(receiver.env_for(APPROVAL_VARS)).await;
    let script = app.register_backup_script().await;
    let free = module_of(&app, &script, 0).await;
    let gated = module_of(&app, &script, 1).await;
    let queued = run_as(&app, &free, ANALYST).await;
    assert_eq!(queued["status"], "queued");
    let waiting = waiting_run(&app, &gated).await;
    let notices = receiver.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let notices_after = receiver.accepted();
    assert_eq!(notices_after.len(), 1, "{notices_after:?}");
    assert_eq!(notices[0].body["execution_id"], waiting.as_str());
}
