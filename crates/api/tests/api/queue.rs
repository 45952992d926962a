//! One person cannot take the fleet: runs in flight are held to a limit per user and
//! per module, the queue serves users in turn, and many runs are cancelled in one
//! request.

use std::time::Duration;

use sage_testkit::{
    ADMIN, ANALYST, OTHER, ScriptModule, TestApp, spawn_app_with, spawn_worker_with, test_env,
};
use serde_json::{Value, json};

/// A module both analysts may run, of `code`.
async fn shared_module(app: &TestApp, code: &str) -> String {
    let module = app
        .module_with(ScriptModule {
            code,
            ..ScriptModule::default()
        })
        .await;
    app.assign(
        &module,
        json!([{"user": ANALYST, "permissions": ["run", "view"]},
               {"user": OTHER, "permissions": ["run", "view"]}]),
    )
    .await;
    module
}

async fn cancel_many(app: &TestApp, user: &str, body: Value) -> (reqwest::StatusCode, Value) {
    app.post_as("/api/v1/executions/cancel", user, &body).await
}

async fn audited(app: &TestApp, action: &str) -> Vec<Value> {
    let (status, page) = app
        .get_as(&format!("/api/v1/audit?action={action}"), ADMIN)
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn runs_in_flight_are_held_to_their_limits_and_cancelled_in_one_request() {
    let mut env = test_env();
    env.set("RUNS_IN_FLIGHT_PER_USER", "3");
    env.set("RUNS_IN_FLIGHT_PER_MODULE", "5");
    let app = spawn_app_with(env).await;
    let module = shared_module(&app, "print('hello')\n").await;
    let path = format!("/api/v1/modules/{module}/executions");
    let body = json!({"params": {}});

    // Ten at once by one analyst, and no worker: exactly three are recorded.
    let answers =
        futures_util::future::join_all((0..10).map(|_| app.post_as(&path, ANALYST, &body))).await;
    let accepted = answers.iter().filter(|(s, _)| *s == 202).count();
    assert_eq!(accepted, 3, "{answers:?}");
    let (status, refused) = answers.iter().find(|(s, _)| *s == 429).unwrap();
    assert_eq!(*status, 429);
    assert_eq!(refused["error"]["code"], "limit_reached", "{refused}");
    assert_eq!(
        refused["error"]["fields"][0]["field"],
        "runs_in_flight_per_user"
    );
    let message = refused["error"]["fields"][0]["message"].as_str().unwrap();
    assert!(message.contains("RUNS_IN_FLIGHT_PER_USER"), "{message}");
    assert_eq!(app.execution_count().await, 3);
    assert_eq!(audited(&app, "execution.submit").await.len(), 3);
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .header("X-Demo-User", ANALYST)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "30");

    // The module's limit: two more by the other analyst, then no more by anyone.
    for _ in 0..2 {
        let (status, run) = app.post_as(&path, OTHER, &body).await;
        assert_eq!(status, 202, "{run}");
    }
    let (status, refused) = app.post_as(&path, OTHER, &body).await;
    assert_eq!(status, 429);
    assert_eq!(
        refused["error"]["fields"][0]["field"],
        "runs_in_flight_per_module"
    );

    // Refusals of a cancellation of many, each naming its field, and nothing changed.
    let before = app.audit_count().await;
    for (user, body, code, field) in [
        (ANALYST, json!({"status": ["done"]}), 400, Some("status")),
        (ANALYST, json!({"status": []}), 400, Some("status")),
        (ANALYST, json!({"module": module}), 400, None),
        (ADMIN, json!({}), 400, Some("requested_by")),
        (ANALYST, json!({"requested_by": OTHER}), 403, None),
    ] {
        let (status, refused) = cancel_many(&app, user, body.clone()).await;
        assert_eq!(status, code, "{body}: {refused}");
        if let Some(field) = field {
            assert_eq!(refused["error"]["fields"][0]["field"], field, "{refused}");
        }
    }
    assert_eq!(app.audit_count().await, before);

    // Your own, in one request: one audit event naming the three.
    let (status, done) = cancel_many(&app, ANALYST, json!({})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done, json!({"cancelled": 3, "running": 0}));
    let events = audited(&app, "execution.cancel_many").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"], ANALYST);
    assert_eq!(
        events[0]["after"]["execution_ids"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (_, mine) = app
        .get_as("/api/v1/executions?status=cancelled", ANALYST)
        .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 3, "{mine}");
    let (status, _) = app.post_as(&path, ANALYST, &body).await;
    assert_eq!(status, 202, "a place is free again");

    // An admin cancels another user's queued runs by email.
    let (status, done) = cancel_many(
        &app,
        ADMIN,
        json!({"requested_by": OTHER, "status": ["queued"], "module_id": module}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["cancelled"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_one_run_starts_before_another_users_flood() {
    let mut env = test_env();
    env.set("QUEUE_AHEAD", "1");
    let app = spawn_app_with(env).await;
    let _worker = spawn_worker_with(&app, |env| env.set("WORKER_CONCURRENCY", "1")).await;
    let module = shared_module(&app, "import time\ntime.sleep(0.3)\n").await;
    let path = format!("/api/v1/modules/{module}/executions");
    let body = json!({"params": {}});

    let mut flood = Vec::new();
    for _ in 0..15 {
        let (status, run) = app.post_as(&path, ANALYST, &body).await;
        assert_eq!(status, 202, "{run}");
        flood.push(run["id"].as_str().unwrap().to_owned());
    }
    let (status, run) = app.post_as(&path, OTHER, &body).await;
    assert_eq!(status, 202, "{run}");
    let single = app
        .wait_for(
            run["id"].as_str().unwrap(),
            Some("succeeded"),
            Duration::from_secs(120),
        )
        .await;
    let started = single["started_at"].as_str().unwrap().to_owned();

    // Before it: the flood's run that was running when it came, and the one already in
    // the broker (QUEUE_AHEAD=1); a margin of one for the relay's poll. First come,
    // first served would have put all fifteen first.
    let mut before = 0;
    for id in &flood {
        let run = app.execution(id).await;
        if run["started_at"]
            .as_str()
            .is_some_and(|at| at < started.as_str())
        {
            before += 1;
        }
    }
    assert!(
        before <= 3,
        "{before} of the flood's 15 runs started before the other user's one"
    );

    // The rest of the flood, gone in one request, running ones too.
    let (status, done) = cancel_many(&app, ANALYST, json!({"module_id": module})).await;
    assert_eq!(status, 200, "{done}");
    assert!(done["cancelled"].as_u64().unwrap() >= 10, "{done}");
}

/// One text value of `sql` (a test's look into the database).
async fn one(app: &TestApp, sql: &str) -> String {
    let rows = app.db().rows_as_text_for_tests(sql).await.unwrap();
    rows.into_iter().next().unwrap_or_default()
}

async fn until(app: &TestApp, sql: &str, wanted: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = one(app, sql).await;
        if now == wanted {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sql}: {now:?}, not {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_run_whose_message_was_lost_is_queued_again_and_frees_the_window() {
    let mut env = test_env();
    env.set("QUEUE_AHEAD", "1");
    let app = spawn_app_with(env).await;
    let module = shared_module(&app, "print('hello')\n").await;
    let path = format!("/api/v1/modules/{module}/executions");
    let body = json!({"params": {}});
    let published = |id: &str| {
        format!("SELECT (published_at IS NOT NULL)::text FROM executions WHERE id = '{id}'")
    };
    let (_, first) = app.post_as(&path, ANALYST, &body).await;
    let first = first["id"].as_str().unwrap().to_owned();
    until(&app, &published(&first), "true").await;
    // The window (1) is full: the second waits in the outbox.
    let (_, second) = app.post_as(&path, ANALYST, &body).await;
    let second = second["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(one(&app, &published(&second)).await, "false");

    // No worker ever took the first: its message is taken for lost after 10 minutes.
    app.db()
        .execute_for_tests(&format!(
            "UPDATE executions SET published_at = now() - interval '11 minutes' WHERE id = '{first}'"
        ))
        .await
        .unwrap();
    until(&app, &published(&second), "true").await;
    assert_eq!(one(&app, &published(&first)).await, "false");
    let jobs = format!("SELECT count(*)::text FROM job_outbox WHERE execution_id = '{first}'");
    assert_eq!(one(&app, &jobs).await, "1", "the first is queued again");
}
