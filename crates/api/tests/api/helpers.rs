use sage_api::settings::Settings;
use sage_api::startup::Application;
use sage_infra::config::Env;
use sage_store::testing::fresh_database;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub application_state: sage_api::state::AppState,
}

pub const ADMIN: &str = "admin@example.com";
pub const ANALYST: &str = "analyst@example.com";
pub const OTHER: &str = "other-analyst@example.com";

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
    env
}

/// Starts the api on a random port with a fresh database, as configured by `env`.
pub async fn spawn_app_with(env: Env) -> TestApp {
    let mut settings = Settings::from_env(env).expect("test settings are valid");
    settings.common.database = fresh_database(&settings.common.database)
        .await
        .expect("a fresh database");
    // Boxed: the whole application's start-up is a large future.
    let application = Box::pin(Application::build(settings))
        .await
        .expect("the api starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let application_state = application.state().clone();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        application_state,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_env()).await
}

impl TestApp {
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

    /// Provisions a user with roles and groups, as an identity provider's claims would.
    pub async fn user_with(&self, email: &str, roles: &[&str], groups: &[&str]) {
        let owned = |items: &[&str]| Some(items.iter().map(|s| (*s).to_owned()).collect());
        let claims = sage_store::users::Claims {
            roles: owned(roles),
            groups: owned(groups),
        };
        self.db()
            .sign_in(email, &claims, &Default::default())
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
