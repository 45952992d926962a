use crate::helpers::{ADMIN, ANALYST, spawn_app, spawn_app_with, test_env};
use sage_model::names::Email;
use serde_json::{Value, json};

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );
}

#[tokio::test]
async fn ready_checks_every_dependency() {
    let app = spawn_app().await;
    let response = app.get("/ready").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    for name in ["postgres", "rabbitmq", "redis", "s3"] {
        assert_eq!(body["checks"][name], "ok", "{name} in {body}");
    }
}

/// Each dependency pointed at a port nothing listens on must turn /ready into 503
/// naming exactly that dependency, with its error.
#[tokio::test]
async fn ready_names_the_dependency_that_is_down() {
    let cases = [
        ("rabbitmq", "AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f"),
        ("redis", "REDIS_URL", "redis://127.0.0.1:1/0"),
        ("s3", "S3_ENDPOINT", "http://127.0.0.1:1"),
    ];
    for (name, variable, value) in cases {
        let mut env = test_env();
        env.set(variable, value);
        let app = spawn_app_with(env).await;
        let response = app.get("/ready").await;
        assert_eq!(response.status(), 503, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "degraded");
        for (check, value) in body["checks"].as_object().unwrap() {
            if check == name {
                assert_ne!(value, "ok", "{name} should fail: {body}");
                assert!(!value.as_str().unwrap().is_empty());
            } else {
                assert_eq!(value, "ok", "only {name} should fail: {body}");
            }
        }
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let generated = app.get("/health").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");

    let echoed = app
        .client
        .get(format!("{}/health", app.address))
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc-123");

    let forged = app
        .client
        .get(format!("{}/nope", app.address))
        .header("X-Request-Id", "x".repeat(300))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    assert_ne!(forged.headers()["x-request-id"], "x".repeat(300).as_str());
}

#[tokio::test]
async fn unknown_paths_answer_404_in_the_error_shape() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/nothing-here").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn openapi_and_docs_are_served() {
    let app = spawn_app().await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with('3'));
    for path in ["/health", "/ready"] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the spec"
        );
    }
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(
        docs.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(docs.text().await.unwrap().contains("/openapi.json"));
}

/// The schema a `$ref` points at, or the schema itself.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => &spec["components"]["schemas"][reference.rsplit('/').next().unwrap()],
        None => schema,
    }
}

#[tokio::test]
async fn every_operation_documents_its_path_parameters_and_success_answer() {
    let app = spawn_app().await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{} paths", paths.len());
    let mut operations = 0;
    for (path, methods) in paths {
        for (method, operation) in methods.as_object().unwrap() {
            operations += 1;
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            for part in path.split('/').filter(|part| part.starts_with('{')) {
                let name = part.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    declared.contains(&name),
                    "{method} {path}: path parameter {name} is not declared"
                );
            }
            let successes: Vec<&Value> = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(status, _)| status.starts_with('2'))
                .map(|(_, response)| response)
                .collect();
            assert_eq!(successes.len(), 1, "{method} {path}: one success status");
            let content = successes[0]["content"].as_object();
            let schemas: Vec<&Value> = content
                .into_iter()
                .flat_map(|c| c.values())
                .map(|media| resolve(&spec, &media["schema"]))
                .collect();
            assert!(
                !schemas.is_empty() && schemas.iter().all(|s| s.is_object() && *s != &json!({})),
                "{method} {path}: its success answer has no schema"
            );
        }
    }
    assert!(operations >= 25, "{operations} operations");
}

#[tokio::test]
async fn answers_carry_exactly_the_documented_fields() {
    let app = spawn_app().await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let fields = |name: &str| -> Vec<String> {
        let mut names: Vec<String> = spec["components"]["schemas"][name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} is not in the spec"))
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    let keys = |value: &Value| -> Vec<String> {
        let mut names: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    };
    let module = app.backup_db_module().await;
    let (_, version) = app
        .get_as(&format!("/api/v1/modules/{module}"), ANALYST)
        .await;
    assert_eq!(keys(&version), fields("ModuleVersionView"));
    let id = app
        .submit(&module, json!({"db_name": "orders", "backup_key": "k"}))
        .await;
    let execution = app.execution(&id).await;
    assert_eq!(keys(&execution), fields("ExecutionView"));
    let (_, me) = app.get_as("/api/v1/me", ADMIN).await;
    assert_eq!(keys(&me), fields("MeView"));
    let (_, scripts) = app.get_as("/api/v1/scripts", ADMIN).await;
    assert_eq!(keys(&scripts["items"][0]), fields("ScriptView"));
    let (_, audit) = app.get_as("/api/v1/audit?limit=1", ADMIN).await;
    assert_eq!(keys(&audit["items"][0]), fields("AuditEventView"));
}

#[tokio::test]
async fn start_up_seeds_admins_and_demo_users() {
    let mut env = test_env();
    env.set("ADMIN_EMAILS", "Boss@Example.com");
    env.set("SEED_USERS", "someone@example.com");
    let app = spawn_app_with(env).await;
    let db = &app.application_state.db;
    let boss = db
        .ensure_user(&Email::parse("boss@example.com").unwrap(), &[])
        .await
        .unwrap();
    assert_eq!(db.roles_of(boss).await.unwrap(), ["admin"]);
    let someone = db
        .ensure_user(&Email::parse("someone@example.com").unwrap(), &[])
        .await
        .unwrap();
    assert!(db.roles_of(someone).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_stacks_redis_refuses_a_client_without_its_password() {
    let env = crate::helpers::test_env();
    let url = env.raw("REDIS_URL").unwrap();
    let (_, address) = url.rsplit_once('@').expect("REDIS_URL carries a password");
    let anonymous = redis::Client::open(format!("redis://{address}")).unwrap();
    let mut connection = anonymous.get_multiplexed_async_connection().await.unwrap();
    let refused = redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("NOAUTH"), "{refused}");
    // With it, as the api and the worker connect.
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(pong, "PONG");
}
