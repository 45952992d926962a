//! `/metrics` of the api: requests under their route templates, runs submitted and
//! ended here, open log streams, webhook failures, and the queue read from the database.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{
    ADMIN, ANALYST, ScriptModule, TestApp, free_port, metric, spawn_app, spawn_app_with, test_env,
};

async fn metrics_text(app: &TestApp) -> String {
    let response = reqwest::get(format!("http://127.0.0.1:{}/metrics", app.metrics_port))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_api_counts_requests_by_route_and_reads_the_queue_from_the_database() {
    // A SIEM receiver that is down: every delivery fails and waits in the outbox.
    let mut env = test_env();
    env.set(
        "SIEM_WEBHOOK_URL",
        format!("http://127.0.0.1:{}/siem", free_port()),
    );
    env.set("SIEM_WEBHOOK_SECRET", "0123456789abcdef");
    let app = spawn_app_with(env).await;
    let module = app.module_with(ScriptModule::default()).await;
    let (_, module_view) = app
        .get_as(&format!("/api/v1/modules/{module}"), ADMIN)
        .await;
    let name = module_view["name"].as_str().unwrap().to_owned();
    // No worker: the run stays queued.
    let id = app.submit(&module, json!({})).await;
    let stream = app.follow_logs(&id, ANALYST, None).await;
    let unknown = uuid::Uuid::new_v4();
    let (status, _) = app
        .get_as(&format!("/api/v1/executions/{unknown}"), ADMIN)
        .await;
    assert_eq!(status, 404);
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    let (client, health) = (reqwest::Client::new(), format!("{}/health", app.address));
    let brewed = client.request(brew, &health).send().await.unwrap();
    assert!(brewed.status().is_client_error());

    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = metrics_text(&app).await;
        let failed = metric(
            &text,
            r#"sage_webhook_deliveries_failed_total{webhook="siem"}"#,
        );
        if failed.is_some_and(|n| n >= 1.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no failed SIEM delivery counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (series, value) in [
        (format!(r#"sage_executions_submitted_total{{module="{name}"}}"#), 1.0),
        (r#"sage_executions_current{status="queued"}"#.into(), 1.0),
        (r#"sage_executions_current{status="awaiting_approval"}"#.into(), 0.0),
        ("sage_log_streams_open".into(), 1.0),
        (
            r#"sage_http_requests_total{method="GET",route="/api/v1/executions/{id}",status="404"}"#.into(),
            1.0,
        ),
        (
            format!(
                r#"sage_http_requests_total{{method="other",route="/health",status="{}"}}"#,
                brewed.status().as_u16()
            ),
            1.0,
        ),
    ] {
        assert_eq!(metric(&text, &series), Some(value), "{series} in:\n{text}");
    }
    let pending = metric(&text, r#"sage_webhook_deliveries_pending{webhook="siem"}"#);
    assert!(pending.is_some_and(|n| n >= 1.0), "{text}");
    let latency = metric(
        &text,
        r#"sage_http_request_seconds_count{method="POST",route="/api/v1/modules/{id}/executions"}"#,
    );
    assert_eq!(latency, Some(1.0), "{text}");
    for unbounded in [id.as_str(), &unknown.to_string(), "@example.com", "BREW"] {
        assert!(
            !text.contains(unbounded),
            "{unbounded} is a label in:\n{text}"
        );
    }

    drop(stream);
    let (status, body) = app
        .post_as(
            &format!("/api/v1/executions/{id}/cancel"),
            ANALYST,
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let text = metrics_text(&app).await;
    let cancelled = format!(
        r#"sage_executions_ended_total{{module="{name}",status="cancelled",reason="cancelled_by"}}"#
    );
    assert_eq!(metric(&text, &cancelled), Some(1.0), "{text}");
}

#[tokio::test]
async fn metrics_are_served_on_their_own_port_and_not_on_the_apis() {
    let app = spawn_app().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 404);
    assert!(
        !response
            .text()
            .await
            .unwrap()
            .contains("sage_http_requests"),
        "the API's port must not serve the scrape"
    );
    // The scrape port answers the scrape and nothing else.
    let other = reqwest::get(format!(
        "http://127.0.0.1:{}/api/v1/modules",
        app.metrics_port
    ))
    .await
    .unwrap();
    assert_eq!(other.status(), 404);
    assert!(metrics_text(&app).await.contains("sage_http_requests"));
    let (_, document) = app.get_as("/openapi.json", ADMIN).await;
    assert!(document["paths"].get("/metrics").is_none());
}
