//! The execution pipeline end to end: the api takes a run, the relay publishes its
//! job, a worker claims it and runs its sandbox, the end is stored. Each test has its
//! own database and queues; the services and the Docker engine are the real ones.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::Digest;

use crate::support::{containers_labelled, docker};
use sage_testkit::{
    ADMIN, ANALYST, OTHER, ScriptModule, TcpGate, TestApp, metric, scrape, spawn_app,
    spawn_app_with, spawn_worker, spawn_worker_with, test_env,
};

const SECRET: &str = "s3cr3t-pipeline-value";

/// Sleeps for a minute, ignoring SIGTERM, after leaving a child behind that does too.
const STUBBORN: &str = r#"
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
print("started", flush=True)
time.sleep(60)
"#;

async fn containers_of(id: &str) -> usize {
    containers_labelled(&docker().await, id).await
}

/// Waits until `id` has `count` containers (created, or removed).
async fn wait_containers(id: &str, count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while containers_of(id).await != count {
        assert!(
            Instant::now() < deadline,
            "execution {id} does not have {count} containers after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_no_container(id: &str, within: Duration) {
    wait_containers(id, 0, within).await;
}

/// A module whose script sleeps and ignores SIGTERM, assigned to the analyst.
async fn stubborn_module(app: &TestApp, timeout_sec: u64) -> String {
    app.module_with(ScriptModule {
        code: STUBBORN,
        limits: limits(timeout_sec, 128, 10_000),
        ..Default::default()
    })
    .await
}

fn backup_params() -> Value {
    json!({"db_name": "orders", "retention_days": 30, "notify_email": "ops@example.com",
           "backup_key": SECRET})
}

fn limits(timeout_sec: u64, memory_mb: u64, max_output_bytes: u64) -> Value {
    json!({"timeout_sec": timeout_sec, "memory_mb": memory_mb, "cpus": 1.0, "pids": 32,
           "max_output_bytes": max_output_bytes})
}

#[tokio::test]
async fn backup_db_runs_to_success_and_its_secret_is_gone_afterwards() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let module = app.backup_db_module().await;
    let id = app.submit(&module, backup_params()).await;
    let execution = app.wait_terminal(&id).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    assert_eq!(execution["exit_code"], 0);
    assert_eq!(execution["reason"], Value::Null);
    assert_eq!(execution["params"]["backup_key"], "***");
    assert!(execution["started_at"].is_string() && execution["finished_at"].is_string());
    assert!(execution["output_bytes"].as_i64().unwrap() > 0);
    let rows = async |table: &str| {
        app.db()
            .rows_as_text_for_tests(&format!("SELECT row_to_json(t)::text FROM {table} t"))
            .await
    };
    assert!(
        rows("execution_secrets").await.unwrap().is_empty(),
        "sealed secrets are deleted when the run ends"
    );
    for table in ["executions", "audit_events", "job_outbox"] {
        let rows = rows(table).await.unwrap();
        assert!(
            !rows.iter().any(|row| row.contains(SECRET)),
            "the secret is in {table}"
        );
    }
    let (_, audit) = app
        .get_as(&format!("/api/v1/audit?target_id={id}"), ADMIN)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["execution.submit", "execution.start", "execution.finish"] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    wait_no_container(&id, Duration::from_secs(5)).await;
    worker.stop().await;
}

#[tokio::test]
async fn each_limit_ends_the_run_with_its_own_reason() {
    let app = spawn_app().await;
    let worker = spawn_worker_with(&app, |env| env.set("WORKER_CONCURRENCY", "4")).await;
    let cases = [
        (
            "exit.py",
            "import sys\nprint('bye')\nsys.exit(3)\n",
            limits(30, 128, 10_000),
            "failed",
            "exit_code",
        ),
        (
            "sleep.py",
            STUBBORN,
            limits(2, 128, 10_000),
            "timed_out",
            "timeout",
        ),
        (
            "hog.py",
            "x = bytearray(1024 * 1024 * 1024)\nprint(len(x))\n",
            limits(30, 64, 10_000),
            "failed",
            "oom",
        ),
        (
            "chatty.py",
            "while True:\n    print('x' * 100)\n",
            limits(30, 128, 10_000),
            "failed",
            "output_limit",
        ),
    ];
    let mut runs = Vec::new();
    for (file, code, limits, _, _) in &cases {
        let module = app
            .module_with(ScriptModule {
                file,
                code,
                limits: limits.clone(),
                ..Default::default()
            })
            .await;
        runs.push(app.submit(&module, json!({})).await);
    }
    for ((file, _, _, status, reason), id) in cases.iter().zip(&runs) {
        let execution = app.wait_terminal(id).await;
        assert_eq!(execution["status"], *status, "{file}: {execution}");
        assert_eq!(execution["reason"], *reason, "{file}: {execution}");
        if *reason == "exit_code" {
            assert_eq!(execution["exit_code"], 3);
        }
        if *reason == "output_limit" {
            assert_eq!(execution["truncated"], true);
        }
        wait_no_container(id, Duration::from_secs(5)).await;
    }
    worker.stop().await;
}

#[tokio::test]
async fn a_timeout_kills_a_script_that_ignores_sigterm_within_two_seconds() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let module = stubborn_module(&app, 2).await;
    let id = app.submit(&module, json!({})).await;
    let running = app
        .wait_for(&id, Some("running"), Duration::from_secs(30))
        .await;
    let execution = app.wait_terminal(&id).await;
    assert_eq!(execution["status"], "timed_out");
    let started: chrono::DateTime<chrono::Utc> =
        running["started_at"].as_str().unwrap().parse().unwrap();
    let finished: chrono::DateTime<chrono::Utc> =
        execution["finished_at"].as_str().unwrap().parse().unwrap();
    // started_at is stamped at claim, before the container is created and started.
    let took = (finished - started).to_std().unwrap();
    assert!(took < Duration::from_secs(2 + 2 + 3), "took {took:?}");
    wait_no_container(&id, Duration::from_secs(5)).await;
    worker.stop().await;
}

#[tokio::test]
async fn cancel_kills_a_running_sandbox_within_two_seconds() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let module = stubborn_module(&app, 120).await;
    let id = app.submit(&module, json!({})).await;
    app.wait_for(&id, Some("running"), Duration::from_secs(30))
        .await;
    // Let the script start and leave its child behind.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(containers_of(&id).await, 1);
    let asked = Instant::now();
    let (status, execution) = app
        .post_as(
            &format!("/api/v1/executions/{id}/cancel"),
            ANALYST,
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{execution}");
    assert_eq!(execution["status"], "cancelled");
    assert_eq!(execution["reason"], "cancelled_by");
    wait_no_container(&id, Duration::from_secs(2)).await;
    assert!(asked.elapsed() < Duration::from_secs(2));
    // The end stands: the worker's own finish does not overwrite it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let execution = app.execution(&id).await;
    assert_eq!(execution["status"], "cancelled");
    let (status, again) = app
        .post_as(
            &format!("/api/v1/executions/{id}/cancel"),
            ANALYST,
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{again}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_queued_run_cancelled_never_starts_and_only_its_requester_or_an_admin_may_cancel() {
    let app = spawn_app().await;
    let module = app.module_with(ScriptModule::default()).await;
    app.user_with("viewer@example.com", &[], &[]).await;
    app.assign(
        &module,
        json!([{"user": ANALYST, "permissions": ["run", "view"]},
               {"user": "viewer@example.com", "permissions": ["view"]}]),
    )
    .await;
    let id = app.submit(&module, json!({})).await;
    let path = format!("/api/v1/executions/{id}/cancel");
    let before = app.audit_count().await;
    let (status, _) = app.post_as(&path, OTHER, &json!({})).await;
    assert_eq!(
        status, 404,
        "an analyst who cannot see it is told it does not exist"
    );
    let (status, body) = app.post_as(&path, "viewer@example.com", &json!({})).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app.call(reqwest::Method::POST, &path, None, None).await;
    assert_eq!(status, 401);
    assert_eq!(app.audit_count().await, before, "refusals change nothing");
    assert_eq!(app.execution(&id).await["status"], "queued");
    let (status, execution) = app.post_as(&path, ADMIN, &json!({})).await;
    assert_eq!(status, 202, "{execution}");
    // A worker that gets the job now skips it.
    let worker = spawn_worker(&app).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let execution = app.execution(&id).await;
    assert_eq!(execution["status"], "cancelled");
    assert_eq!(execution["started_at"], Value::Null);
    assert_eq!(containers_of(&id).await, 0);
    worker.stop().await;
}

#[tokio::test]
async fn two_workers_on_one_queue_never_run_an_execution_twice() {
    let app = spawn_app().await;
    let first = spawn_worker_with(&app, |env| env.set("WORKER_CONCURRENCY", "3")).await;
    let second = spawn_worker_with(&app, |env| env.set("WORKER_CONCURRENCY", "3")).await;
    let module = app.module_with(ScriptModule::default()).await;
    let mut runs = Vec::new();
    for _ in 0..12 {
        runs.push(app.submit(&module, json!({})).await);
    }
    let mut by_worker: HashMap<String, usize> = HashMap::new();
    for id in &runs {
        let execution = app.wait_terminal(id).await;
        assert_eq!(execution["status"], "succeeded", "{execution}");
        let (_, audit) = app
            .get_as(
                &format!("/api/v1/audit?target_id={id}&action=execution.start"),
                ADMIN,
            )
            .await;
        let starts = audit["items"].as_array().unwrap();
        assert_eq!(starts.len(), 1, "started more than once: {audit}");
        *by_worker
            .entry(starts[0]["actor"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(by_worker.values().sum::<usize>(), runs.len());
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn submissions_during_a_rabbitmq_outage_run_once_it_is_back() {
    let gate = TcpGate::start("127.0.0.1:5672".parse().unwrap()).await;
    let mut env = test_env();
    env.set(
        "AMQP_URL",
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", gate.port),
    );
    let app = spawn_app_with(env).await;
    let worker = spawn_worker(&app).await;
    let module = app.module_with(ScriptModule::default()).await;
    gate.close();
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(app.submit(&module, json!({})).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in &runs {
        assert_eq!(app.execution(id).await["status"], "queued");
    }
    assert_eq!(
        app.db().pending_jobs().await.unwrap(),
        3,
        "jobs wait in the outbox"
    );
    gate.reopen().await;
    for id in &runs {
        let execution = app.wait_terminal(id).await;
        assert_eq!(execution["status"], "succeeded", "{execution}");
    }
    worker.stop().await;
}

#[tokio::test]
#[allow(
    clippy::disallowed_methods,
    reason = "runs the real binary, to SIGKILL it"
)]
async fn a_sigkilled_worker_leaves_a_lost_execution_and_no_container() {
    let app = spawn_app().await;
    let module = stubborn_module(&app, 120).await;
    let mut process = std::process::Command::new(env!("CARGO_BIN_EXE_sage-worker"));
    process.env_clear();
    for (name, value) in app.env.vars() {
        process.env(name, value);
    }
    let staging = std::env::temp_dir().join(format!("sage-staging-{}", uuid::Uuid::new_v4()));
    process
        .env("WORKER_ID", "doomed-worker")
        .env("LEASE_SEC", "5")
        .env("STAGING_DIR", &staging)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut doomed = process.spawn().unwrap();
    let id = app.submit(&module, json!({})).await;
    app.wait_for(&id, Some("running"), Duration::from_secs(30))
        .await;
    wait_containers(&id, 1, Duration::from_secs(10)).await;
    doomed.kill().unwrap(); // SIGKILL
    doomed.wait().unwrap();
    assert_eq!(
        containers_of(&id).await,
        1,
        "a killed worker leaves its sandbox"
    );

    let survivor = spawn_worker_with(&app, |env| {
        env.set("LEASE_SEC", "5");
        env.set("STAGING_DIR", staging.to_string_lossy().into_owned());
    })
    .await;
    let execution = app
        .wait_for(&id, Some("lost"), Duration::from_secs(30))
        .await;
    assert_eq!(execution["reason"], "worker_lost");
    let (_, module_view) = app
        .get_as(&format!("/api/v1/modules/{module}"), ADMIN)
        .await;
    let lost = format!(
        r#"sage_executions_ended_total{{module="{}",status="lost",reason="worker_lost"}}"#,
        module_view["name"].as_str().unwrap()
    );
    let scraped = scrape(survivor.metrics_port.unwrap()).await;
    assert_eq!(metric(&scraped, &lost), Some(1.0), "{scraped}");
    wait_no_container(&id, Duration::from_secs(15)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while staging.join(&id).exists() {
        assert!(
            Instant::now() < deadline,
            "the staging folder is still there"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Lost runs are never re-run silently.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.execution(&id).await["status"], "lost");
    survivor.stop().await;
}

#[tokio::test]
async fn a_file_secret_is_a_read_only_file_on_tmpfs_gone_after_the_run() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let code = r#"
import hashlib, os, stat
path = os.environ["KEY_FILE"]
print("path", path)
info = os.stat(path)
print("mode", oct(stat.S_IMODE(info.st_mode)), "owner", "me" if info.st_uid == os.getuid() else info.st_uid)
print("sha256", hashlib.sha256(open(path, "rb").read()).hexdigest())
try:
    open(path, "w")
    print("writable")
except OSError:
    print("read-only")
print("mounts", [l.split()[2] for l in open("/proc/self/mounts") if l.split()[1] == path])
"#;
    let module = app
        .module_with(ScriptModule {
            code,
            params: json!([{"name": "key", "type": "secret", "required": true, "secret_as": "file"}]),
            env: json!({"KEY_FILE": "{key}"}),
            ..Default::default()
        })
        .await;
    let id = app.submit(&module, json!({"key": SECRET})).await;
    let execution = app.wait_terminal(&id).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    let (_, text) = app
        .get_as(
            &format!("/api/v1/executions/{id}/logs?format=text"),
            ANALYST,
        )
        .await;
    let text = text.as_str().unwrap().to_owned();
    let digest = sage_model::hex(&sha2::Sha256::digest(SECRET.as_bytes()));
    assert!(text.contains("path /run/secrets/key"), "{text}");
    assert!(text.contains("mode 0o400 owner me"), "{text}");
    assert!(text.contains(&format!("sha256 {digest}")), "{text}");
    assert!(text.contains("read-only"), "{text}");
    assert!(
        text.contains("mounts ['tmpfs']"),
        "the file lives on tmpfs: {text}"
    );
    assert!(
        !worker.settings.secrets_dir.join(&id).exists(),
        "the secret file is deleted when the execution ends"
    );
    worker.stop().await;
}
