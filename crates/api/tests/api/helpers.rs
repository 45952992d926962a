use sage_api::settings::Settings;
use sage_api::startup::Application;
use sage_infra::config::Env;
use sage_store::testing::fresh_database;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub application_state: sage_api::state::AppState,
}

/// The test environment with a unique queue prefix and the api on a free port.
pub fn test_env() -> Env {
    let mut env = Env::for_tests();
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
    let application = Application::build(settings).await.expect("the api starts");
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
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("the api answers")
    }
}
