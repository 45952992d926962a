//! Module versions as a run sees them: naming an older version never skips what the
//! latest requires, and a retired version takes no new runs.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, ANALYST, TestApp, backup_module, spawn_app};

fn params() -> Value {
    json!({"db_name": "orders", "backup_key": "k3y-for-version-tests"})
}

/// A backup-db module whose version 1 needs no approval and version 2 needs one; the
/// analyst may run it.
async fn module_tightened_in_version_2(app: &TestApp) -> String {
    let id = app.backup_db_module().await;
    let (_, first) = app.get_as(&format!("/api/v1/modules/{id}"), ADMIN).await;
    let mut next = backup_module(first["script_id"].as_str().unwrap());
    next.as_object_mut().unwrap().remove("name");
    next["approval"]["required"] = json!(1);
    let (status, version) = app
        .post_as(&format!("/api/v1/modules/{id}/versions"), ADMIN, &next)
        .await;
    assert_eq!(status, 201, "{version}");
    id
}

async fn run(app: &TestApp, module: &str, body: Value) -> (reqwest::StatusCode, Value) {
    app.post_as(
        &format!("/api/v1/modules/{module}/executions"),
        ANALYST,
        &body,
    )
    .await
}

#[tokio::test]
async fn naming_an_older_version_does_not_skip_the_latest_approvals() {
    let app = spawn_app().await;
    let module = module_tightened_in_version_2(&app).await;
    for body in [
        json!({"params": params(), "version": 1}),
        json!({"params": params(), "version": 2}),
        json!({"params": params()}),
    ] {
        let (status, execution) = run(&app, &module, body.clone()).await;
        assert_eq!(status, 202, "{execution}");
        assert_eq!(execution["status"], "awaiting_approval", "{body}");
        assert_eq!(execution["approvals_required"], 1, "{body}");
    }
    assert_eq!(
        app.db().pending_jobs().await.unwrap(),
        0,
        "nothing was queued"
    );
}

#[tokio::test]
async fn a_retired_version_takes_no_new_runs() {
    let app = spawn_app().await;
    let module = module_tightened_in_version_2(&app).await;
    let retire = format!("/api/v1/modules/{module}/versions/1/retire");
    let audit_before = app.audit_count().await;

    let (status, version) = app.post_as(&retire, ANALYST, &json!({})).await;
    assert_eq!(status, 403, "{version}");
    assert_eq!(
        app.audit_count().await,
        audit_before,
        "a refusal changes nothing"
    );
    for missing in [
        format!("/api/v1/modules/{module}/versions/9/retire"),
        format!("/api/v1/modules/{}/versions/1/retire", uuid::Uuid::new_v4()),
    ] {
        assert_eq!(app.post_as(&missing, ADMIN, &json!({})).await.0, 404);
    }

    let (status, version) = app.post_as(&retire, ADMIN, &json!({})).await;
    assert_eq!(status, 200, "{version}");
    assert!(version["retired_at"].is_string(), "{version}");
    assert_eq!(version["runnable_versions"], json!([2]));
    let (status, again) = app.post_as(&retire, ADMIN, &json!({})).await;
    assert_eq!(
        (status.as_u16(), &again["retired_at"]),
        (200, &version["retired_at"])
    );
    assert_eq!(
        app.audit_count().await,
        audit_before + 1,
        "retired once, audited once"
    );

    let (status, error) = run(&app, &module, json!({"params": params(), "version": 1})).await;
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["error"]["code"], "conflict");
    assert_eq!(error["error"]["fields"][0]["field"], "version");
    let (_, listed) = app
        .get_as(&format!("/api/v1/executions?module_id={module}"), ANALYST)
        .await;
    assert_eq!(
        listed["items"],
        json!([]),
        "the refused run was not recorded"
    );

    let (status, latest) = app
        .get_as(&format!("/api/v1/modules/{module}"), ANALYST)
        .await;
    assert_eq!(status, 200);
    assert_eq!(latest["runnable_versions"], json!([2]));
    assert_eq!(latest["retired_at"], Value::Null);
    let (status, execution) = run(&app, &module, json!({"params": params()})).await;
    assert_eq!(status, 202, "{execution}");
    assert_eq!(execution["module_version"], 2);
}

#[tokio::test]
async fn a_version_stored_before_argument_groups_keeps_how_it_behaved() {
    let app = spawn_app().await;
    let script = app.register_backup_script().await;
    let mut definition = backup_module(&script);
    // Written flat, as every version was before groups: the migration that introduced
    // them is run again over it, as over a version it found stored.
    definition["args"] = json!([
        "--db",
        "{db_name}",
        "--retention-days",
        "{retention_days}",
        "--notify",
        "{notify_email}",
        "--x{{y}}",
        "{notify_email}",
        "--dry-run"
    ]);
    let (status, created) = app.post_as("/api/v1/modules", ADMIN, &definition).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (_, flat) = app
        .get_as(&format!("/api/v1/modules/{id}/versions/1"), ADMIN)
        .await;
    assert_eq!(flat["args"][4], "--notify", "stored flat");
    let migration = sage_store::MIGRATIONS
        .iter()
        .find(|m| m.version == "0013_explicit_arg_groups")
        .unwrap();
    app.db().batch_for_tests(migration.sql).await.unwrap();
    let (_, grouped) = app
        .get_as(&format!("/api/v1/modules/{id}/versions/1"), ADMIN)
        .await;
    assert_eq!(
        grouped["args"],
        json!([
            "--db",
            "{db_name}",
            "--retention-days",
            "{retention_days}",
            ["--notify", "{notify_email}"],
            ["--x{{y}}", "{notify_email}"],
            "--dry-run"
        ])
    );
    // Versions stay immutable to everyone else.
    let refused = app
        .db()
        .execute_for_tests("UPDATE module_versions SET definition = '{}'")
        .await;
    assert!(refused.is_err());
}
