//! Log streams across the fleet: any api replica serves any execution's stream, and a
//! stream still delivers every line when Redis is unreachable, from the database.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    ANALYST, ScriptModule, SseEvent, TestApp, gate_redis, spawn_app, spawn_app_with, spawn_worker,
    test_env,
};

const LINES: i64 = 30;
const COUNTER: &str =
    "import time\nfor i in range(1, 31):\n    print('line', i, flush=True)\n    time.sleep(0.05)\n";

async fn counter(app: &TestApp) -> String {
    app.module_with(ScriptModule {
        code: COUNTER,
        ..Default::default()
    })
    .await
}

/// Every line once, in order, then a successful end.
fn assert_complete(events: &[SseEvent]) {
    let (lines, end) = events.split_at(events.len() - 1);
    let seqs: Vec<i64> = lines.iter().map(|event| event.id.unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=LINES).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    assert_eq!(lines[29].data["line"], "line 30");
    assert_eq!(end[0].event, "end");
    assert_eq!(end[0].data["status"], "succeeded");
}

/// Runs the real `sage-api` binary with `app`'s environment on its own port.
async fn second_api_process(app: &TestApp) -> (TestApp, tokio::process::Child) {
    let port = crate::helpers::free_port();
    #[allow(
        clippy::disallowed_methods,
        reason = "runs the real api binary as a second process"
    )]
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sage-api"));
    command
        .env_clear()
        .envs(app.env.vars())
        .env("API_BIND", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let child = command.spawn().unwrap();
    let replica = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        ..app.clone()
    };
    replica.wait_until_healthy("the second api").await;
    (replica, child)
}

#[tokio::test]
async fn a_run_submitted_through_one_api_process_streams_through_another() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let (replica, _process) = second_api_process(&app).await;
    let module = counter(&app).await;
    let id = app.submit(&module, json!({})).await;
    let mut stream = replica.follow_logs(&id, ANALYST, None).await;
    let events = stream.until_end(Duration::from_secs(60)).await;
    assert_complete(&events);

    // Resuming through the first process after a line seen on the second.
    let mut rest = app.follow_logs(&id, ANALYST, Some(12)).await;
    let events = rest.until_end(Duration::from_secs(30)).await;
    let seqs: Vec<i64> = events.iter().filter_map(|event| event.id).collect();
    assert_eq!(seqs, (13..=LINES).collect::<Vec<_>>());
    worker.stop().await;
}

#[tokio::test]
async fn with_redis_unreachable_a_stream_still_gets_every_line_late() {
    let mut env = test_env();
    let (redis, _) = gate_redis(&mut env).await;
    let app = spawn_app_with(env).await;
    // The worker checks Redis when it starts; it goes away afterwards.
    let worker = spawn_worker(&app).await;
    let module = counter(&app).await;
    redis.close();
    let id = app.submit(&module, json!({})).await;
    let mut stream = app.follow_logs(&id, ANALYST, None).await;
    let events = stream.until_end(Duration::from_secs(60)).await;
    assert_complete(&events);
    let (status, ready) = app.get_as("/ready", ANALYST).await;
    assert_eq!(status, 503, "{ready}");
    redis.reopen().await;
    worker.stop().await;
}
