//! One trace from the HTTP request that submits a run, through the relay and the queue,
//! to the worker's sandbox steps, exported over OTLP to a collector in this process.

use std::time::Duration;

use serde_json::json;

use sage_infra::telemetry::{self, LogSettings};
use sage_testkit::{ExportedSpan, SpanCollector, spawn_app_with, spawn_worker, test_env};

fn named<'a>(spans: &'a [ExportedSpan], name: &str) -> &'a ExportedSpan {
    spans
        .iter()
        .find(|span| span.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

#[tokio::test]
async fn one_trace_runs_from_the_submission_to_the_sandbox() {
    let collector = SpanCollector::start().await;
    let mut env = test_env();
    env.set("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint());
    env.set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    env.set("RUST_LOG", "info");
    let settings = LogSettings::from_env(&mut env.clone()).expect("log settings");
    // Each test is a process of its own (nextest): this subscriber is this test's.
    let spans_out = telemetry::init(&settings, "sage-test");
    let app = spawn_app_with(env).await;
    let worker = spawn_worker(&app).await;
    let module = app.backup_db_module().await;
    let id = app
        .submit(
            &module,
            json!({"db_name": "orders", "backup_key": "k-0123456789abcdef"}),
        )
        .await;
    app.wait_for(&id, Some("succeeded"), Duration::from_secs(60))
        .await;
    spans_out.flush();

    // The job's own span ends once the worker acked the message, just after the end
    // is stored: the exporter's next round sends it.
    let spans = collector
        .spans_when(|spans| spans.iter().any(|s| s.name == "job"))
        .await;
    let script = named(&spans, "sandbox_script");
    let trace: Vec<ExportedSpan> = spans
        .iter()
        .filter(|span| span.trace_id == script.trace_id)
        .cloned()
        .collect();
    for step in [
        "job",
        "job_claim",
        "job_prepare",
        "sandbox_create",
        "sandbox_exec",
    ] {
        named(&trace, step);
    }
    // The chain: the submission's request → the relay's publish → the worker's job.
    let job = named(&trace, "job");
    let publish = named(&trace, "publish_job");
    assert_eq!(job.parent_span_id, publish.span_id, "{trace:#?}");
    let request = trace
        .iter()
        .find(|span| span.span_id == publish.parent_span_id)
        .unwrap_or_else(|| panic!("the publish's parent is not in the trace: {trace:#?}"));
    assert_eq!(
        request.name, "POST /api/v1/modules/{id}/executions",
        "{trace:#?}"
    );
    assert!(
        request.parent_span_id.is_empty(),
        "the request starts the trace"
    );

    worker.stop().await;
    spans_out.shutdown();
}
