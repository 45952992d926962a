//! What open log streams cost the shared services: one Redis subscription per api
//! process however many streams follow, nothing at all while their run waits to start,
//! and caps per user and per process past which a stream is refused with 429.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::approvals::{module_needing, waiting_run};
use crate::helpers::{
    ADMIN, ANALYST, SseEvent, TcpGate, TestApp, gate_redis, spawn_app_with, spawn_worker_with,
    test_env,
};

const APPROVER: &str = "approver@example.com";

/// An app whose Redis traffic passes a gate that counts its connections.
async fn app_behind_a_counted_redis(
    tune: &[(&str, &str)],
) -> (TestApp, std::sync::Arc<TcpGate>, String) {
    let mut env = test_env();
    let (gate, direct) = gate_redis(&mut env).await;
    for (name, value) in tune {
        env.set(name, *value);
    }
    (spawn_app_with(env).await, gate, direct)
}

async fn open_stream(app: &TestApp, id: &str, user: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/api/v1/executions/{id}/logs", app.address))
        .header("Accept", "text/event-stream")
        .header("X-Demo-User", user)
        .send()
        .await
        .unwrap()
}

async fn refusal(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
    body
}

fn seqs(events: &[SseEvent]) -> Vec<i64> {
    events.iter().filter_map(|event| event.id).collect()
}

#[tokio::test]
async fn forty_streams_of_one_user_cost_nothing_while_waiting_and_one_subscription_once_running() {
    let (app, redis, direct) = app_behind_a_counted_redis(&[("LOG_STREAMS_PER_USER", "40")]).await;
    let module = module_needing(&app, 1).await;
    let id = waiting_run(&app, &module).await;
    let before = redis.connections();

    let mut streams = Vec::new();
    for _ in 0..40 {
        streams.push(app.follow_logs(&id, ANALYST, None).await);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        redis.connections(),
        before,
        "streams of a run awaiting approval hold no Redis connection"
    );

    // The worker talks to Redis directly, so the gate counts only the api.
    let worker = spawn_worker_with(&app, |env| env.set("REDIS_URL", direct.clone())).await;
    let (status, approved) = app
        .post_as(
            &format!("/api/v1/executions/{id}/approve"),
            APPROVER,
            &json!({"comment": "fine"}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    let ends = join_all(
        streams
            .iter_mut()
            .map(|stream| stream.until_end(Duration::from_secs(60))),
    )
    .await;
    let first = seqs(&ends[0]);
    assert!(!first.is_empty(), "the run printed lines");
    assert_eq!(first, (1..=first.len() as i64).collect::<Vec<_>>());
    for events in &ends {
        assert_eq!(seqs(events), first, "every stream got every line once");
        let end = events.last().unwrap();
        assert_eq!(end.event, "end");
        assert_eq!(end.data["status"], "succeeded");
    }
    let added = redis.connections() - before;
    assert!(
        added <= 2,
        "40 streams opened {added} Redis connections; one subscription serves them all"
    );
    worker.stop().await;
}

#[tokio::test]
async fn past_a_cap_a_stream_is_refused_with_429_and_a_closed_stream_frees_its_place() {
    let (app, _redis, _) = app_behind_a_counted_redis(&[
        ("LOG_STREAMS_PER_USER", "2"),
        ("LOG_STREAMS_PER_PROCESS", "3"),
        ("LOG_STREAM_KEEPALIVE_SEC", "1"),
    ])
    .await;
    let module = module_needing(&app, 1).await;
    let id = waiting_run(&app, &module).await;

    let first = open_stream(&app, &id, ANALYST).await;
    assert_eq!(first.status(), 200);
    let _second = app.follow_logs(&id, ANALYST, None).await;
    let body = refusal(open_stream(&app, &id, ANALYST).await).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("2 log streams open"), "{message}");

    // Another user still has room, until the process is full.
    let _admins = app.follow_logs(&id, ADMIN, None).await;
    let body = refusal(open_stream(&app, &id, ADMIN).await).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the most log streams it may (3)"),
        "{message}"
    );

    // A refusal changes nothing: the run still waits, and a closed stream frees its
    // place at its next keepalive.
    let (_, execution) = app
        .get_as(&format!("/api/v1/executions/{id}"), ANALYST)
        .await;
    assert_eq!(execution["status"], "awaiting_approval");
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let again = open_stream(&app, &id, ANALYST).await;
        if again.status() == 200 {
            break;
        }
        refusal(again).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed stream never gave its place back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readiness_is_checked_at_most_once_per_moment_and_tells_anonymous_callers_no_error_text() {
    let (app, redis, _) = app_behind_a_counted_redis(&[]).await;
    let before = redis.connections();
    let answers = join_all((0..20).map(|_| app.get("/ready"))).await;
    for answer in answers {
        assert_eq!(answer.status(), 200);
    }
    let added = redis.connections() - before;
    assert!(
        added <= 1,
        "20 readiness calls opened {added} Redis connections"
    );

    redis.close();
    // The answer is refreshed within seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let anonymous: Value = loop {
        let answer = app.get("/ready").await;
        if answer.status() == 503 {
            break answer.json().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/ready never noticed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(anonymous["status"], "degraded");
    assert_eq!(
        anonymous["checks"],
        json!({"postgres": "ok", "rabbitmq": "ok", "redis": "failed", "s3": "ok"})
    );
    let (status, admins) = app.get_as("/ready", ADMIN).await;
    assert_eq!(status, 503);
    let detail = admins["checks"]["redis"].as_str().unwrap();
    assert_ne!(detail, "failed", "an admin reads the error text");
    assert_ne!(detail, "ok");
    redis.reopen().await;
}

#[tokio::test]
async fn after_a_lost_connection_an_old_stream_leaving_does_not_cut_off_a_new_one() {
    use sage_api::background::live::{Heard, LiveFeed};
    use sage_infra::redis::{LiveLog, log_channel};

    let mut env = test_env();
    let (gate, direct) = gate_redis(&mut env).await;
    let gated = redis::Client::open(env.raw("REDIS_URL").unwrap()).unwrap();
    let feed = LiveFeed::start(gated);
    let execution = sage_model::ExecutionId::new();
    let mut old = feed.follow(execution).await.expect("subscribed");

    // The connection drops; the old stream hears it and follows the database.
    gate.close();
    assert!(matches!(
        tokio::time::timeout(Duration::from_secs(5), old.next()).await,
        Ok(Heard::Lost)
    ));
    gate.reopen().await;
    // Past the pause between reconnections, a new stream of the same run subscribes.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut new = feed.follow(execution).await.expect("subscribed again");
    drop(old);

    let publisher = redis::Client::open(direct).unwrap();
    let mut connection = publisher.get_multiplexed_async_connection().await.unwrap();
    let end = LiveLog::End.encode();
    // A moment for the hub to handle the old stream's leave.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _: i64 = redis::cmd("PUBLISH")
        .arg(log_channel(execution))
        .arg(&end)
        .query_async(&mut connection)
        .await
        .unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), new.next()).await;
    assert!(
        matches!(heard, Ok(Heard::Message(LiveLog::End))),
        "the new stream still hears its run"
    );
}
