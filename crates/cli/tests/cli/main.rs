//! `sage` driven as a user drives it, against the api and a worker of the test kit on
//! the real stack: its exit codes, its output, the api's refusals by field.

// Test helpers panic on purpose: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;
use std::time::Duration;

use sage_testkit::{
    ADMIN, ANALYST, ScriptModule, TestApp, backup_module, spawn_app, spawn_app_with, spawn_worker,
    tools_env,
};
use serde_json::{Value, json};

mod login;
mod scanners;

/// Runs `sage` against `app` as the analyst.
async fn sage(app: &TestApp, args: &[&str]) -> Output {
    sage_as(app, ANALYST, args).await
}

pub(crate) async fn sage_as(app: &TestApp, user: &str, args: &[&str]) -> Output {
    #[allow(
        clippy::disallowed_methods,
        reason = "the test runs the command line it tests"
    )]
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_sage"));
    let run = command
        .args(["--url", &app.address, "--demo-user", user])
        .args(args)
        .env_remove("SAGE_URL")
        .env_remove("SAGE_TOKEN")
        .output();
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("sage ends within two minutes")
        .expect("sage runs")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `sage` exited 100 (the api, or the issuer, refused) saying `said` on stderr.
#[track_caller]
pub(crate) fn assert_refused(output: &Output, said: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(100), "{stderr}");
    assert!(stderr.contains(said), "expected {said:?} in: {stderr}");
}

#[test]
fn the_contract_sage_is_built_from_is_the_apis() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let served = sage_api::http::openapi::document().unwrap();
    assert!(
        committed.trim_end() == served.trim_end(),
        "crates/cli/openapi.json is not the api's contract: \
         cargo run -p sage-api -- openapi > crates/cli/openapi.json, then fix what the build reports"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_run_prints_its_log_and_exits_as_it_ended() {
    let app = spawn_app().await;
    let _worker = spawn_worker(&app).await;
    app.backup_db_module().await;
    let key = tempfile_with("k3y-from-a-file\n");

    let done = sage(
        &app,
        &[
            "run",
            "backup-db",
            "-p",
            "db_name=orders",
            "-p",
            "retention_days=3",
            "-p",
            &format!("backup_key=@{}", key.display()),
            "--follow",
        ],
    )
    .await;
    let (out, err) = (text(&done.stdout), text(&done.stderr));
    assert_eq!(done.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("backup of orders complete"), "{out}");
    assert!(err.contains("ended succeeded"), "{err}");
    assert!(!out.contains("k3y-from-a-file") && !err.contains("k3y-from-a-file"));

    // The api's refusal, by field, and nothing submitted.
    let before = app.execution_count().await;
    let refused = sage(
        &app,
        &[
            "run",
            "backup-db",
            "-p",
            "db_name=nope",
            "-p",
            "backup_key=x",
            "-p",
            "retention_days=many",
        ],
    )
    .await;
    assert_refused(&refused, "sage: params.retention_days: must be integer");
    let refused = sage(
        &app,
        &[
            "run",
            "backup-db",
            "-p",
            "db_name=nope",
            "-p",
            "backup_key=x",
        ],
    )
    .await;
    assert_refused(&refused, "sage: params.db_name: must be one of");
    assert_eq!(app.execution_count().await, before);

    // A script's own exit code is sage's.
    app.module_with(ScriptModule {
        code: "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\nsys.exit(7)\n",
        ..Default::default()
    })
    .await;
    let (_, listed) = sage_json(&app, &["modules", "ls"]).await;
    let failing = listed
        .iter()
        .find(|m| m["name"].as_str().unwrap().starts_with("m-"))
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = sage(&app, &["run", &failing, "--follow"]).await;
    assert_eq!(failed.status.code(), Some(7), "{}", text(&failed.stderr));
    assert!(text(&failed.stdout).contains("to stdout"));
    assert!(text(&failed.stderr).contains("to stderr"));
    assert!(!text(&failed.stdout).contains("to stderr"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_comes_from_standard_input_or_the_terminal_never_the_command_line() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let _worker = spawn_worker(&app).await;
    app.backup_db_module().await;
    let base = [
        "--url",
        app.address.as_str(),
        "--demo-user",
        ANALYST,
        "run",
        "backup-db",
        "-p",
        "db_name=orders",
    ];
    #[allow(
        clippy::disallowed_methods,
        reason = "the test runs the command line it tests"
    )]
    let command = |program: &str| {
        let mut command = tokio::process::Command::new(program);
        command
            .env_remove("SAGE_URL")
            .env_remove("SAGE_TOKEN")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    };

    // Piped in: `name=@-`.
    let mut piped = command(env!("CARGO_BIN_EXE_sage"))
        .args(base)
        .args(["-p", "backup_key=@-", "--follow"])
        .spawn()
        .unwrap();
    let mut stdin = piped.stdin.take().unwrap();
    stdin.write_all(b"k3y-from-stdin\n").await.unwrap();
    drop(stdin);
    let done = piped.wait_with_output().await.unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert!(
        !text(&done.stdout).contains("k3y-from-stdin")
            && !text(&done.stderr).contains("k3y-from-stdin")
    );

    // Typed on the command line: it runs, with a warning that never repeats the value.
    let inline = sage(
        &app,
        &[
            "run",
            "backup-db",
            "-p",
            "db_name=orders",
            "-p",
            "backup_key=k3y-inline",
        ],
    )
    .await;
    assert_eq!(inline.status.code(), Some(0), "{}", text(&inline.stderr));
    let warned = text(&inline.stderr);
    assert!(warned.contains("backup_key is a secret"), "{warned}");
    assert!(!warned.contains("k3y-inline"), "{warned}");

    // Left out at a terminal (a pseudo-terminal of util-linux's script): asked for,
    // typed after the prompt with echo off, and not shown.
    let line = format!("{} {} --follow", env!("CARGO_BIN_EXE_sage"), base.join(" "));
    let mut terminal = command("script")
        .args(["-qec", &line, "/dev/null"])
        .spawn()
        .unwrap();
    let mut screen = terminal.stdout.take().unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("backup_key (secret, not shown): ") {
        let mut chunk = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(30), screen.read(&mut chunk))
            .await
            .expect("the prompt within 30 s")
            .unwrap();
        assert!(
            n > 0,
            "sage ended without asking: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..n]);
    }
    // Typed a moment after the prompt, as a person does: the terminal turns echo off
    // just after printing it, and keys pressed before that would be echoed by the
    // terminal itself, whatever the program.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut stdin = terminal.stdin.take().unwrap();
    stdin.write_all(b"k3y-typed\n").await.unwrap();
    screen.read_to_end(&mut seen).await.unwrap();
    let status = terminal.wait().await.unwrap();
    let shown = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(shown.contains("backup of orders complete"), "{shown}");
    assert!(!shown.contains("k3y-typed"), "{shown}");
}

/// JSON lines: one object per line with the api's own field names.
async fn sage_json(app: &TestApp, args: &[&str]) -> (Output, Vec<Value>) {
    sage_json_as(app, ANALYST, args).await
}

pub(crate) async fn sage_json_as(app: &TestApp, user: &str, args: &[&str]) -> (Output, Vec<Value>) {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let output = sage_as(app, user, &all).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (output, lines)
}

#[tokio::test]
async fn modules_and_runs_are_listed_as_tables_or_json_lines() {
    let app = spawn_app().await;
    let module = app.backup_db_module().await;
    let (_, modules) = sage_json(&app, &["modules", "ls"]).await;
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0]["name"], "backup-db");
    assert_eq!(modules[0]["id"], module.as_str());
    let table = sage(&app, &["modules", "ls"]).await;
    let out = text(&table.stdout);
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("backup-db"), "{out}");
    let shown = sage(&app, &["modules", "show", "backup-db"]).await;
    assert!(
        text(&shown.stdout).contains("db_name"),
        "{}",
        text(&shown.stdout)
    );

    let run = sage(
        &app,
        &[
            "run",
            "backup-db",
            "-p",
            "db_name=orders",
            "-p",
            "backup_key=x",
        ],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let (_, runs) = sage_json(&app, &["runs", "ls"]).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "queued");
    assert_eq!(runs[0]["params"]["backup_key"], "***");
    let id = runs[0]["id"].as_str().unwrap();
    let cancelled = sage(&app, &["runs", "cancel", id]).await;
    assert_eq!(
        cancelled.status.code(),
        Some(0),
        "{}",
        text(&cancelled.stderr)
    );
    let (_, shown) = sage_json(&app, &["runs", "show", id]).await;
    assert_eq!(shown[0]["status"], "cancelled");
    let missing = sage(&app, &["runs", "show", &uuid::Uuid::new_v4().to_string()]).await;
    assert_eq!(missing.status.code(), Some(100));
    let away = sage(
        &TestApp {
            address: "http://127.0.0.1:9".to_owned(),
            ..app.clone()
        },
        &["runs", "ls"],
    )
    .await;
    assert_eq!(away.status.code(), Some(101), "{}", text(&away.stderr));

    // Every queued run of the module (there is no worker), in one request.
    let key = tempfile_with("k");
    for _ in 0..2 {
        let args = [
            "run",
            "backup-db",
            "-p",
            "db_name=orders",
            "-p",
            &format!("backup_key=@{}", key.display()),
        ];
        assert_eq!(sage(&app, &args).await.status.code(), Some(0));
    }
    let all = sage(&app, &["runs", "cancel", "--all", "--module", "backup-db"]).await;
    assert_eq!(all.status.code(), Some(0), "{}", text(&all.stderr));
    assert!(
        text(&all.stderr).contains("sage: 2 runs cancelled (0 of them were running)"),
        "{}",
        text(&all.stderr)
    );
    let neither = sage(&app, &["runs", "cancel"]).await;
    assert_eq!(neither.status.code(), Some(2), "an id or --all");
}

const APPROVER: &str = "approver@example.com";

/// An approval walk: the run waits, its requester may not approve it, an approver does
/// (with a comment), the run ends, and its artifact comes down checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_walk_then_the_artifact_checked_on_download() {
    let app = spawn_app().await;
    let _worker = spawn_worker(&app).await;
    let script = app.register_backup_script().await;
    let mut definition = backup_module(&script);
    definition["name"] = json!("gated-backup");
    definition["approval"]["required"] = json!(1);
    let (status, module) = app.post_as("/api/v1/modules", ADMIN, &definition).await;
    assert_eq!(status, 201, "{module}");
    app.user_with(APPROVER, &["approver"], &[]).await;
    app.assign(
        module["id"].as_str().unwrap(),
        json!([{"user": ANALYST, "permissions": ["run", "view"]},
               {"user": APPROVER, "permissions": ["view"]}]),
    )
    .await;

    let (_, submitted) = sage_json(
        &app,
        &[
            "run",
            "gated-backup",
            "-p",
            "db_name=orders",
            "-p",
            "backup_key=k3y-for-the-approval-walk",
        ],
    )
    .await;
    assert_eq!(submitted[0]["status"], "awaiting_approval");
    let id = submitted[0]["id"].as_str().unwrap().to_owned();
    let own = sage(&app, &["approve", &id, "-m", "mine"]).await;
    assert_eq!(own.status.code(), Some(100), "{}", text(&own.stderr));
    let approved = sage_as(&app, APPROVER, &["approve", &id, "-m", "ticket OPS-42"]).await;
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}",
        text(&approved.stderr)
    );
    let followed = sage(&app, &["logs", &id, "--follow"]).await;
    assert_eq!(
        followed.status.code(),
        Some(0),
        "{}",
        text(&followed.stderr)
    );
    let (_, shown) = sage_json(&app, &["runs", "show", &id]).await;
    assert_eq!(shown[0]["approvals"][0]["comment"], "ticket OPS-42");

    let dir = tempfile_with("").with_extension("d");
    let got = sage(
        &app,
        &["artifacts", "get", &id, "-o", dir.to_str().unwrap()],
    )
    .await;
    assert_eq!(got.status.code(), Some(0), "{}", text(&got.stderr));
    assert!(
        text(&got.stderr).contains("sha256 checked"),
        "{}",
        text(&got.stderr)
    );
    let kept = std::fs::read_to_string(dir.join("backup.log")).unwrap();
    assert!(kept.contains("orders"), "{kept}");
    let (_, listed) = sage_json(&app, &["artifacts", "ls", &id]).await;
    assert_eq!(listed[0]["name"], "backup.log");
    let missing = sage(&app, &["artifacts", "get", &id, "nothing.txt"]).await;
    assert_eq!(missing.status.code(), Some(100));
}

#[tokio::test]
async fn completions_and_a_manual_page_come_from_the_commands_definition() {
    let app = spawn_app().await;
    let bash = sage(&app, &["completions", "bash"]).await;
    assert!(
        text(&bash.stdout).contains("sage__subcmd__artifacts__subcmd__get"),
        "{}",
        text(&bash.stdout)
    );
    let man = sage(&app, &["man"]).await;
    assert!(
        text(&man.stdout).contains(".TH sage 1"),
        "{}",
        &text(&man.stdout)[..80]
    );
    assert!(text(&man.stdout).contains("sage"));
    let help = sage(&app, &["run", "--help"]).await;
    assert!(text(&help.stdout).contains("Example: sage run backup-db"));
}

/// Tools, findings and the audit trail, read as each role may.
#[tokio::test]
async fn tools_findings_and_the_audit_trail_are_read_and_verified() {
    let app = spawn_app_with(tools_env()).await;
    app.backup_db_module().await;
    let (_, tools) = sage_json(&app, &["tools", "ls"]).await;
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["prowler", "scout", "steampipe", "custodian"]);

    let (_, findings) = sage_json(&app, &["findings", "ls", "--tool", "prowler"]).await;
    assert!(findings.is_empty());
    let refused = sage(&app, &["findings", "ls", "--severity", "grave"]).await;
    assert_refused(&refused, "sage: severity:");

    let verified = sage_as(&app, ADMIN, &["audit", "verify"]).await;
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stderr)
    );
    assert!(text(&verified.stdout).contains("the audit trail verifies"));
    let (_, events) = sage_json_as(
        &app,
        ADMIN,
        &["audit", "ls", "--action", "module.create", "--actor", ADMIN],
    )
    .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"], ADMIN);
    let denied = sage(&app, &["audit", "ls"]).await;
    assert_eq!(denied.status.code(), Some(100), "{}", text(&denied.stderr));
}

/// A proxy to the api that cuts its first connection after `cut_after` bytes of the
/// answer; later connections pass whole. Returns its address.
async fn cutting_proxy(api: &str, cut_after: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = api.trim_start_matches("http://").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut client, _)) = listener.accept().await {
            let limit = if first { Some(cut_after) } else { None };
            first = false;
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let up = tokio::io::copy(&mut client_read, &mut server_write);
                let down = async {
                    let mut sent = 0usize;
                    let mut buffer = vec![0u8; 1024];
                    loop {
                        let n = server_read.read(&mut buffer).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        let n = limit.map_or(n, |limit| n.min(limit.saturating_sub(sent)));
                        if n == 0 || client_write.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                        sent += n;
                    }
                };
                tokio::select! {
                    _ = up => {}
                    () = down => {}
                }
            });
        }
    });
    address
}

/// A log followed through a connection cut midway: `sage` says it reconnects, and
/// prints every line once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_log_stream_resumes_without_repeating_a_line() {
    let app = spawn_app().await;
    let _worker = spawn_worker(&app).await;
    let module = app
        .module_with(ScriptModule {
            code: "import time\nfor i in range(1, 201):\n    print(f'line {i}', flush=True)\n    time.sleep(0.005)\n",
            ..Default::default()
        })
        .await;
    let id = app.submit(&module, json!({})).await;
    app.wait_terminal(&id).await;
    let proxy = cutting_proxy(&app.address, 4000).await;
    let through = TestApp {
        address: proxy,
        ..app.clone()
    };
    let followed = sage(&through, &["logs", &id, "--follow"]).await;
    let (out, err) = (text(&followed.stdout), text(&followed.stderr));
    assert_eq!(followed.status.code(), Some(0), "{err}");
    assert!(
        err.contains("the log stream was cut; reconnecting"),
        "{err}"
    );
    let lines: Vec<&str> = out.lines().collect();
    let expected: Vec<String> = (1..=200).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, expected, "{err}");
}

pub(crate) fn tempfile_with(content: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("sage-cli-{}", uuid::Uuid::new_v4()));
    std::fs::write(&path, content).unwrap();
    path
}
