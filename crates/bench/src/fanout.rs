//! Fan-out: one run printing 1,000 lines a second, watched by many viewers on one api
//! process (`FANOUT_VIEWERS`, default 1,000). Every viewer must get every line once and
//! in order; each line's delay from its write in the container to its arrival at a
//! viewer is set beside the same run watched by one viewer, in the same bench; and the
//! api's CPU time and memory per stream are printed. The viewers are this process's
//! tasks, on the same two cores as the api.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sage_testkit::{ANALYST, ScriptModule, TestApp, spawn_app_with, test_env};
use serde_json::json;

use crate::processes;
use crate::stats::{Samples, header_of, row, seconds};

const RATE: u64 = 1000;
const SECONDS: u64 = 10;
/// Waits before its first line, so every viewer is connected before it prints; then
/// one line per millisecond, each carrying the wall-clock time it was written at.
const STEADY: &str = r#"
import sys, time
rate, seconds, wait = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
time.sleep(wait)
start = time.monotonic()
for i in range(rate * seconds):
    pause = start + i / rate - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    print("%d %d" % (i + 1, time.time_ns()), flush=True)
"#;

pub async fn run() -> anyhow::Result<()> {
    #[allow(
        clippy::disallowed_methods,
        reason = "the bench's own knob, not a setting of the system measured"
    )]
    let viewers: usize = std::env::var("FANOUT_VIEWERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let mut env = test_env();
    env.set("LOG_STREAMS_PER_USER", (viewers + 10).to_string());
    env.set("LOG_STREAMS_PER_PROCESS", (viewers + 10).to_string());
    let app = spawn_app_with(env).await;
    // Long enough for a thousand viewers to connect first.
    let wait = 5.0 + viewers as f64 / 200.0;
    let steady = app
        .module_with(ScriptModule {
            file: "fanout.py",
            code: STEADY,
            args: json!([RATE.to_string(), SECONDS.to_string(), wait.to_string()]),
            limits: json!({"timeout_sec": 300, "memory_mb": 128, "cpus": 1.0, "pids": 32,
                           "max_output_bytes": 10_000_000}),
            ..Default::default()
        })
        .await;
    let (app, api) = processes::api(&app).await;
    let worker = processes::worker(&app, 1);
    let warmup = app.module_with(ScriptModule::default()).await;
    let id = app.submit(&warmup, json!({})).await;
    app.wait_for(&id, Some("succeeded"), Duration::from_secs(60))
        .await;

    let one = watch(&app, &steady, 1, &api).await;
    let (memory_before, cpu_before) = (api.memory_mib(), api.cpu_ms());
    let viewers_before = processes::cpu_ms_of("self");
    let many = watch(&app, &steady, viewers, &api).await;
    let cpu = api.cpu_ms() - cpu_before;
    let viewers_cpu = processes::cpu_ms_of("self") - viewers_before;

    header_of(
        &format!(
            "fanout: one run of {RATE} lines/s for {SECONDS} s, each line's delay from its \
             write in the container to a viewer, {viewers} viewers on one api process \
             beside one viewer"
        ),
        &format!("{viewers} viewers"),
        "1 viewer",
    );
    for p in [50, 90, 99] {
        row(
            &format!("delay p{p}"),
            seconds(many.delays.percentile(p)) * 1000.0,
            seconds(one.delays.percentile(p)) * 1000.0,
            "ms",
        );
    }
    let lines = RATE * SECONDS;
    println!(
        "  every line to every viewer, once and in order: {} viewers x {lines} lines",
        many.complete
    );
    println!(
        "  api CPU: {:.1} s in all, {:.2} ms per stream, {:.2} us per line per stream",
        cpu / 1000.0,
        cpu / viewers as f64,
        cpu * 1000.0 / (viewers as f64 * lines as f64)
    );
    println!(
        "  the viewers' own CPU (this process, on the same cores): {:.1} s",
        viewers_cpu / 1000.0
    );
    println!(
        "  api memory: {memory_before:.1} MiB before, {:.1} MiB with {viewers} streams \
         ({:.1} KiB per stream)",
        many.memory_mib,
        (many.memory_mib - memory_before) * 1024.0 / viewers as f64
    );
    processes::report_memory(&[&api, &worker]);
    worker.stop().await;
    api.stop().await;
    anyhow::ensure!(many.complete == viewers, "a viewer missed lines");
    Ok(())
}

/// Reads one stream to its end event: each line's delay, and whether every line came
/// once and in order. The events are read as text, not parsed as JSON: a thousand
/// viewers' parsing would otherwise take the cores the api needs, and the delay
/// measured would be the bench's own.
async fn read_lines(mut response: reqwest::Response) -> (Vec<Duration>, bool) {
    const LINE: &[u8] = b"\"line\":\"";
    let mut delays = Vec::with_capacity((RATE * SECONDS) as usize);
    let mut buffer: Vec<u8> = Vec::new();
    let mut seen = 0u64;
    let mut in_order = true;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            _ => break,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        buffer.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = find(&buffer[start..], b"\n\n") {
            let event = &buffer[start..start + end];
            start += end + 2;
            if find(event, b"event: end").is_some() {
                return (delays, in_order && seen == RATE * SECONDS);
            }
            let Some(at) = find(event, LINE) else {
                continue;
            };
            let text = &event[at + LINE.len()..];
            let text = &text[..find(text, b"\"").unwrap_or(text.len())];
            let text = std::str::from_utf8(text).unwrap_or_default();
            let (number, written) = text.split_once(' ').unwrap_or_default();
            seen += 1;
            in_order &= number.parse::<u64>().ok() == Some(seen);
            let written = Duration::from_nanos(written.parse().unwrap_or_default());
            delays.push(now.saturating_sub(written));
        }
        buffer.drain(..start);
    }
    (delays, false)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

struct Watched {
    delays: Samples,
    /// Viewers that got every line once, in order.
    complete: usize,
    /// The api's resident memory while the streams were open.
    memory_mib: f64,
}

/// Submits a run of `module`, connects `viewers` streams to it before its first line,
/// and reads each to its end.
async fn watch(app: &TestApp, module: &str, viewers: usize, api: &processes::Process) -> Watched {
    let id = app.submit(module, json!({})).await;
    let url = format!("{}/api/v1/executions/{id}/logs", app.address);
    let streams = futures_util::future::join_all((0..viewers).map(|_| {
        app.client
            .get(&url)
            .header("Accept", "text/event-stream")
            .header("X-Demo-User", ANALYST)
            .send()
    }))
    .await;
    let readers: Vec<_> = streams
        .into_iter()
        .map(|response| tokio::spawn(read_lines(response.expect("the api answers"))))
        .collect();
    // Halfway through the lines, the api holds every stream.
    tokio::time::sleep(Duration::from_secs_f64(
        5.0 + viewers as f64 / 200.0 + SECONDS as f64 / 2.0,
    ))
    .await;
    let memory_mib = api.memory_mib();
    let mut samples = Samples::default();
    let mut complete = 0;
    for reader in readers {
        let (delays, whole) = reader.await.unwrap_or_default();
        complete += usize::from(whole);
        for delay in delays {
            samples.push(delay);
        }
    }
    Watched {
        delays: samples,
        complete,
        memory_mib,
    }
}
