//! Workers started in-process for a test app, as `sage-worker` starts.

use sage_infra::config::Env;

use crate::TestApp;

/// A worker running in-process for one test app.
pub struct TestWorker {
    pub id: String,
    pub settings: sage_worker::settings::Settings,
    /// Where the worker serves `/metrics`.
    pub metrics_port: Option<u16>,
    shutdown: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl TestWorker {
    /// Stops taking jobs and waits for running ones, as SIGTERM does.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }

    /// Drops the worker at once, as if its process died: nothing it runs is finished.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Starts a worker for `app`, with `tune` adjusting its environment.
pub async fn spawn_worker_with(app: &TestApp, tune: impl FnOnce(&mut Env)) -> TestWorker {
    let mut env = app.env.clone();
    let id = format!(
        "test-worker-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    env.set("WORKER_ID", id.clone());
    env.set(
        "STAGING_DIR",
        std::env::temp_dir()
            .join("sage-staging")
            .join(&id)
            .to_string_lossy()
            .into_owned(),
    );
    env.set("SECRETS_DIR", format!("/dev/shm/sage-test-secrets/{id}"));
    tune(&mut env);
    let settings = sage_worker::settings::Settings::from_env(env).expect("worker settings");
    let dependencies = sage_worker::startup::connect(&settings)
        .await
        .expect("the worker reaches its dependencies");
    let metrics_port = dependencies.metrics_port();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(sage_worker::startup::run_until_stopped(
        settings.clone(),
        dependencies,
        shutdown.clone(),
    ));
    TestWorker {
        id,
        metrics_port,
        settings,
        shutdown,
        task,
    }
}

pub async fn spawn_worker(app: &TestApp) -> TestWorker {
    spawn_worker_with(app, |_| {}).await
}
