//! Artifacts end to end: what a script leaves under `/work/out` is uploaded to S3, listed
//! with presigned URLs to whoever may view the execution, and downloaded with a plain
//! HTTP client; what may not be kept is skipped and told in the log.

use sage_model::logs::Stream;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use sage_testkit::{
    ANALYST, OTHER, ScriptModule, TestApp, spawn_app, spawn_app_with, spawn_worker,
    spawn_worker_with, test_env,
};

const LEAVES_OUTPUTS: &str = r#"
import os
os.makedirs("out/reports", exist_ok=True)
open("out/backup.log", "w").write("backup done\n" * 100)
open("out/reports/summary.json", "w").write('{"ok": true}')
os.symlink("/etc/passwd", "out/passwd")
os.mkfifo("out/pipe")
open("out/report\u202efdp.exe", "w").write("reads as report.exe reversed")
print("left my outputs")
"#;

async fn run_to_success(app: &TestApp, code: &str) -> String {
    let module = app
        .module_with(ScriptModule {
            code,
            ..Default::default()
        })
        .await;
    let id = app.submit(&module, json!({})).await;
    let execution = app.wait_terminal(&id).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    id
}

async fn artifacts(app: &TestApp, id: &str, user: &str) -> (reqwest::StatusCode, Value) {
    app.get_as(&format!("/api/v1/executions/{id}/artifacts"), user)
        .await
}

async fn log_text(app: &TestApp, id: &str) -> String {
    let (status, text) = app
        .get_as(
            &format!("/api/v1/executions/{id}/logs?format=text"),
            ANALYST,
        )
        .await;
    assert_eq!(status, 200);
    text.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn regular_files_are_listed_and_downloaded_through_presigned_urls() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let id = run_to_success(&app, LEAVES_OUTPUTS).await;

    let (status, body) = artifacts(&app, &id, ANALYST).await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["backup.log", "reports/summary.json"]);
    let log = &items[0];
    let expected = "backup done\n".repeat(100);
    assert_eq!(log["size"], expected.len());
    assert_eq!(log["content_type"], "text/plain");
    assert_eq!(items[1]["content_type"], "application/json");
    let expires_at: chrono::DateTime<chrono::Utc> =
        log["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires_at - chrono::Utc::now();
    assert!(
        (290..=300).contains(&left.num_seconds()),
        "default TTL 300 s: {left}"
    );

    // A plain client, no credentials: the URL is the permission.
    let url = log["url"].as_str().unwrap();
    let download = reqwest::get(url).await.unwrap();
    assert_eq!(download.status(), 200);
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"backup.log\""),
        "{disposition}"
    );
    let bytes = download.bytes().await.unwrap();
    assert_eq!(bytes, expected.as_bytes());
    assert_eq!(sage_model::hex(&Sha256::digest(&bytes)), log["sha256"]);

    // A changed signature or key is refused.
    let tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=00");
    let refused = reqwest::get(&tampered).await.unwrap().status();
    assert!(refused == 403 || refused == 400, "{refused}");
    let elsewhere = url.replace("backup.log", "reports/summary.json");
    assert_eq!(reqwest::get(&elsewhere).await.unwrap().status(), 403);

    // S3 credentials never reach the client.
    let secret = app.env.raw("S3_SECRET_ACCESS_KEY").unwrap();
    assert!(!body.to_string().contains(secret));

    let text = log_text(&app, &id).await;
    assert!(
        text.contains("sage: artifact skipped: /work/out/passwd is a symlink"),
        "{text}"
    );
    assert!(
        text.contains("sage: artifact skipped: /work/out/pipe is a FIFO"),
        "{text}"
    );
    assert!(
        text.contains("has an invisible or direction-changing character in its name"),
        "{text}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn artifacts_are_refused_to_who_may_not_see_the_execution() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let id = run_to_success(&app, LEAVES_OUTPUTS).await;
    let (status, body) = artifacts(&app, &id, OTHER).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.to_string().contains("X-Amz"), "{body}");
    let (status, _) = artifacts(&app, &uuid::Uuid::new_v4().to_string(), ANALYST).await;
    assert_eq!(status, 404);
    // A path that is not an execution id names nothing.
    let (status, body) = artifacts(&app, "not-an-id", ANALYST).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/executions/{id}/artifacts"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
    worker.stop().await;
}

#[tokio::test]
async fn size_limits_skip_files_and_say_so() {
    let app = spawn_app().await;
    let worker = spawn_worker_with(&app, |env| {
        env.set("ARTIFACT_MAX_FILE_BYTES", "1000");
        env.set("ARTIFACT_MAX_TOTAL_BYTES", "1500");
    })
    .await;
    let code = r#"
import os
os.makedirs("out", exist_ok=True)
open("out/a-big.bin", "wb").write(b"x" * 2000)
open("out/b.bin", "wb").write(b"y" * 800)
open("out/c.bin", "wb").write(b"z" * 800)
"#;
    let id = run_to_success(&app, code).await;
    let (_, body) = artifacts(&app, &id, ANALYST).await;
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{body}");
    let text = log_text(&app, &id).await;
    assert!(
        text.contains("/work/out/a-big.bin is 2000 bytes, over the limit of 1000 per file"),
        "{text}"
    );
    assert!(text.contains("past its limit of 1500 bytes"), "{text}");
    worker.stop().await;
}

#[tokio::test]
async fn presigned_urls_expire_after_the_configured_time() {
    let mut env = test_env();
    env.set("ARTIFACT_URL_TTL_SEC", "1");
    let app = spawn_app_with(env).await;
    let worker = spawn_worker(&app).await;
    let id = run_to_success(&app, LEAVES_OUTPUTS).await;
    let (_, body) = artifacts(&app, &id, ANALYST).await;
    let url = body["items"][0]["url"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 403);
    worker.stop().await;
}

#[tokio::test]
async fn a_run_without_outputs_has_no_artifacts_and_bad_ttl_is_named() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let id = run_to_success(&app, "print('nothing kept')\n").await;
    let (status, body) = artifacts(&app, &id, ANALYST).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"items": []}));
    assert!(!log_text(&app, &id).await.contains("sage:"));
    worker.stop().await;

    let mut env = test_env();
    env.set("ARTIFACT_URL_TTL_SEC", "0");
    let error = sage_api::settings::Settings::from_env(env).unwrap_err();
    assert!(
        error.to_string().contains("ARTIFACT_URL_TTL_SEC"),
        "{error}"
    );
}

/// A module of `code` with a secret `key` in its environment and the given output limit.
async fn module_with_a_secret(app: &TestApp, code: &str, max_output_bytes: u64) -> String {
    app.module_with(ScriptModule {
        code,
        params: json!([{"name": "key", "type": "secret", "required": true, "secret_as": "env"}]),
        env: json!({"KEY": "{key}"}),
        limits: json!({"timeout_sec": 30, "memory_mb": 128, "cpus": 1.0, "pids": 32,
                       "max_output_bytes": max_output_bytes}),
        ..Default::default()
    })
    .await
}

async fn lines_of(app: &TestApp, id: &str, stream: Stream) -> Vec<String> {
    let chunks = app
        .db()
        .log_chunks(id.parse().unwrap(), 0, 10_000)
        .await
        .unwrap();
    chunks
        .iter()
        .flat_map(|chunk| chunk.decode().unwrap())
        .filter(|l| l.stream == stream)
        .map(|l| l.line)
        .collect()
}

#[tokio::test]
async fn notices_are_the_workers_own_stream_and_a_name_holding_a_secret_is_redacted() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let secret = "n0tice-s3cret-value";
    let code = r#"
import os, sys
print("sage: artifact skipped: a look-alike", file=sys.stderr)
open(f"out/{os.environ['KEY']}.txt", "w").write("named after the secret")
"#;
    let module = module_with_a_secret(&app, code, 1 << 20).await;
    let id = app.submit(&module, json!({"key": secret})).await;
    assert_eq!(app.wait_terminal(&id).await["status"], "succeeded");
    assert_eq!(
        lines_of(&app, &id, Stream::Stderr).await,
        ["sage: artifact skipped: a look-alike"],
        "what a script prints stays in its own stream"
    );
    assert_eq!(
        lines_of(&app, &id, Stream::Sage).await,
        ["artifact skipped: /work/out/***.txt has a secret in its name"]
    );
    let (_, listed) = artifacts(&app, &id, ANALYST).await;
    assert_eq!(
        listed,
        json!({"items": []}),
        "nothing named after the secret is kept"
    );
    for table in ["execution_log_chunks", "execution_artifacts"] {
        let rows = app
            .db()
            .rows_as_text_for_tests(&format!("SELECT t::text FROM {table} t"))
            .await
            .unwrap();
        assert!(!rows.concat().contains(secret), "{table}");
    }
    let text = log_text(&app, &id).await;
    assert!(
        text.ends_with("\nsage: artifact skipped: /work/out/***.txt has a secret in its name\n"),
        "{text}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn notices_count_against_the_runs_output_limit() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let code = r#"
import os
for i in range(400):
    os.symlink("/etc/passwd", f"out/link-{i:03}")
"#;
    let module = module_with_a_secret(&app, code, 4096).await;
    let id = app
        .submit(&module, json!({"key": "a-secret-nobody-prints"}))
        .await;
    assert_eq!(app.wait_terminal(&id).await["status"], "succeeded");
    let notices = lines_of(&app, &id, Stream::Sage).await;
    let (last, told) = notices.split_last().unwrap();
    let bytes: usize = told.iter().map(|l| l.len() + 1).sum();
    assert!(bytes <= 4096, "{bytes} bytes of notices");
    assert!(
        told.len() > 10,
        "notices are told until the limit: {notices:?}"
    );
    assert_eq!(
        *last,
        format!(
            "{} more notices held back: the run reached its output limit",
            400 - told.len()
        )
    );
    worker.stop().await;
}

const WRITES_A_REPORT: &str = r#"
open("out/report.txt", "w").write("kept across the outage\n")
print("wrote my report")
"#;

/// The worker's S3 traffic through a gate the test closes and reopens (the S3 server
/// stays up for the other tests).
async fn worker_behind_a_gate(
    app: &TestApp,
    deadline_sec: &str,
) -> (
    sage_testkit::TestWorker,
    std::sync::Arc<sage_testkit::TcpGate>,
) {
    let direct = app.env.raw("S3_ENDPOINT").unwrap().to_owned();
    let target = direct.trim_start_matches("http://").parse().unwrap();
    let gate = sage_testkit::TcpGate::start(target).await;
    let port = gate.port;
    let deadline_sec = deadline_sec.to_owned();
    let worker = spawn_worker_with(app, move |env| {
        env.set("S3_ENDPOINT", format!("http://127.0.0.1:{port}"));
        env.set("ARTIFACT_UPLOAD_DEADLINE_SEC", deadline_sec);
    })
    .await;
    (worker, gate)
}

/// A run that writes a report, submitted with the gate closed.
async fn submit_behind_a_closed_gate(app: &TestApp, gate: &sage_testkit::TcpGate) -> String {
    let module = app
        .module_with(ScriptModule {
            code: WRITES_A_REPORT,
            ..Default::default()
        })
        .await;
    gate.close();
    app.submit(&module, json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artifact_store_outage_delays_the_outputs_and_loses_none() {
    let app = spawn_app().await;
    let (worker, gate) = worker_behind_a_gate(&app, "120").await;
    let id = submit_behind_a_closed_gate(&app, &gate).await;
    // Down for a few of the worker's attempts, then back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !log_text(&app, &id)
        .await
        .contains("storing the artifacts failed")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            log_text(&app, &id).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.execution(&id).await["status"],
        "running",
        "it waits for its outputs"
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    gate.reopen().await;
    let execution = app.wait_terminal(&id).await;
    let log = log_text(&app, &id).await;
    assert_eq!(execution["status"], "succeeded", "{execution}\n{log}");
    assert!(
        log.contains("the artifacts were stored at attempt"),
        "{log}"
    );
    let (status, body) = artifacts(&app, &id, ANALYST).await;
    assert_eq!(status, 200, "{body}");
    let report = &body["items"][0];
    assert_eq!(report["name"], "report.txt", "{body}");
    let text = reqwest::get(report["url"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "kept across the outage\n");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_not_stored_by_the_deadline_end_the_run_saying_so() {
    let app = spawn_app().await;
    let (worker, gate) = worker_behind_a_gate(&app, "3").await;
    let id = submit_behind_a_closed_gate(&app, &gate).await;
    let execution = app.wait_terminal(&id).await;
    let log = log_text(&app, &id).await;
    assert_eq!(execution["status"], "failed", "{execution}\n{log}");
    assert_eq!(execution["reason"], "artifacts_not_kept", "{execution}");
    assert!(log.contains("wrote my report"), "{log}");
    assert!(
        log.contains("the artifacts were not kept: uploading "),
        "{log}"
    );
    let (_, body) = artifacts(&app, &id, ANALYST).await;
    assert_eq!(body["items"], json!([]));
    worker.stop().await;
}
