//! Schedules over HTTP with two api replicas firing (no worker: the runs stay queued):
//! each fire once, with one run, as its owner; a missed fire skipped or run once by
//! policy; refusals naming the field with nothing recorded; pause, resume and delete.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use sage_testkit::{ADMIN, ANALYST, TestApp, spawn_app, spawn_app_with, spawn_replica, test_env};

fn every_second(module: &str, missed: &str) -> Value {
    json!({"name": "nightly backup", "cron": "* * * * * *", "timezone": "Asia/Seoul",
           "module_id": module, "missed_policy": missed,
           "params": {"db_name": "orders", "backup_key": "s3cr3t-key-value"}})
}

/// The fires once there are more than `count` (within ten seconds).
async fn fires_after(app: &TestApp, id: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let fired = fires(app, id).await;
        if fired.len() > count {
            return fired;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no more than {count} fires");
}

/// The status of a fire's run.
async fn run_status(app: &TestApp, fire: &Value) -> Value {
    app.execution(fire["execution_id"].as_str().unwrap()).await["status"].clone()
}

async fn fires(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, schedule) = app
        .get_as(&format!("/api/v1/schedules/{id}"), ANALYST)
        .await;
    assert_eq!(status, 200, "{schedule}");
    schedule["fires"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_fire_happens_once_across_two_replicas() {
    let mut env = test_env();
    env.set("SCHEDULE_MIN_SECONDS", "1");
    let app = spawn_app_with(env).await;
    let replica = spawn_replica(&app).await;
    let module = app.backup_db_module().await;

    let (status, schedule) = app
        .post_as("/api/v1/schedules", ANALYST, &every_second(&module, "skip"))
        .await;
    assert_eq!(status, 201, "{schedule}");
    assert_eq!(schedule["params"]["backup_key"], "***");
    assert_eq!(schedule["owner"], ANALYST);
    let next: Vec<DateTime<Utc>> = serde_json::from_value(schedule["next_fires"].clone()).unwrap();
    assert_eq!(next.len(), 5);
    assert!(
        next.windows(2).all(|w| (w[1] - w[0]).num_seconds() == 1),
        "{next:?}"
    );
    let id = schedule["id"].as_str().unwrap().to_owned();

    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, paused) = replica
        .post_as(
            &format!("/api/v1/schedules/{id}/pause"),
            ANALYST,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["next_fires"], json!([]));
    let fired = fires(&app, &id).await;
    assert!(fired.len() >= 3, "{fired:?}");
    let times: std::collections::BTreeSet<&str> = fired
        .iter()
        .map(|f| f["fire_at"].as_str().unwrap())
        .collect();
    assert_eq!(times.len(), fired.len(), "one fire per time: {fired:?}");
    // One run per fire, each the owner's, with the schedule's parameters.
    let runs: std::collections::BTreeSet<&str> = fired
        .iter()
        .map(|f| {
            assert_eq!(f["outcome"], "submitted", "{f}");
            f["execution_id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(runs.len(), fired.len());
    assert_eq!(app.execution_count().await, fired.len());
    let run = app.execution(runs.iter().next().unwrap()).await;
    assert_eq!(run["requested_by"], ANALYST);
    assert_eq!(run["params"]["db_name"], "orders");
    assert_eq!(run["params"]["backup_key"], "***");
    // Paused: nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fires(&app, &id).await.len(), fired.len());

    let (status, resumed) = app
        .post_as(
            &format!("/api/v1/schedules/{id}/resume"),
            ANALYST,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(resumed["next_fires"].as_array().unwrap().len(), 5);
    let (status, _) = app
        .delete_as(&format!("/api/v1/schedules/{id}"), ANALYST)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .get_as(&format!("/api/v1/schedules/{id}"), ANALYST)
        .await;
    assert_eq!(status, 404);
    let (_, audit) = app
        .get_as(&format!("/api/v1/audit?target_id={id}"), ADMIN)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "schedule.create",
        "schedule.fire",
        "schedule.pause",
        "schedule.resume",
        "schedule.delete",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(!audit.to_string().contains("s3cr3t-key-value"));
}

#[tokio::test]
async fn fires_missed_while_no_scheduler_ran_follow_the_policy() {
    let mut env = test_env();
    env.set("SCHEDULE_MIN_SECONDS", "1");
    let app = spawn_app_with(env).await;
    let module = app.backup_db_module().await;
    let mut ids = Vec::new();
    for missed in ["skip", "run_once"] {
        let mut body = every_second(&module, missed);
        // Paused at once: then its next fire time is set ten minutes back, as if every
        // replica had been down since.
        body["enabled"] = json!(false);
        let (status, schedule) = app.post_as("/api/v1/schedules", ANALYST, &body).await;
        assert_eq!(status, 201, "{schedule}");
        ids.push(schedule["id"].as_str().unwrap().to_owned());
    }
    app.db()
        .execute_for_tests(&format!(
            "UPDATE schedules SET enabled = true, next_fire_at = now() - interval '10 minutes'
             WHERE id IN ('{}', '{}')",
            ids[0], ids[1]
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for id in &ids {
        app.post_as(
            &format!("/api/v1/schedules/{id}/pause"),
            ANALYST,
            &json!({}),
        )
        .await;
    }
    let skipped = fires(&app, &ids[0]).await;
    let missed: Vec<&Value> = skipped
        .iter()
        .filter(|f| f["outcome"] == "missed")
        .collect();
    assert_eq!(missed.len(), 1, "{skipped:?}");
    assert!(missed[0]["execution_id"].is_null());
    let ran = fires(&app, &ids[1]).await;
    let oldest = ran.last().unwrap();
    assert_eq!(
        oldest["outcome"], "submitted",
        "run once on return: {ran:?}"
    );
    // Ten minutes of missed fires make one run, not six hundred.
    assert!(ran.len() <= 4, "{ran:?}");
}

#[tokio::test]
async fn bad_schedules_are_refused_by_name_and_record_nothing() {
    let app = spawn_app().await;
    let module = app.backup_db_module().await;
    let before = app.audit_count().await;
    let good = every_second(&module, "skip");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("name", json!(" ")), "name"),
        (with("cron", json!("61 * * * *")), "cron"),
        // SCHEDULE_MIN_SECONDS is 60 by default.
        (good.clone(), "cron"),
        (with("timezone", json!("Mars/Olympus")), "timezone"),
        (with("missed_policy", json!("sometimes")), "missed_policy"),
        (
            with("params", json!({"db_name": "nope", "backup_key": "k"})),
            "params.db_name",
        ),
        (with("colour", json!("red")), "colour"),
    ];
    for (body, field) in cases {
        let (status, refused) = app.post_as("/api/v1/schedules", ANALYST, &body).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert!(
            refused["error"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["field"] == field),
            "{field}: {refused}"
        );
    }
    // A module the caller may not run.
    let (status, _) = app
        .post_as(
            "/api/v1/schedules",
            sage_testkit::OTHER,
            &with("cron", json!("0 9 * * *")),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.audit_count().await, before);
    let (_, list) = app.get_as("/api/v1/schedules", ADMIN).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn a_standing_approval_lets_each_fire_run_until_an_edit_voids_it() {
    const APPROVER: &str = "approver@example.com";
    let mut env = test_env();
    env.set("SCHEDULE_MIN_SECONDS", "1");
    let app = spawn_app_with(env).await;
    let module = crate::approvals::module_needing(&app, 1).await;
    let body = every_second(&module, "skip");
    let (status, schedule) = app.post_as("/api/v1/schedules", ANALYST, &body).await;
    assert_eq!(status, 201, "{schedule}");
    let id = schedule["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/schedules/{id}");

    // Without it, each fire's run waits for approval.
    let first = fires_after(&app, &id, 0).await;
    assert_eq!(run_status(&app, &first[0]).await, "awaiting_approval");

    // The owner may not approve; a bad approval is refused by name.
    let expires = (Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let approval = json!({"comment": "weekly backup agreed", "expires_at": expires});
    let (status, _) = app
        .post_as(&format!("{path}/approve"), ANALYST, &approval)
        .await;
    assert_eq!(status, 403);
    for (bad, field) in [
        (json!({"expires_at": expires}), "comment"),
        (json!({"comment": "x"}), "expires_at"),
        (
            json!({"comment": "x", "expires_at": (Utc::now() + chrono::Duration::days(400)).to_rfc3339()}),
            "expires_at",
        ),
    ] {
        let (status, refused) = app
            .post_as(&format!("{path}/approve"), APPROVER, &bad)
            .await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"]["fields"][0]["field"], field);
    }
    let (status, _) = app
        .post_as(&format!("{path}/approve"), APPROVER, &approval)
        .await;
    assert_eq!(status, 200);
    let (_, seen) = app.get_as(&path, APPROVER).await;
    assert_eq!(seen["approvals"][0]["approver"], APPROVER);

    // Now each fire runs without waiting, and says which approval let it.
    let before = fires(&app, &id).await.len();
    let approved = fires_after(&app, &id, before + 1).await;
    let latest = &approved[0];
    assert_eq!(run_status(&app, latest).await, "queued", "{latest}");
    assert!(
        latest["detail"]
            .as_str()
            .unwrap()
            .contains("standing approval of version 1 by approver@example.com"),
        "{latest}"
    );

    // An edit makes version 2: the approval no longer covers it.
    let (status, edited) = app.put_as(&path, ANALYST, &body).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["version"], 2);
    let before = fires(&app, &id).await.len();
    let after = fires_after(&app, &id, before + 1).await;
    assert_eq!(
        run_status(&app, &after[0]).await,
        "awaiting_approval",
        "{:?}",
        after[0]
    );
    let (_, seen) = app.get_as(&path, APPROVER).await;
    assert_eq!(seen["approvals"], json!([]));
    app.post_as(&format!("{path}/pause"), ANALYST, &json!({}))
        .await;
}

#[tokio::test]
async fn a_schedule_starts_a_scan_at_each_fire() {
    let mut env = sage_testkit::tools_env();
    env.set("SCHEDULE_MIN_SECONDS", "1");
    let app = spawn_app_with(env).await;
    crate::tools::report_scanner_image(&app).await;
    for id in ["111122223333", "444455556666"] {
        let (status, body) = app
            .post_as(
                "/api/v1/accounts",
                ADMIN,
                &json!({"id": id, "name": id, "regions": ["us-east-1"], "tags": {"env": "prod"}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let scan = json!({"tool": "custodian", "account_tags": {"env": "prod"},
                      "params": {"policy": "policies: [{name: every-bucket, resource: aws.s3}]"}});
    let schedule = json!({"name": "daily scan", "cron": "* * * * * *", "scan": scan});
    for (bad, field) in [
        (
            json!({"name": "x", "cron": "* * * * * *", "scan": scan, "module_id": uuid::Uuid::new_v4()}),
            "module_id",
        ),
        (
            json!({"name": "x", "cron": "* * * * * *", "scan": {"tool": "nmap", "account_tags": {"env": "prod"}}}),
            "scan.tool",
        ),
    ] {
        let (status, refused) = app.post_as("/api/v1/schedules", ADMIN, &bad).await;
        assert_eq!(status, 400, "{refused}");
        assert!(refused.to_string().contains(field), "{field}: {refused}");
    }
    let (status, created) = app.post_as("/api/v1/schedules", ADMIN, &schedule).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "scan");
    let id = created["id"].as_str().unwrap().to_owned();
    let fired = loop {
        let (_, now) = app.get_as(&format!("/api/v1/schedules/{id}"), ADMIN).await;
        if let Some(fire) = now["fires"].as_array().unwrap().last() {
            break fire.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    app.post_as(&format!("/api/v1/schedules/{id}/pause"), ADMIN, &json!({}))
        .await;
    assert_eq!(fired["outcome"], "submitted", "{fired}");
    let (status, started) = app
        .get_as(
            &format!("/api/v1/scans/{}", fired["scan_id"].as_str().unwrap()),
            ADMIN,
        )
        .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["total"], 2);
    assert_eq!(started["tool"], "custodian");
}
