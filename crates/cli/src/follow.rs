//! A run's live log: its Server-Sent Events read as they come, stdout lines to stdout
//! and stderr lines to stderr, resumed after a dropped connection from the last line
//! seen (`Last-Event-ID`), so no line is printed twice or lost.

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use uuid::Uuid;

use crate::client::{Client, ClientError, refusal};

/// How a run ended, as its stream's `end` event says.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct End {
    pub status: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Line {
    seq: i64,
    stream: String,
    line: String,
}

const RETRIES: u32 = 8;

/// Prints the log of run `id` until it ends, and how it ended.
pub async fn follow(client: &Client, id: Uuid) -> Result<End, ClientError> {
    let mut last_seq: Option<i64> = None;
    let mut failures = 0u32;
    loop {
        match stream_once(client, id, &mut last_seq).await {
            Ok(Some(end)) => return Ok(end),
            Ok(None) | Err(ClientError::Unreachable { .. }) if failures < RETRIES => {
                failures += 1;
                let pause = Duration::from_millis(250 * 2u64.pow(failures.min(5)));
                eprintln!(
                    "sage: the log stream was cut; reconnecting in {:.1} s (attempt {failures} of {RETRIES})",
                    pause.as_secs_f64()
                );
                tokio::time::sleep(pause).await;
            }
            Ok(None) => {
                return Err(ClientError::Unreachable {
                    url: client.base().to_owned(),
                    why: "the log stream kept closing before the run ended".to_owned(),
                });
            }
            Err(error) => return Err(error),
        }
    }
}

/// One connection: `Some(end)` when the run's end came, `None` when the stream closed
/// before it.
async fn stream_once(
    client: &Client,
    id: Uuid,
    last_seq: &mut Option<i64>,
) -> Result<Option<End>, ClientError> {
    let mut request = client
        .request(Method::GET, &format!("/api/v1/executions/{id}/logs"))
        .header("Accept", "text/event-stream");
    if let Some(seq) = last_seq {
        request = request.header("Last-Event-ID", seq.to_string());
    }
    let response = request.send().await.map_err(|e| client.unreachable(&e))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.map_err(|e| client.unreachable(&e))?;
        return Err(refusal(status, &body));
    }
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return Ok(None);
        };
        buffer.extend_from_slice(&chunk);
        while let Some(at) = find_blank_line(&buffer) {
            let block: Vec<u8> = buffer.drain(..at + 2).collect();
            if let Some(end) = handle(&String::from_utf8_lossy(&block), last_seq) {
                return Ok(Some(end));
            }
        }
    }
    Ok(None)
}

fn find_blank_line(buffer: &[u8]) -> Option<usize> {
    buffer.windows(2).position(|w| w == b"\n\n")
}

/// Prints one event's line; returns the end when it is the `end` event.
fn handle(block: &str, last_seq: &mut Option<i64>) -> Option<End> {
    let (mut event, mut data) = ("message", String::new());
    for field in block.lines() {
        if let Some(value) = field.strip_prefix("event:") {
            event = value.trim();
        } else if let Some(value) = field.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    match event {
        "log" => {
            let line: Line = serde_json::from_str(&data).ok()?;
            if last_seq.is_some_and(|seen| line.seq <= seen) {
                return None;
            }
            *last_seq = Some(line.seq);
            // A closed pipe (`sage logs … | head`) stops nothing: the run goes on.
            let _ = if line.stream == "stderr" {
                writeln!(std::io::stderr(), "{}", line.line)
            } else {
                writeln!(std::io::stdout(), "{}", line.line)
            };
            None
        }
        "end" => serde_json::from_str(&data).ok(),
        _ => None,
    }
}
