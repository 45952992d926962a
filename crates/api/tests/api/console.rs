//! The web console as the api serves it: its page, files and headers without a
//! browser, then the issue's five scenarios in Debian's Chromium (Playwright, in
//! `crates/console/app/e2e/`) against this api, a worker and the real services. The
//! browser tests need the console built (`just console`); they fail, saying so, when
//! it is not.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    ADMIN, ANALYST, ScriptModule, TestApp, backup_module, free_port, spawn_app, spawn_app_with,
    spawn_worker, test_env,
};

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../console/app")
}

pub(crate) fn built_bundle() -> PathBuf {
    let dist = app_dir().join("dist");
    assert!(
        dist.join("index.html").is_file(),
        "the console is not built in {}: run `just console`",
        dist.display()
    );
    dist
}

async fn get_html(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.address))
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_policy_and_cacheable_files() {
    built_bundle();
    let app = spawn_app().await;

    let page = get_html(&app, "/").await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(!policy.contains("http"), "no third-party origin: {policy}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script: {html}");
    let asset = html
        .split('"')
        .find(|part| part.starts_with("/assets/") && part.ends_with(".js"))
        .expect("the page names its script")
        .to_owned();

    let script = app.get(&asset).await;
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // A reload of a console route is the console; the API keeps its JSON answers.
    let deep = get_html(&app, "/executions/5d0c3a0e-8f7e-4c55-9a55-0d7d2a1e9d11").await;
    assert_eq!(deep.status(), 200);
    assert!(deep.text().await.unwrap().contains(&asset));
    let api = get_html(&app, "/api/v1/nothing-here").await;
    assert_eq!(api.status(), 404);
    assert!(api.text().await.unwrap().contains("\"error\""));
    assert_eq!(app.get("/assets/missing.js").await.status(), 404);
    assert_eq!(app.get("/assets/../Cargo.toml").await.status(), 404);
    // Without Accept: text/html an unknown path is the API's 404, not a page.
    assert_eq!(app.get("/executions/abc").await.status(), 404);

    // The reference renders from this origin too.
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    let policy = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src 'self';") && !policy.contains("http"),
        "{policy}"
    );
    let docs = docs.text().await.unwrap();
    assert!(
        docs.contains("/vendor/swagger-ui/swagger-ui-bundle.js"),
        "{docs}"
    );
    assert_eq!(
        app.get("/vendor/swagger-ui/swagger-ui-bundle.js")
            .await
            .status(),
        200
    );
    assert_eq!(app.get("/vendor/docs-init.js").await.status(), 200);
}

#[tokio::test]
async fn without_a_build_the_console_says_how_to_build_it() {
    let mut env = test_env();
    let empty = tempfile::tempdir().unwrap();
    env.set("CONSOLE_DIR", empty.path().to_string_lossy().into_owned());
    let app = spawn_app_with(env).await;

    for path in ["/", "/modules"] {
        let page = get_html(&app, path).await;
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(page.headers()["x-frame-options"], "DENY");
        assert!(page.text().await.unwrap().contains("just console"));
    }
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("/openapi.json"));
    assert_eq!(app.get("/assets/index.js").await.status(), 404);
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn the_sign_in_settings_tell_the_console_how_to_sign_in() {
    let mut env = test_env();
    env.set("SEED_USERS", ANALYST);
    let app = spawn_app_with(env).await;
    let answer: serde_json::Value = app.get("/api/v1/sign-in").await.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"mode": "demo_header", "demo_users": [
            {"email": ADMIN, "admin": true}, {"email": ANALYST, "admin": false}]})
    );
}

/// An api in demo mode with the demo users, a worker, and the sample modules.
struct Stage {
    app: TestApp,
    _worker: crate::helpers::TestWorker,
    backup_db: String,
}

async fn stage(tune: impl FnOnce(&mut sage_infra::config::Env)) -> Stage {
    built_bundle();
    let mut env = test_env();
    env.set("SEED_USERS", format!("{ANALYST},other-analyst@example.com"));
    tune(&mut env);
    let app = spawn_app_with(env).await;
    let worker = spawn_worker(&app).await;
    // Slower steps than the sample's, so a browser can watch the run while it runs.
    let library = PathBuf::from(app.env.raw("SCRIPTS_DIR").unwrap());
    let sample = std::fs::read_to_string(library.join("backup_db.py")).unwrap();
    let slow = sample.replace("time.sleep(0.1)", "time.sleep(1.5)");
    assert_ne!(slow, sample, "the sample script's pause moved");
    std::fs::write(library.join("backup_db.py"), slow).unwrap();
    let backup_db = app.backup_db_module().await;
    Stage {
        app,
        _worker: worker,
        backup_db,
    }
}

/// Runs one Playwright spec against `app`; its output is this test's output. The api
/// and the worker live on this test's runtime, so the wait must not block it.
#[expect(
    clippy::disallowed_methods,
    reason = "the browser tests are Node's Playwright, started as a process of their own"
)]
pub(crate) async fn playwright(app: &TestApp, spec: &str, vars: &[(&str, String)]) {
    let dir = app_dir();
    // Screenshots of a failure stay in the build's scratch space to be looked at.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("console-e2e")
        .join(spec);
    let output = tokio::process::Command::new("node")
        .arg("node_modules/@playwright/test/cli.js")
        .args(["test", &format!("e2e/{spec}")])
        .current_dir(&dir)
        .env("SAGE_URL", &app.address)
        .env("SAGE_E2E_OUT", &out)
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .expect("node runs Playwright (`just console` installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the browser test {spec} failed:\n{stdout}\n{stderr}"
    );
}

fn secret() -> String {
    format!("s3cr3t-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn browser_an_analyst_runs_backup_db_and_downloads_its_log() {
    let stage = Box::pin(stage(|_| {})).await;
    playwright(&stage.app, "run.spec.ts", &[("SAGE_SECRET", secret())]).await;
}

#[tokio::test]
async fn browser_an_approval_from_the_inbox_is_followed_without_reload() {
    let stage = Box::pin(stage(|_| {})).await;
    let script = stage.app.register_backup_script_again().await;
    let mut module = backup_module(&script);
    module["name"] = json!("backup-db-approved");
    module["approval"] = json!({"required": 1});
    let (status, created) = stage.app.post_as("/api/v1/modules", ADMIN, &module).await;
    assert_eq!(status, 201, "{created}");
    stage
        .app
        .assign(
            created["id"].as_str().unwrap(),
            json!([{"user": ANALYST, "permissions": ["run", "view"]}]),
        )
        .await;
    playwright(&stage.app, "approval.spec.ts", &[("SAGE_SECRET", secret())]).await;
}

#[tokio::test]
async fn browser_sign_in_through_a_real_openid_provider() {
    built_bundle();
    // The api must know its issuer before the provider (which must know the api's
    // address) runs.
    let idp_port = free_port();
    let mut env = test_env();
    env.set("AUTH_MODE", "oidc");
    env.set(
        "ASSUME_ROLE_ALLOWED",
        "arn:aws:iam::123456789012:role/SageScanner",
    );
    env.set("OIDC_ISSUER", format!("http://127.0.0.1:{idp_port}"));
    env.set("OIDC_JWKS_URL", format!("http://127.0.0.1:{idp_port}/jwks"));
    env.set("OIDC_AUDIENCE", "sage-runner");
    env.set("OIDC_ALLOW_HTTP", "true");
    env.set("OIDC_CLIENT_ID", "sage-console");
    env.set("OIDC_SCOPES", "openid email profile offline_access sage");
    env.set("OIDC_CONSOLE_ORIGINS", "http://127.0.0.2:9");
    let app = spawn_app_with(env).await;
    let answer: serde_json::Value = app.get("/api/v1/sign-in").await.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"mode": "oidc", "issuer": format!("http://127.0.0.1:{idp_port}"),
               "client_id": "sage-console", "cli_client_id": null,
               "scopes": "openid email profile offline_access sage"})
    );
    // The console may call the issuer, and nothing else beyond its own origin.
    let page = get_html(&app, "/").await;
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains(&format!(
            "connect-src 'self' http://127.0.0.1:{idp_port} http://127.0.0.2:9;"
        )),
        "{policy}"
    );
    playwright(
        &app,
        "oidc.spec.ts",
        &[("SAGE_IDP_PORT", idp_port.to_string())],
    )
    .await;
}

#[tokio::test]
async fn browser_every_page_in_korean() {
    let stage = Box::pin(stage(|_| {})).await;
    let execution = stage
        .app
        .submit(
            &stage.backup_db,
            json!({"db_name": "orders", "backup_key": secret()}),
        )
        .await;
    stage
        .app
        .wait_for(&execution, Some("succeeded"), Duration::from_secs(60))
        .await;
    playwright(
        &stage.app,
        "korean.spec.ts",
        &[
            ("SAGE_MODULE_ID", stage.backup_db.clone()),
            ("SAGE_EXECUTION_ID", execution),
        ],
    )
    .await;
}

#[tokio::test]
async fn browser_a_200000_line_log_follows_and_survives_a_reload() {
    let stage = Box::pin(stage(|_| {})).await;
    let module = stage
        .app
        .module_with(ScriptModule {
            file: "biglog.py",
            code: BIG_LOG,
            limits: json!({"timeout_sec": 300, "memory_mb": 128, "cpus": 1.0, "pids": 32,
                           "max_output_bytes": 16 * 1024 * 1024}),
            ..ScriptModule::default()
        })
        .await;
    let vars = [("SAGE_MODULE_ID", module.clone())];
    let browser = playwright(&stage.app, "biglog.spec.ts", &vars);
    // Whatever the browser saw, the stored log of the run it submitted must be whole.
    let outcome =
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(browser)).await;
    let (status, runs) = stage
        .app
        .get_as(&format!("/api/v1/executions?module_id={module}"), ADMIN)
        .await;
    assert_eq!(status, 200, "{runs}");
    let execution = runs["items"][0]["id"]
        .as_str()
        .expect("the browser submitted a run")
        .to_owned();
    let stored = stage
        .app
        .wait_for(&execution, Some("succeeded"), Duration::from_secs(120))
        .await;
    let text = stage.app.log_text(&execution).await;
    assert_eq!(text.lines().count(), 200_000, "stored lines; {stored}");
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure);
    }
}

/// 200,000 numbered lines in bursts, every thousandth on stderr, pausing 1 s after
/// each 20,000 so that the reload lands mid-run.
const BIG_LOG: &str = r#"import sys, time
for i in range(1, 200001):
    if i % 1000 == 0:
        sys.stdout.flush()
        sys.stderr.write("line %06d\n" % i)
        sys.stderr.flush()
    else:
        sys.stdout.write("line %06d\n" % i)
    if i % 20000 == 0:
        sys.stdout.flush()
        time.sleep(1.0)
"#;

/// The console's API types are generated from this api's own `/openapi.json`
/// (openapi-typescript, `src/api/schema.d.ts`): a change of the contract that the
/// console's copy does not follow fails here, not in a user's browser.
#[tokio::test]
async fn the_consoles_api_types_are_those_of_the_running_apis_document() {
    let app = spawn_app().await;
    let document = app.get("/openapi.json").await.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("openapi.json");
    std::fs::write(&input, document).unwrap();
    let fresh = std::env::temp_dir().join(format!("sage-schema-{}.d.ts", uuid::Uuid::new_v4()));
    #[allow(
        clippy::disallowed_methods,
        reason = "the generator is the console's npm tool"
    )]
    let output = std::process::Command::new(app_dir().join("node_modules/.bin/openapi-typescript"))
        .arg(&input)
        .arg("--output")
        .arg(&fresh)
        .current_dir(app_dir())
        .output()
        .expect("openapi-typescript runs (`just console` installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed = std::fs::read_to_string(app_dir().join("src/api/schema.d.ts")).unwrap();
    let generated = std::fs::read_to_string(&fresh).unwrap();
    assert!(
        committed == generated,
        "crates/console/app/src/api/schema.d.ts is not this api's contract: \
         cp {} crates/console/app/src/api/schema.d.ts, then fix what tsc reports",
        fresh.display()
    );
    std::fs::remove_file(&fresh).unwrap();
}
