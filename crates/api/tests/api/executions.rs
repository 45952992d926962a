use std::time::{Duration, Instant};

use lapin::options::BasicGetOptions;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, ANALYST, OTHER, TestApp, backup_module, spawn_app, spawn_app_with, test_env,
};

const SECRET: &str = "s3cr3t-value-that-must-not-leak";

fn good_params() -> Value {
    json!({"db_name": "orders", "retention_days": 30, "notify_email": "ops@example.com", "backup_key": SECRET})
}

/// A backup-db module assigned to the analyst (run, view) and to group `viewers` (view).
async fn assigned_module(app: &TestApp) -> String {
    let script = app.register_backup_script().await;
    let (status, module) = app
        .post_as("/api/v1/modules", ADMIN, &backup_module(&script))
        .await;
    assert_eq!(status, 201, "{module}");
    let id = module["id"].as_str().unwrap().to_owned();
    app.assign(
        &id,
        json!([{"user": ANALYST, "permissions": ["run", "view"]},
               {"group": "viewers", "permissions": ["view"]}]),
    )
    .await;
    id
}

async fn wait_for_no_pending_jobs(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.db().pending_jobs().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the job was never published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_valid_run_is_queued_and_its_job_carries_only_the_id() {
    let app = spawn_app().await;
    let module = assigned_module(&app).await;
    let (status, execution) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            ANALYST,
            &json!({"params": good_params()}),
        )
        .await;
    assert_eq!(status, 202, "{execution}");
    assert_eq!(execution["status"], "queued");
    assert_eq!(execution["module_version"], 1);
    assert_eq!(execution["requested_by"], ANALYST);
    assert_eq!(execution["params"]["backup_key"], "***");
    assert_eq!(execution["params"]["retention_days"], 30);
    let id = execution["id"].as_str().unwrap().to_owned();

    wait_for_no_pending_jobs(&app).await;
    let channel = app.application_state.broker.channel().await.unwrap();
    let queue = app.application_state.broker.topology().jobs;
    let message = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the job is on the queue");
    let body: Value = serde_json::from_slice(&message.delivery.data).unwrap();
    assert_eq!(body, json!({"kind": "run_v1", "execution_id": id}));

    // The secret rests nowhere in plaintext: not in any row, not in any answer.
    for table in [
        "executions",
        "execution_secrets",
        "job_outbox",
        "audit_events",
        "siem_outbox",
    ] {
        let rows = app
            .db()
            .rows_as_text_for_tests(&format!("SELECT row_to_json(t)::text FROM {table} t"))
            .await
            .unwrap();
        assert!(
            !rows.iter().any(|r| r.contains(SECRET)),
            "{table} holds the secret"
        );
    }
    let (_, shown) = app
        .get_as(&format!("/api/v1/executions/{id}"), ANALYST)
        .await;
    assert!(!shown.to_string().contains(SECRET));
    assert_eq!(shown["approvals"], json!([]));
}

#[tokio::test]
async fn submissions_succeed_while_rabbitmq_is_down() {
    let mut env = test_env();
    env.set("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f");
    let app = spawn_app_with(env).await;
    let module = assigned_module(&app).await;
    for _ in 0..3 {
        let (status, _) = app
            .post_as(
                &format!("/api/v1/modules/{module}/executions"),
                ANALYST,
                &json!({"params": good_params()}),
            )
            .await;
        assert_eq!(status, 202);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.db().pending_jobs().await.unwrap(),
        3,
        "jobs wait in the outbox"
    );
}

#[tokio::test]
async fn executions_are_seen_only_by_who_may() {
    let app = spawn_app().await;
    let module = assigned_module(&app).await;
    let viewer = "viewer@example.com";
    app.user_with(viewer, &[], &["viewers"]).await;
    let (_, execution) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            ANALYST,
            &json!({"params": good_params()}),
        )
        .await;
    let id = execution["id"].as_str().unwrap();
    let path = format!("/api/v1/executions/{id}");
    for (caller, sees) in [
        (ADMIN, true),
        (ANALYST, true),
        (viewer, true),
        (OTHER, false),
    ] {
        let expected = if sees { 200 } else { 404 };
        assert_eq!(
            app.get_as(&path, caller).await.0.as_u16(),
            expected,
            "{caller}"
        );
        let (_, listed) = app.get_as("/api/v1/executions?limit=500", caller).await;
        let found = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id);
        assert_eq!(found, sees, "{caller} listing");
    }
    let (status, _) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            viewer,
            &json!({"params": good_params()}),
        )
        .await;
    assert_eq!(status, 403, "view without run");
    let (status, _) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            OTHER,
            &json!({"params": good_params()}),
        )
        .await;
    assert_eq!(status, 404, "not assigned at all");
    let (_, filtered) = app
        .get_as(
            &format!("/api/v1/executions?status=queued&module_id={module}"),
            ADMIN,
        )
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let (status, answer) = app
        .get_as("/api/v1/executions?status=sleeping", ADMIN)
        .await;
    assert_eq!(
        (
            status.as_u16(),
            answer["error"]["fields"][0]["field"].clone()
        ),
        (400, json!("status"))
    );
}

#[tokio::test]
async fn refused_runs_name_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let module = assigned_module(&app).await;
    let path = format!("/api/v1/modules/{module}/executions");
    let mut bad = good_params();
    bad["db_name"] = json!("payroll");
    bad["retention_days"] = json!(0);
    bad["extra"] = json!(1);
    let cases = [
        (
            json!({"params": bad}),
            vec!["params.db_name", "params.extra", "params.retention_days"],
        ),
        (
            json!({"params": good_params(), "version": 7}),
            vec!["version"],
        ),
        (
            json!({"params": good_params(), "priority": "high"}),
            vec!["priority"],
        ),
        (json!({"params": "db=orders"}), vec!["params"]),
    ];
    for (body, fields) in cases {
        let (status, answer) = app.post_as(&path, ANALYST, &body).await;
        assert_eq!(status, 400, "{body}");
        let named: Vec<&str> = answer["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{body}");
    }
    let (_, listed) = app.get_as("/api/v1/executions", ADMIN).await;
    assert!(listed["items"].as_array().unwrap().is_empty());
    assert_eq!(app.db().pending_jobs().await.unwrap(), 0);
}

#[tokio::test]
async fn a_lone_value_that_reads_as_an_option_is_refused_and_nothing_is_recorded() {
    let app = spawn_app().await;
    let module = assigned_module(&app).await;
    let audit_before = app.audit_count().await;
    let mut params = good_params();
    // Matches the parameter's pattern, but would reach backup_db.py as its own option.
    params["notify_email"] = json!("--config=/work/x@y");
    let (status, error) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            ANALYST,
            &json!({"params": params}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["fields"][0]["field"], "params.notify_email");
    assert_eq!(app.audit_count().await, audit_before);
    let (_, listed) = app.get_as("/api/v1/executions", ANALYST).await;
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn runs_filter_by_submission_time_and_refuse_a_bad_time_naming_it() {
    let app = spawn_app().await;
    let module = assigned_module(&app).await;
    let id = app.submit(&module, good_params()).await;
    let hour = chrono::Duration::hours(1);
    let at = |offset: chrono::Duration| {
        (chrono::Utc::now() + offset).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let listed = |query: String| {
        let app = app.clone();
        async move {
            let (status, body) = app
                .get_as(&format!("/api/v1/executions?{query}"), ADMIN)
                .await;
            assert_eq!(status, 200, "{body}");
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(format!("since={}", at(-hour))).await,
        vec![id.clone()]
    );
    assert_eq!(
        listed(format!("since={}&until={}", at(-hour), at(hour))).await,
        vec![id.clone()]
    );
    assert!(listed(format!("since={}", at(hour))).await.is_empty());
    assert!(listed(format!("until={}", at(-hour))).await.is_empty());

    let (status, answer) = app
        .get_as("/api/v1/executions?since=yesterday&until=2026-13-01", ADMIN)
        .await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = answer["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["since", "until"], "{answer}");
}

#[tokio::test]
async fn runs_page_newest_first_without_gaps_and_filter_by_requester() {
    let app = spawn_app().await;
    let module = assigned_module(&app).await;
    let mut submitted = Vec::new();
    for _ in 0..5 {
        submitted.push(app.submit(&module, good_params()).await);
    }
    let (status, by_admin) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            ADMIN,
            &json!({"params": good_params()}),
        )
        .await;
    assert_eq!(status, 202, "{by_admin}");
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // Pages of two, each after the cursor of the one before, end to end.
    let mut paged = Vec::new();
    let mut query = format!("requested_by={}&limit=2", ANALYST.to_uppercase());
    loop {
        let (status, page) = app
            .get_as(&format!("/api/v1/executions?{query}"), ADMIN)
            .await;
        assert_eq!(status, 200, "{page}");
        paged.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                query = format!("requested_by={ANALYST}&limit=2&cursor={cursor}");
            }
            None => break,
        }
    }
    submitted.reverse();
    assert_eq!(
        paged, submitted,
        "the analyst's runs, newest first, once each"
    );

    let (_, everyone) = app.get_as("/api/v1/executions", ADMIN).await;
    assert_eq!(ids(&everyone).len(), 6);
    assert_eq!(ids(&everyone)[0], by_admin["id"].as_str().unwrap());
    let (_, the_admins) = app
        .get_as(
            &format!("/api/v1/executions?requested_by={ADMIN}&module_id={module}"),
            ANALYST,
        )
        .await;
    assert_eq!(
        ids(&the_admins),
        [by_admin["id"].as_str().unwrap()],
        "the analyst sees the admin's run of a module it may view"
    );
    let (_, nobody) = app
        .get_as(&format!("/api/v1/executions?requested_by={OTHER}"), ADMIN)
        .await;
    assert!(ids(&nobody).is_empty());
}
