//! The log path: a flood of lines through the pump, PostgreSQL, Redis and SSE, beside
//! the same script under plain `docker run` to /dev/null; and the delay of each line
//! from its write in the container to its arrival at an SSE client at a steady rate.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sage_testkit::{ANALYST, EventStream, ScriptModule, spawn_app};
use serde_json::json;

use crate::baseline::{docker_run, docker_run_delays};
use crate::processes;
use crate::stats::{Samples, header, row, seconds};

const FLOOD_LINES: u64 = 1_000_000;
/// 99 characters and a newline: lines of 100 bytes, each numbered.
const FLOOD: &str = r#"
import sys
n = int(sys.argv[1])
out = sys.stdout
for start in range(0, n, 1000):
    out.write("".join("%08d %s\n" % (i, "x" * 90) for i in range(start + 1, min(start + 1000, n) + 1)))
out.flush()
"#;

const STEADY_RATE: u64 = 1000;
const STEADY_SECONDS: u64 = 10;
/// One line per millisecond, each carrying the wall-clock time it was written at (the
/// container shares the host's clock).
const STEADY: &str = r#"
import sys, time
rate, seconds = int(sys.argv[1]), int(sys.argv[2])
start = time.monotonic()
for i in range(rate * seconds):
    pause = start + i / rate - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    print("%d %d" % (i + 1, time.time_ns()), flush=True)
"#;

pub async fn run() -> anyhow::Result<()> {
    let app = spawn_app().await;
    let image = app.env.raw("RUNNER_IMAGE").unwrap().to_owned();
    let limits = json!({"timeout_sec": 900, "memory_mb": 256, "cpus": 1.0, "pids": 32,
                        "max_output_bytes": 200_000_000});
    let flood = app
        .module_with(ScriptModule {
            code: FLOOD,
            args: json!([FLOOD_LINES.to_string()]),
            limits: limits.clone(),
            ..Default::default()
        })
        .await;
    let steady = app
        .module_with(ScriptModule {
            file: "steady.py",
            code: STEADY,
            args: json!([STEADY_RATE.to_string(), STEADY_SECONDS.to_string()]),
            limits,
            ..Default::default()
        })
        .await;

    let (app, api) = processes::api(&app).await;
    let worker = processes::worker(&app, 1);
    // A first run: the worker is ready once it ends.
    let id = app.submit(&steady_warmup(&app).await, json!({})).await;
    app.wait_for(&id, Some("succeeded"), Duration::from_secs(60))
        .await;

    let lines = FLOOD_LINES.to_string();
    let baseline = docker_run(&image, &["python3", "-c", FLOOD, &lines]).await;
    let started = Instant::now();
    let id = app.submit(&flood, json!({})).await;
    let mut stream = app.follow_logs(&id, ANALYST, None).await;
    let received = count_every_line(&mut stream, FLOOD_LINES).await;
    let flood_time = started.elapsed();

    let id = app.submit(&steady, json!({})).await;
    // The same lines as the worker publishes them, before the api streams them: where
    // the delay comes from.
    let published = tokio::spawn(published_delays(
        app.env.raw("REDIS_URL").unwrap().to_owned(),
        id.parse().unwrap(),
    ));
    let mut stream = app.follow_logs(&id, ANALYST, None).await;
    let delays = delays(&mut stream, STEADY_RATE * STEADY_SECONDS).await;
    let (read, published) = published.await.unwrap();
    // What the engine's own output stream costs, measured the same way.
    let (rate, steady_seconds) = (STEADY_RATE.to_string(), STEADY_SECONDS.to_string());
    let engine_delays =
        docker_run_delays(&image, &["python3", "-c", STEADY, &rate, &steady_seconds]).await;

    header(&format!(
        "logs: {FLOOD_LINES} lines of 100 bytes until the SSE client has the last one, \
         beside the same script under `docker run ... > /dev/null`"
    ));
    row(
        "time to the last line",
        seconds(flood_time),
        seconds(baseline),
        "s",
    );
    row(
        "lines per second",
        received as f64 / seconds(flood_time),
        FLOOD_LINES as f64 / seconds(baseline),
        "lines/s",
    );
    println!("  every line arrived once, in order: {received} of {FLOOD_LINES}");
    header(&format!(
        "logs: delay from a line's write in the container to its SSE arrival, \
         {STEADY_RATE} lines/s for {STEADY_SECONDS} s, beside its arrival from `docker run`"
    ));
    for (what, samples) in [
        ("delay", &delays),
        ("  to the worker's read", &read),
        ("  to its publish", &published),
    ] {
        for p in [50, 90, 99] {
            row(
                &format!("{what} p{p}"),
                seconds(samples.percentile(p)) * 1000.0,
                seconds(engine_delays.percentile(p)) * 1000.0,
                "ms",
            );
        }
    }
    processes::report_memory(&[&api, &worker]);
    worker.stop().await;
    api.stop().await;
    Ok(())
}

/// A module that prints one line, to see the worker take its first job.
async fn steady_warmup(app: &sage_testkit::TestApp) -> String {
    app.module_with(ScriptModule {
        file: "hello.py",
        code: "print('hello')\n",
        ..Default::default()
    })
    .await
}

/// Reads the stream to its end, checking each line is the next one (no loss, no
/// duplicate, in order); returns how many arrived.
async fn count_every_line(stream: &mut EventStream, expected: u64) -> u64 {
    let mut seen = 0;
    while let Some(event) = stream.next().await {
        if event.event == "end" {
            assert_eq!(event.data["status"], "succeeded", "{}", event.data);
            break;
        }
        seen += 1;
        assert_eq!(
            event.id,
            Some(seen as i64),
            "lines arrive once and in order"
        );
        let line = event.data["line"].as_str().unwrap();
        assert_eq!(line[..8].parse::<u64>().unwrap(), seen, "{line}");
    }
    assert_eq!(seen, expected, "every line arrived");
    seen
}

/// The delay of each line to the worker's read of it (the time it stamps on the line)
/// and to its publish on Redis (stored, then published): what reaches the run's channel
/// says both.
async fn published_delays(redis_url: String, id: sage_model::ExecutionId) -> (Samples, Samples) {
    use futures_util::StreamExt;
    let client = redis::Client::open(redis_url).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .subscribe(sage_infra::redis::log_channel(id))
        .await
        .unwrap();
    let mut messages = pubsub.on_message();
    let (mut read, mut published) = (Samples::default(), Samples::default());
    while let Some(message) = messages.next().await {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let payload: String = message.get_payload().unwrap();
        match sage_infra::redis::LiveLog::decode(&payload).unwrap() {
            sage_infra::redis::LiveLog::End => break,
            sage_infra::redis::LiveLog::Chunk(chunk) => {
                for line in chunk.decode().unwrap() {
                    if let Some((_, written)) = line.line.split_once(' ')
                        && let Ok(written) = written.parse::<u64>()
                    {
                        let written = Duration::from_nanos(written);
                        let stamped = Duration::from_nanos(
                            u64::try_from(line.ts.timestamp_nanos_opt().unwrap()).unwrap(),
                        );
                        read.push(stamped.saturating_sub(written));
                        published.push(now.saturating_sub(written));
                    }
                }
            }
        }
    }
    (read, published)
}

/// The delay of each line: its arrival time less the time written into it.
async fn delays(stream: &mut EventStream, expected: u64) -> Samples {
    let mut samples = Samples::default();
    let mut seen = 0;
    while let Some(event) = stream.next().await {
        if event.event == "end" {
            break;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let line = event.data["line"].as_str().unwrap();
        let (number, written) = line.split_once(' ').unwrap();
        seen += 1;
        assert_eq!(number.parse::<u64>().unwrap(), seen, "{line}");
        let written = Duration::from_nanos(written.parse().unwrap());
        samples.push(now.saturating_sub(written));
    }
    assert_eq!(seen, expected, "every line arrived");
    samples
}
