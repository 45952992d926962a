//! STS AssumeRole for runs that name a role: the temporary credentials reach the
//! sandbox's environment and nothing else; a refused AssumeRole ends the run with its
//! own reason and STS's answer in the log.

use std::time::Duration;

use serde_json::{Value, json};

use sage_testkit::{
    ADMIN, TestApp, emulator, spawn_app, spawn_app_with, spawn_worker_with, test_env,
};

/// Prints its credentials (the log must redact them) and leaves them in an artifact,
/// which is the script's own doing and the one place they may be found afterwards.
const SHOWS_CREDENTIALS: &str = r#"
import json, os
keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
print("secret:", os.environ.get("AWS_SECRET_ACCESS_KEY"), flush=True)
print("token:", os.environ.get("AWS_SESSION_TOKEN"), flush=True)
os.makedirs("/work/out", exist_ok=True)
with open("/work/out/creds.json", "w") as f:
    json.dump({k: os.environ.get(k) for k in keys}, f)
"#;

/// A plain module (runner image, no network) whose runs name a role to assume.
async fn role_module(app: &TestApp) -> String {
    let library = std::path::PathBuf::from(app.env.raw("SCRIPTS_DIR").unwrap());
    std::fs::write(library.join("creds.py"), SHOWS_CREDENTIALS).unwrap();
    let (status, script) = app
        .post_as(
            "/api/v1/scripts",
            ADMIN,
            &json!({"path": "creds.py", "interpreter": "python3"}),
        )
        .await;
    assert_eq!(status, 201, "{script}");
    let (status, module) = app
        .post_as(
            "/api/v1/modules",
            ADMIN,
            &json!({
                "name": "role-user", "script_id": script["id"], "credentials": "aws_assume_role",
                "params": [
                    {"name": "iam_role_arn", "type": "string", "required": true},
                    {"name": "iam_session_duration", "type": "integer"},
                    {"name": "iam_external_id", "type": "secret", "secret_as": "env"},
                    {"name": "aws_profile", "type": "string"}],
            }),
        )
        .await;
    assert_eq!(status, 201, "{module}");
    module["id"].as_str().unwrap().to_owned()
}

async fn run(app: &TestApp, module: &str, params: Value) -> Value {
    let (status, execution) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            ADMIN,
            &json!({"params": params}),
        )
        .await;
    assert_eq!(status, 202, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, None, Duration::from_secs(60)).await
}

/// How many rows of any table of the database hold `needle`.
async fn rows_holding(app: &TestApp, needle: &str) -> Vec<String> {
    let url = app.env.raw("DATABASE_URL").unwrap().to_owned();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut holding = Vec::new();
    for table in tables {
        let found: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM \"{table}\" t WHERE t::text LIKE '%' || $1 || '%'"),
                &[&needle],
            )
            .await
            .unwrap()
            .get(0);
        if found > 0 {
            holding.push(table);
        }
    }
    holding
}

#[tokio::test]
async fn assumed_credentials_reach_the_sandbox_and_nothing_else() {
    let app = spawn_app().await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    let module = role_module(&app).await;
    let execution = run(
        &app,
        &module,
        json!({"iam_role_arn": emulator::ROLE_ARN, "iam_session_duration": 900,
               "iam_external_id": "tenant-42-external"}),
    )
    .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    let log = app.log_text(&id).await;
    assert_eq!(execution["status"], "succeeded", "{execution}\n{log}");

    let (_, artifacts) = app
        .get_as(&format!("/api/v1/executions/{id}/artifacts"), ADMIN)
        .await;
    let url = artifacts["items"][0]["url"].as_str().unwrap();
    let creds: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let key_id = creds["AWS_ACCESS_KEY_ID"].as_str().unwrap();
    let secret = creds["AWS_SECRET_ACCESS_KEY"].as_str().unwrap();
    let token = creds["AWS_SESSION_TOKEN"].as_str().unwrap();
    assert!(
        key_id.starts_with("ASIA"),
        "temporary keys from STS: {key_id}"
    );
    assert!(secret.len() >= 20 && token.len() >= 20);

    assert!(
        log.contains("secret: ***") && log.contains("token: ***"),
        "{log}"
    );
    let (_, shown) = app.get_as(&format!("/api/v1/executions/{id}"), ADMIN).await;
    let (_, audit) = app
        .get_as(&format!("/api/v1/audit?target_id={id}"), ADMIN)
        .await;
    for value in [key_id, secret, token, "tenant-42-external"] {
        assert!(!log.contains(value), "the log holds {value}");
        assert!(
            !shown.to_string().contains(value),
            "the execution holds {value}"
        );
        assert!(
            !audit.to_string().contains(value),
            "the audit holds {value}"
        );
        let rows = rows_holding(&app, value).await;
        assert!(rows.is_empty(), "{value} is stored in {rows:?}");
    }
    worker.stop().await;
}

#[tokio::test]
async fn a_refused_assume_role_ends_the_run_with_its_reason_and_stss_answer() {
    let app = spawn_app().await;
    // An STS that is not there: a port that was free a moment ago.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let worker = spawn_worker_with(&app, |env| {
        emulator::use_it(env);
        env.set("STS_ENDPOINT_URL", format!("http://{closed}"));
    })
    .await;
    let module = role_module(&app).await;
    let execution = run(&app, &module, json!({"iam_role_arn": emulator::ROLE_ARN})).await;
    let id = execution["id"].as_str().unwrap().to_owned();
    assert_eq!(execution["status"], "failed", "{execution}");
    assert_eq!(execution["reason"], "assume_role_failed");
    assert_eq!(execution["exit_code"], Value::Null);
    let log = app.log_text(&id).await;
    let session = format!("sage-oss-{}", &id.replace('-', "")[..8]);
    assert!(
        log.contains(&format!(
            "AssumeRole of {} (session {session}) failed",
            emulator::ROLE_ARN
        )),
        "{log}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_malformed_role_or_duration_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let module = role_module(&app).await;
    for (params, field) in [
        (
            json!({"iam_role_arn": "arn:aws:iam::123:role/x"}),
            "params.iam_role_arn",
        ),
        (
            json!({"iam_role_arn": "arn:aws:iam::123456789012:user/bob"}),
            "params.iam_role_arn",
        ),
        (
            json!({"iam_role_arn": emulator::ROLE_ARN, "iam_session_duration": 899}),
            "params.iam_session_duration",
        ),
        (
            json!({"iam_role_arn": emulator::ROLE_ARN, "iam_session_duration": 43201}),
            "params.iam_session_duration",
        ),
        (
            json!({"iam_role_arn": emulator::ROLE_ARN, "iam_external_id": "has space"}),
            "params.iam_external_id",
        ),
    ] {
        let before = app.audit_count().await;
        let (status, body) = app
            .post_as(
                &format!("/api/v1/modules/{module}/executions"),
                ADMIN,
                &json!({"params": params}),
            )
            .await;
        assert_eq!(status, 400, "{params}: {body}");
        let fields: Vec<&str> = body["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{body}");
        assert_eq!(app.audit_count().await, before, "a refusal changes nothing");
    }
}

/// Local development: a run names a profile of the worker's AWS config, which the
/// deployment lists, and that profile (not the worker's own identity) assumes the role.
#[tokio::test]
async fn a_listed_profile_of_the_workers_aws_config_assumes_the_role() {
    let mut env = test_env();
    env.set("AWS_PROFILES_ALLOWED", "sage-dev,absent");
    let app = spawn_app_with(env).await;
    let folder = std::env::temp_dir().join(format!("sage-aws-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    // The emulator takes any key; the profile's are its own.
    std::fs::write(
        folder.join("credentials"),
        "[sage-dev]\naws_access_key_id = AKIAPROFILE000000001\n\
         aws_secret_access_key = profile-secret-0000000000000000000000\n",
    )
    .unwrap();
    std::fs::write(folder.join("config"), "").unwrap();
    let worker = spawn_worker_with(&app, |env| {
        emulator::use_it(env);
        env.set(
            "AWS_SHARED_CREDENTIALS_FILE",
            folder.join("credentials").to_str().unwrap(),
        );
        env.set("AWS_CONFIG_FILE", folder.join("config").to_str().unwrap());
    })
    .await;
    let module = role_module(&app).await;

    // A profile the deployment does not list is refused at its field; nothing runs.
    let before = app.audit_count().await;
    let (status, body) = app
        .post_as(
            &format!("/api/v1/modules/{module}/executions"),
            ADMIN,
            &json!({"params": {"iam_role_arn": emulator::ROLE_ARN, "aws_profile": "prod"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["fields"][0]["field"], "params.aws_profile",
        "{body}"
    );
    assert!(body.to_string().contains("sage-dev, absent"), "{body}");
    assert_eq!(app.audit_count().await, before, "a refusal changes nothing");

    let execution = run(
        &app,
        &module,
        json!({"iam_role_arn": emulator::ROLE_ARN, "aws_profile": "sage-dev"}),
    )
    .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    assert_eq!(
        execution["status"],
        "succeeded",
        "{execution}\n{}",
        app.log_text(&id).await
    );

    // A listed profile the files lack fails the run: the profile is the identity, with
    // no fallback to another.
    let execution = run(
        &app,
        &module,
        json!({"iam_role_arn": emulator::ROLE_ARN, "aws_profile": "absent"}),
    )
    .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    assert_eq!(execution["reason"], "assume_role_failed", "{execution}");
    let log = app.log_text(&id).await;
    assert!(log.contains(", as profile absent) failed"), "{log}");
    worker.stop().await;
    std::fs::remove_dir_all(&folder).unwrap();
}
