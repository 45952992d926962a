//! Test support shared by the api's and the worker's integration tests: the api and
//! workers started in-process on a fresh database against the real services of the
//! local stack, and the calls tests make to them.

// Test helpers panic on purpose: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sage_api::settings::Settings;
use sage_api::startup::Application;
use sage_infra::config::Env;
use sage_store::testing::fresh_database;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub mod emulator;
mod gate;
pub mod idp;
pub mod mail;
mod metrics;
pub mod receiver;
mod spans;
mod sse;
mod worker;

pub use gate::{TcpGate, gate_redis};
pub use metrics::{metric, scrape};
pub use spans::{ExportedSpan, SpanCollector};
pub use sse::{EventStream, SseEvent};
pub use worker::{TestWorker, spawn_worker, spawn_worker_with};

#[derive(Clone)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub application_state: sage_api::state::AppState,
    /// Where this api serves `/metrics` (apart from its API).
    pub metrics_port: u16,
    /// The environment the api started with, its fresh database included: workers
    /// started for this app read the same.
    pub env: Env,
}

pub const ADMIN: &str = "admin@example.com";
pub const ANALYST: &str = "analyst@example.com";
pub const OTHER: &str = "other-analyst@example.com";

/// The sample module of the acceptance scenario, as an admin would post it.
pub fn backup_module(script_id: &str) -> Value {
    let mut module = sage_api::catalog::seed::backup_db_body(script_id, 0);
    module["name"] = json!("backup-db");
    module
}

/// A script library of its own for one test: the sample `backup_db.py` and a folder.
pub fn scripts_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sage-scripts-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("team")).unwrap();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/backup_db.py");
    std::fs::copy(sample, dir.join("backup_db.py")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("escape.py")).unwrap();
    dir
}

/// The test environment with a unique queue prefix and the api on a free port.
pub fn test_env() -> Env {
    let mut env = Env::for_tests();
    env.set("SCRIPTS_DIR", scripts_dir().to_string_lossy().into_owned());
    env.set("ADMIN_EMAILS", ADMIN);
    env.set("API_BIND", "127.0.0.1:0");
    env.set(
        "QUEUE_PREFIX",
        format!("test-{}", uuid::Uuid::new_v4().simple()),
    );
    env.set("LOG_FORMAT", "json");
    env.set("RUST_LOG", "warn");
    // Workers of tests run side by side (and beside `just up`'s): any free port.
    env.set("WORKER_METRICS_BIND", "127.0.0.1:0");
    env.set("API_METRICS_BIND", "127.0.0.1:0");
    env
}

/// Starts the api on a random port with a fresh database, as configured by `env`.
pub async fn spawn_app_with(mut env: Env) -> TestApp {
    let settings = Settings::from_env(env.clone()).expect("test settings are valid");
    let database = fresh_database(&settings.database)
        .await
        .expect("a fresh database");
    env.set("DATABASE_URL", database.url.expose_secret().to_owned());
    start(env).await
}

/// Starts another api process's worth of application on the same database, queue and
/// services as `app`: a second replica behind the same load balancer.
pub async fn spawn_replica(app: &TestApp) -> TestApp {
    start(app.env.clone()).await
}

async fn start(env: Env) -> TestApp {
    let settings = Settings::from_env(env.clone()).expect("test settings are valid");
    // Boxed: the whole application's start-up is a large future.
    let application = Box::pin(Application::build(settings))
        .await
        .expect("the api starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let application_state = application.state().clone();
    let metrics_port = application
        .metrics_port()
        .expect("the test api serves /metrics");
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        application_state,
        metrics_port,
        env,
    }
}

/// A port nothing listens on now, for a process a test starts itself (a second api,
/// an identity provider) whose address must be known before it runs.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_env()).await
}

impl TestApp {
    /// Waits until this address answers `/health` (a process starting up); panics
    /// naming `what` after 30 s.
    pub async fn wait_until_healthy(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self
            .client
            .get(format!("{}/health", self.address))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "{what} never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn db(&self) -> &sage_store::Db {
        &self.application_state.db
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        user: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(user) = user {
            request = request.header("X-Demo-User", user);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the api answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    pub async fn get_as(&self, path: &str, user: &str) -> (reqwest::StatusCode, serde_json::Value) {
        self.call(reqwest::Method::GET, path, Some(user), None)
            .await
    }

    pub async fn post_as(
        &self,
        path: &str,
        user: &str,
        body: &serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(user), Some(body))
            .await
    }

    pub async fn put_as(
        &self,
        path: &str,
        user: &str,
        body: &serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.call(reqwest::Method::PUT, path, Some(user), Some(body))
            .await
    }

    pub async fn delete_as(
        &self,
        path: &str,
        user: &str,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.call(reqwest::Method::DELETE, path, Some(user), None)
            .await
    }

    /// Provisions a user with roles and groups, as an identity provider's claims would.
    pub async fn user_with(&self, email: &str, roles: &[&str], groups: &[&str]) {
        let owned = |items: &[&str]| Some(items.iter().map(|s| (*s).to_owned()).collect());
        let claims = sage_store::users::Claims {
            roles: owned(roles),
            groups: owned(groups),
        };
        let email = sage_model::names::Email::parse(email).unwrap();
        self.db()
            .sign_in(&email, &claims, &Default::default())
            .await
            .unwrap();
    }

    /// How many audit events exist: refusals must not add any.
    pub async fn audit_count(&self) -> usize {
        let filter = sage_store::audit::AuditFilter {
            limit: 10_000,
            ..Default::default()
        };
        self.db().audit_events(&filter).await.unwrap().len()
    }

    /// Every execution recorded, whoever asked for it.
    pub async fn execution_count(&self) -> usize {
        let filter = sage_store::executions::ExecutionFilter {
            module_id: None,
            status: None,
            requested_by: None,
            since: None,
            until: None,
            after: None,
            limit: 10_000,
        };
        self.db()
            .executions(&sage_store::executions::Viewer::Everything, &filter)
            .await
            .unwrap()
            .len()
    }

    pub async fn register_backup_script(&self) -> String {
        let body = serde_json::json!({"path": "backup_db.py", "interpreter": "python3"});
        let (status, script) = self.post_as("/api/v1/scripts", ADMIN, &body).await;
        assert_eq!(status, 201, "{script}");
        script["id"].as_str().unwrap().to_owned()
    }

    /// The id of the already registered sample script.
    pub async fn register_backup_script_again(&self) -> String {
        let (_, listed) = self.get_as("/api/v1/scripts", ADMIN).await;
        listed["items"][0]["id"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("the api answers")
    }
}

/// A module around a script written for the test, assigned to the analyst (run, view).
pub struct ScriptModule<'a> {
    pub file: &'a str,
    pub code: &'a str,
    pub params: Value,
    pub args: Value,
    pub env: Value,
    pub limits: Value,
}

impl Default for ScriptModule<'_> {
    fn default() -> Self {
        Self {
            file: "job.py",
            code: "print('hello')\n",
            params: json!([]),
            args: json!([]),
            env: json!({}),
            limits: json!({"timeout_sec": 30, "memory_mb": 128, "cpus": 1.0, "pids": 32,
                           "max_output_bytes": 1_048_576}),
        }
    }
}

impl TestApp {
    /// Writes the script into this app's library, registers it and wraps it into a
    /// module the analyst may run; returns the module id.
    pub async fn module_with(&self, module: ScriptModule<'_>) -> String {
        let library = std::path::PathBuf::from(self.env.raw("SCRIPTS_DIR").unwrap());
        std::fs::write(library.join(module.file), module.code).unwrap();
        let body = json!({"path": module.file, "interpreter": "python3"});
        let (status, script) = self.post_as("/api/v1/scripts", ADMIN, &body).await;
        assert_eq!(status, 201, "{script}");
        let name = format!("m-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let definition = json!({
            "name": name, "script_id": script["id"], "params": module.params,
            "args": module.args, "env": module.env, "limits": module.limits,
        });
        let (status, created) = self.post_as("/api/v1/modules", ADMIN, &definition).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        self.assign(
            &id,
            json!([{"user": ANALYST, "permissions": ["run", "view"]}]),
        )
        .await;
        id
    }

    /// Replaces a module's assignments, as the admin.
    pub async fn assign(&self, module_id: &str, assignments: Value) {
        let (status, body) = self
            .put_as(
                &format!("/api/v1/modules/{module_id}/assignments"),
                ADMIN,
                &json!({ "assignments": assignments }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// The acceptance scenario's `backup-db` module, assigned to the analyst (run, view).
    /// A scanner tool's module (`prowler`, …), as the api installed it at start.
    pub async fn tool_module(&self, tool: &str) -> String {
        let (_, tools) = self.get_as("/api/v1/tools", ADMIN).await;
        tools["items"]
            .as_array()
            .and_then(|items| items.iter().find(|t| t["name"] == tool))
            .and_then(|t| t["module_id"].as_str())
            .unwrap_or_else(|| panic!("{tool} is not installed: {tools}"))
            .to_owned()
    }

    /// A succeeded execution of `module` that no worker ran, recorded as the admin's:
    /// what a tool run's findings are stored against when a test stores them itself.
    pub async fn finished_execution(&self, module: &str) -> sage_model::ExecutionId {
        let id = sage_model::ExecutionId::new();
        self.db()
            .batch_for_tests(&format!(
                "INSERT INTO executions (id, module_id, module_version, requested_by, params, status)
                 SELECT '{id}', '{module}', 1, id, '{{}}', 'succeeded' FROM users
                 WHERE email = '{ADMIN}'"
            ))
            .await
            .unwrap();
        id
    }

    /// A finding's changes as the admin reads them, oldest first: (from, to, run).
    pub async fn finding_history(&self, fingerprint: &str) -> Vec<(Value, Value, Value)> {
        let (status, detail) = self
            .get_as(&format!("/api/v1/findings/{fingerprint}"), ADMIN)
            .await;
        assert_eq!(status, 200, "{detail}");
        detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["from"].clone(), e["to"].clone(), e["run"].clone()))
            .collect()
    }

    pub async fn backup_db_module(&self) -> String {
        let script = self.register_backup_script().await;
        let (status, module) = self
            .post_as("/api/v1/modules", ADMIN, &backup_module(&script))
            .await;
        assert_eq!(status, 201, "{module}");
        let id = module["id"].as_str().unwrap().to_owned();
        self.assign(
            &id,
            json!([{"user": ANALYST, "permissions": ["run", "view"]}]),
        )
        .await;
        id
    }

    /// Submits a run as the analyst; returns the execution id.
    pub async fn submit(&self, module_id: &str, params: Value) -> String {
        let (status, execution) = self
            .post_as(
                &format!("/api/v1/modules/{module_id}/executions"),
                ANALYST,
                &json!({"params": params}),
            )
            .await;
        assert_eq!(status, 202, "{execution}");
        execution["id"].as_str().unwrap().to_owned()
    }

    pub async fn execution(&self, id: &str) -> Value {
        let (status, execution) = self
            .get_as(&format!("/api/v1/executions/{id}"), ADMIN)
            .await;
        assert_eq!(status, 200, "{execution}");
        execution
    }

    /// Waits until the execution has `status` (any terminal one when `None`).
    pub async fn wait_for(&self, id: &str, status: Option<&str>, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let execution = self.execution(id).await;
            let now = execution["status"].as_str().unwrap_or_default().to_owned();
            let reached = match status {
                Some(wanted) => now == wanted,
                None => now
                    .parse::<sage_model::ExecutionStatus>()
                    .is_ok_and(|status| status.is_terminal()),
            };
            if reached {
                return execution;
            }
            assert!(
                Instant::now() < deadline,
                "execution {id} still {now} after {within:?}: {execution}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The whole log of an execution as text, read by the admin.
    pub async fn log_text(&self, id: &str) -> String {
        let (status, text) = self
            .get_as(&format!("/api/v1/executions/{id}/logs?format=text"), ADMIN)
            .await;
        assert_eq!(status, 200);
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Asks for an evidence report as `user` through `path` and waits until a worker
    /// built it, or failed it.
    pub async fn evidence_via(&self, path: &str, user: &str, body: Value) -> Value {
        let (status, requested) = self.post_as(path, user, &body).await;
        assert_eq!(status, 202, "{requested}");
        assert_eq!(requested["status"], "pending");
        let path = format!("/api/v1/evidence/{}", requested["id"].as_str().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, evidence) = self.get_as(&path, user).await;
            assert_eq!(status, 200, "{evidence}");
            if evidence["status"] == "ready" || evidence["status"] == "failed" {
                return evidence;
            }
            assert!(Instant::now() < deadline, "never built: {evidence}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_terminal(&self, id: &str) -> Value {
        self.wait_for(id, None, Duration::from_secs(60)).await
    }

    /// Reports this machine's scanner image as a worker does at start: its tools, and
    /// the compliance frameworks read out of it.
    pub async fn report_scanner_image(&self) {
        let docker = sage_worker::docker::connect("unix:///var/run/docker.sock")
            .await
            .unwrap();
        let versions = sage_worker::scanner_image::ToolVersions::default();
        sage_worker::scanner_image::Reporter::new(
            self.db().clone(),
            docker,
            "sage-scanner:latest".to_owned(),
            versions,
        )
        .report()
        .await;
    }
}

/// The test environment with the built-in tools' drivers in the script library, so the
/// api installs the tool modules at start.
pub fn tools_env() -> Env {
    let env = test_env();
    let library = std::path::PathBuf::from(env.raw("SCRIPTS_DIR").unwrap()).join("sage-tools");
    std::fs::create_dir_all(&library).unwrap();
    let drivers = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/sage-tools");
    for entry in std::fs::read_dir(drivers).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), library.join(entry.file_name())).unwrap();
    }
    env
}
