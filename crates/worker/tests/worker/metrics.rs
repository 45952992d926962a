//! Both processes' metrics after known work: the api counts what it was asked and what
//! it ended, the worker what it ran and printed, and neither names an id or an email.

use std::time::{Duration, Instant};

use serde_json::json;

use sage_testkit::{ADMIN, ScriptModule, TestApp, metric, scrape, spawn_app, spawn_worker};

async fn module_name(app: &TestApp, id: &str) -> String {
    let (status, module) = app.get_as(&format!("/api/v1/modules/{id}"), ADMIN).await;
    assert_eq!(status, 200, "{module}");
    module["name"].as_str().unwrap().to_owned()
}

/// Scrapes until every series has its value (counters move just after the end is
/// stored, which a client may see first); panics with the last scrape after 10 s.
async fn scrape_until(port: u16, expected: &[(String, f64)]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(port).await;
        let missing: Vec<_> = expected
            .iter()
            .filter(|(series, value)| metric(&text, series) != Some(*value))
            .collect();
        if missing.is_empty() {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{missing:?} not as expected in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn both_processes_count_runs_logs_and_requests_after_known_work() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let printing = app
        .module_with(ScriptModule {
            file: "print_five.py",
            code: "for i in range(5):\n    print(f'line {i}')\n",
            ..Default::default()
        })
        .await;
    let failing = app
        .module_with(ScriptModule {
            file: "exit_three.py",
            code: "import sys\nprint('bad', file=sys.stderr)\nsys.exit(3)\n",
            ..Default::default()
        })
        .await;
    let (printing_name, failing_name) = (
        module_name(&app, &printing).await,
        module_name(&app, &failing).await,
    );
    let ok = app.submit(&printing, json!({})).await;
    let bad = app.submit(&failing, json!({})).await;
    assert_eq!(app.wait_terminal(&ok).await["status"], "succeeded");
    assert_eq!(app.wait_terminal(&bad).await["status"], "failed");

    let port = worker.metrics_port.expect("the worker serves /metrics");
    let series = |name: &str, labels: String| format!("{name}{{{labels}}}");
    let worker_text = scrape_until(
        port,
        &[
            (
                series(
                    "sage_executions_started_total",
                    format!(r#"module="{printing_name}""#),
                ),
                1.0,
            ),
            (
                series(
                    "sage_executions_started_total",
                    format!(r#"module="{failing_name}""#),
                ),
                1.0,
            ),
            (
                series(
                    "sage_executions_ended_total",
                    format!(r#"module="{printing_name}",status="succeeded",reason="none""#),
                ),
                1.0,
            ),
            (
                series(
                    "sage_executions_ended_total",
                    format!(r#"module="{failing_name}",status="failed",reason="exit_code""#),
                ),
                1.0,
            ),
            (
                series(
                    "sage_execution_run_seconds_count",
                    format!(r#"module="{printing_name}",status="succeeded""#),
                ),
                1.0,
            ),
            (
                series(
                    "sage_execution_queue_seconds_count",
                    format!(r#"module="{failing_name}""#),
                ),
                1.0,
            ),
            (
                series("sage_log_lines_total", r#"stream="stdout""#.into()),
                5.0,
            ),
            (
                series("sage_log_lines_total", r#"stream="stderr""#.into()),
                1.0,
            ),
            ("sage_worker_slots".into(), 2.0),
            ("sage_worker_slots_busy".into(), 0.0),
        ],
    )
    .await;
    let stdout_bytes = metric(&worker_text, r#"sage_log_bytes_total{stream="stdout"}"#);
    assert!(
        stdout_bytes.is_some_and(|bytes| bytes >= 30.0),
        "{worker_text}"
    );

    let api_text = scrape(app.metrics_port).await;
    for (series, value) in [
        (
            format!(r#"sage_executions_submitted_total{{module="{printing_name}"}}"#),
            1.0,
        ),
        (
            format!(r#"sage_executions_submitted_total{{module="{failing_name}"}}"#),
            1.0,
        ),
        (
            r#"sage_http_requests_total{method="POST",route="/api/v1/modules/{id}/executions",status="202"}"#.into(),
            2.0,
        ),
        (r#"sage_executions_current{status="running"}"#.into(), 0.0),
        (r#"sage_executions_current{status="queued"}"#.into(), 0.0),
        ("sage_jobs_unpublished".into(), 0.0),
    ] {
        assert_eq!(metric(&api_text, &series), Some(value), "{series} in:\n{api_text}");
    }
    let polls = metric(
        &api_text,
        r#"sage_http_requests_total{method="GET",route="/api/v1/executions/{id}",status="200"}"#,
    );
    assert!(polls.is_some_and(|n| n >= 2.0), "{api_text}");
    for text in [&api_text, &worker_text] {
        for unbounded in [ok.as_str(), bad.as_str(), "@example.com", &worker.id] {
            assert!(
                !text.contains(unbounded),
                "{unbounded} is a label in:\n{text}"
            );
        }
    }
    worker.stop().await;
}
