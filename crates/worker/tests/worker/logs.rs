//! Live logs end to end: the worker's pump stores and publishes redacted lines, the
//! api streams them as Server-Sent Events and serves the whole log as text.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use sage_testkit::{ANALYST, OTHER, ScriptModule, SseEvent, TestApp, spawn_app, spawn_worker};

const SECRET: &str = "hunter2-Secret/Value+?";

/// Prints numbered lines slowly enough to be followed live, and its secret in every
/// form the pump must redact.
const PRINTER: &str = r#"
import base64, os, sys, time, urllib.parse
key = os.environ["API_KEY"]
for i in range(1, 21):
    print("line %d" % i, flush=True)
    time.sleep(0.05)
print("plain", key, flush=True)
print("b64", base64.b64encode(key.encode()).decode(), flush=True)
print("hex", key.encode().hex(), flush=True)
print("url", urllib.parse.quote(key, safe=""), flush=True)
print("oops", key, file=sys.stderr, flush=True)
print("escape \x1b[2J done", flush=True)
"#;

/// Every stored line's text, out of its chunk.
const STORED_LINES: &str = "SELECT (l::json)->>'line' FROM execution_log_chunks c,
     regexp_split_to_table(rtrim(c.lines, E'\\n'), E'\\n') AS l";

fn forms() -> Vec<String> {
    vec![
        SECRET.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(SECRET),
        sage_model::hex(SECRET.as_bytes()),
        "hunter2-Secret%2FValue%2B%3F".to_owned(),
    ]
}

async fn printer(app: &TestApp) -> String {
    app.module_with(ScriptModule {
        code: PRINTER,
        params: json!([{"name": "api_key", "type": "secret", "required": true, "secret_as": "env"}]),
        env: json!({"API_KEY": "{api_key}"}),
        ..Default::default()
    })
    .await
}

/// Reads an event stream to its `end` event.
async fn read_events(app: &TestApp, id: &str, last_event_id: Option<i64>) -> Vec<SseEvent> {
    let mut stream = app.follow_logs(id, ANALYST, last_event_id).await;
    stream.until_end(Duration::from_secs(60)).await
}

#[tokio::test]
async fn a_live_stream_has_every_line_once_redacted_then_the_end() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let module = printer(&app).await;
    let id = app.submit(&module, json!({"api_key": SECRET})).await;
    let events = read_events(&app, &id, None).await;
    let (lines, end) = events.split_at(events.len() - 1);
    let seqs: Vec<i64> = lines.iter().map(|event| event.id.unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    assert_eq!(seqs.len(), 26);
    assert_eq!(end[0].data["status"], "succeeded");
    assert_eq!(end[0].data["exit_code"], 0);
    let texts: Vec<&str> = lines
        .iter()
        .map(|event| event.data["line"].as_str().unwrap())
        .collect();
    assert_eq!(texts[0], "line 1");
    assert!(
        texts.contains(&"plain ***") && texts.contains(&"b64 ***"),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"hex ***") && texts.contains(&"url ***"),
        "{texts:?}"
    );
    assert!(texts.contains(&"escape \u{241b}[2J done"), "{texts:?}");
    let stderr: Vec<&Value> = lines
        .iter()
        .map(|event| &event.data)
        .filter(|data| data["stream"] == "stderr")
        .collect();
    assert_eq!(stderr.len(), 1);
    assert_eq!(stderr[0]["line"], "oops ***");

    // Resuming after line 10 gives the rest exactly once.
    let rest = read_events(&app, &id, Some(10)).await;
    let seqs: Vec<i64> = rest.iter().filter_map(|event| event.id).collect();
    assert_eq!(seqs, (11..=26).collect::<Vec<_>>());

    let text = app
        .client
        .get(format!(
            "{}/api/v1/executions/{id}/logs?format=text",
            app.address
        ))
        .header("X-Demo-User", ANALYST)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("line 1\nline 2\n"), "{text}");
    assert_eq!(text.lines().count(), 26);
    for form in forms() {
        assert!(!text.contains(&form), "{form} leaked into the log");
        let stored = app.db().rows_as_text_for_tests(STORED_LINES).await.unwrap();
        assert!(!stored.iter().any(|l| l.contains(&form)), "{form} stored");
    }
    worker.stop().await;
}

#[tokio::test]
async fn logs_are_refused_to_who_may_not_see_them_and_bad_input_is_named() {
    let app = spawn_app().await;
    let module = app.module_with(ScriptModule::default()).await;
    let id = app.submit(&module, json!({})).await;
    let path = format!("/api/v1/executions/{id}/logs");
    let (status, _) = app.get_as(&path, OTHER).await;
    assert_eq!(status, 404);
    let (status, _) = app.get_as(&format!("{path}?format=text"), OTHER).await;
    assert_eq!(status, 404);
    let (status, body) = app.get_as(&format!("{path}?format=xml"), ANALYST).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["fields"][0]["field"], "format");
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .header("X-Demo-User", ANALYST)
        .header("Last-Event-ID", "-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "Last-Event-ID");
}

/// A secret with a quote, a backslash-worthy `!`, a single quote and a non-ASCII
/// letter, so every escaped form differs from the plain one.
const AWKWARD: &str = "Tr0ub4dor\"&3!'x\u{f6}Z9-long";

/// Prints the secret the ways real scripts do: inside longer base64 strings at every
/// alignment, JSON-escaped, lower-case percent-encoded and shell-quoted.
const ENCODER: &str = r##"
import base64, json, os, re, shlex, urllib.parse
key = os.environ["API_KEY"]
for prefix in ["", "a", "ab", "svc:"]:
    token = base64.b64encode((prefix + key + "@h").encode()).decode()
    print("Authorization: Basic", token, flush=True)
print("json", json.dumps({"key": key}), flush=True)
print("json-utf8", json.dumps({"key": key}, ensure_ascii=False), flush=True)
print("url", re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), urllib.parse.quote(key, safe="")), flush=True)
print("shell", shlex.quote(key), flush=True)
print("printf", "".join("\\" + c if c in " \t!\"#$&'()*;<>?[\\]^`{|}~" else c for c in key), flush=True)
"##;

#[tokio::test]
async fn secrets_printed_inside_longer_or_escaped_strings_are_masked() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let module = app
        .module_with(ScriptModule {
            code: ENCODER,
            params: json!([{"name": "api_key", "type": "secret", "required": true, "secret_as": "env"}]),
            env: json!({"API_KEY": "{api_key}"}),
            ..Default::default()
        })
        .await;
    let id = app.submit(&module, json!({"api_key": AWKWARD})).await;
    let events = read_events(&app, &id, None).await;
    let lines: Vec<String> = events
        .iter()
        .filter(|event| event.event == "log")
        .map(|event| event.data["line"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines.len(), 9, "{lines:?}");
    let stored = app.db().rows_as_text_for_tests(STORED_LINES).await.unwrap();
    let secret = AWKWARD.as_bytes();
    for line in lines.iter().chain(&stored) {
        assert!(line.contains("***"), "nothing masked in {line:?}");
        // No 6 bytes of the secret in a row, as printed or decoded from base64.
        let mut readable = vec![line.as_bytes().to_vec()];
        for word in line.split(' ') {
            for start in 0..4.min(word.len()) {
                let piece = &word[start..];
                let piece = &piece[..piece.len() - piece.len() % 4];
                let engine = &base64::engine::general_purpose::STANDARD_NO_PAD;
                readable.extend(engine.decode(piece.trim_end_matches('=')).ok());
            }
        }
        for text in readable {
            for window in secret.windows(6) {
                assert!(
                    !text.windows(6).any(|w| w == window),
                    "{:?} of the secret readable in {line:?}",
                    String::from_utf8_lossy(window)
                );
            }
        }
    }
    worker.stop().await;
}

/// A private key as a file holds it: lines, a trailing newline.
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n";

/// Prints a multi-line secret whole and line by line, then the SHA-256 of what its
/// environment variable and its file hold.
const KEY_PRINTER: &str = r#"
import hashlib, os
key = os.environ["KEY"]
print(key, flush=True)
for line in key.splitlines():
    print("line:", line, flush=True)
with open(os.environ["KEY_FILE"], "rb") as f:
    print("file", hashlib.sha256(f.read()).hexdigest(), flush=True)
print("env", hashlib.sha256(key.encode()).hexdigest(), flush=True)
"#;

#[tokio::test]
async fn a_multi_line_secret_arrives_byte_for_byte_and_no_line_of_it_is_shown() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let module = app
        .module_with(ScriptModule {
            code: KEY_PRINTER,
            params: json!([
                {"name": "key", "type": "secret", "required": true, "secret_as": "env"},
                {"name": "key_file", "type": "secret", "required": true, "secret_as": "file"}]),
            env: json!({"KEY": "{key}", "KEY_FILE": "{key_file}"}),
            ..Default::default()
        })
        .await;
    let id = app
        .submit(&module, json!({"key": PEM, "key_file": PEM}))
        .await;
    let events = read_events(&app, &id, None).await;
    let (lines, end) = events.split_at(events.len() - 1);
    assert_eq!(end[0].data["status"], "succeeded", "{events:?}");
    let texts: Vec<&str> = lines
        .iter()
        .map(|event| event.data["line"].as_str().unwrap())
        .collect();
    let sent: String = Sha256::digest(PEM.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    for place in ["env", "file"] {
        let line = format!("{place} {sent}");
        assert!(texts.contains(&line.as_str()), "{line} not in {texts:?}");
    }
    let stored = app.db().rows_as_text_for_tests(STORED_LINES).await.unwrap();
    for secret_line in PEM.lines().filter(|line| line.len() >= 12) {
        for shown in texts
            .iter()
            .copied()
            .chain(stored.iter().map(String::as_str))
        {
            assert!(
                !shown.contains(secret_line),
                "{secret_line:?} shown in {shown:?}"
            );
        }
    }
    worker.stop().await;
}

/// The first line reaches a viewer while the script still runs, not in a burst at the
/// end: the most repeated complaint about the log views of job runners.
#[tokio::test]
async fn a_line_reaches_the_viewer_while_the_script_still_runs() {
    let app = spawn_app().await;
    let worker = spawn_worker(&app).await;
    let module = app
        .module_with(ScriptModule {
            file: "pause.py",
            code: "import time\nprint('before', flush=True)\ntime.sleep(4)\nprint('after', flush=True)\n",
            ..Default::default()
        })
        .await;
    let id = app.submit(&module, json!({})).await;
    let mut stream = app.follow_logs(&id, ANALYST, None).await;
    let first = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("a first event")
        .expect("the stream stays open");
    let arrived = std::time::Instant::now();
    assert_eq!(first.data["line"], "before", "{:?}", first.data);
    let execution = app.execution(&id).await;
    assert_eq!(
        execution["status"], "running",
        "the run ended first: {execution}"
    );
    let rest = stream.until_end(Duration::from_secs(30)).await;
    assert_eq!(rest[0].data["line"], "after");
    assert!(
        arrived.elapsed() >= Duration::from_secs(3),
        "'before' came {:?} before the run's last line, not 4 s",
        arrived.elapsed()
    );
    worker.stop().await;
}
