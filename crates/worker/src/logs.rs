//! The log pump: a sandbox's output becomes numbered, redacted display lines, stored
//! in PostgreSQL in batches and then published on Redis for live viewers. A line is
//! published only after it is stored, so a viewer that replays from the database and
//! then follows Redis misses nothing. Memory stays bounded: the splitter holds at most
//! one line, and the queue to the writer is bounded (the sandbox's output waits).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use sage_infra::redis::{LiveLog, log_channel};
use sage_model::ExecutionId;
use sage_model::logs::LogLine;
use sage_model::logs::{LineSplitter, Redactor, Stream};
use sage_store::Db;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::sandbox::OutputSink;

/// Lines written in one statement at most.
const BATCH_LINES: usize = 512;
/// How long the first line of a batch waits for company.
const BATCH_WAIT: Duration = Duration::from_millis(20);
const QUEUE_LINES: usize = 4096;
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

/// Where live lines go besides the database.
#[derive(Clone)]
pub struct Publisher {
    pub redis: ConnectionManager,
}

impl Publisher {
    async fn publish(&self, channel: &str, messages: &[LiveLog]) {
        let mut pipe = redis::pipe();
        for message in messages {
            match serde_json::to_string(message) {
                Ok(json) => {
                    pipe.publish(channel, json).ignore();
                }
                Err(error) => tracing::error!(%error, "a log line does not serialize"),
            }
        }
        let mut connection = self.redis.clone();
        match tokio::time::timeout(PUBLISH_TIMEOUT, pipe.query_async::<()>(&mut connection)).await {
            Ok(Ok(())) => {}
            // Viewers still get these lines from the database, late.
            Ok(Err(error)) => tracing::debug!(%error, "live log lines not published"),
            Err(_) => tracing::debug!("live log lines not published in time"),
        }
    }

    /// Tells live viewers the execution's final status is stored.
    pub async fn end(&self, execution_id: ExecutionId) {
        self.publish(&log_channel(execution_id), &[LiveLog::End])
            .await;
    }
}

pub struct LogPump {
    stdout: LineSplitter,
    stderr: LineSplitter,
    notices: LineSplitter,
    redactor: Arc<Redactor>,
    next_seq: i64,
    sender: mpsc::Sender<LogLine>,
    writer: JoinHandle<()>,
}

impl LogPump {
    pub fn start(
        db: Db,
        publisher: Publisher,
        execution_id: ExecutionId,
        redactor: Redactor,
    ) -> Self {
        let redactor = Arc::new(redactor);
        let (sender, receiver) = mpsc::channel(QUEUE_LINES);
        let writer = tokio::spawn(write_batches(db, publisher, execution_id, receiver));
        Self {
            stdout: LineSplitter::new(redactor.clone()),
            stderr: LineSplitter::new(redactor.clone()),
            notices: LineSplitter::new(redactor.clone()),
            redactor,
            next_seq: 1,
            sender,
            writer,
        }
    }

    fn splitter(&mut self, stream: Stream) -> &mut LineSplitter {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
            Stream::Sage => &mut self.notices,
        }
    }

    async fn send_lines(&mut self, stream: Stream, lines: Vec<String>) {
        for line in lines {
            let line = LogLine {
                seq: self.next_seq,
                stream,
                ts: chrono::Utc::now(),
                line,
            };
            self.next_seq += 1;
            if self.sender.send(line).await.is_err() {
                tracing::error!("the log writer stopped; lines are lost");
            }
        }
    }

    /// The execution's secrets, for whatever else must not show them.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// A notice of the worker's own, redacted like the script's lines, in the `sage`
    /// stream.
    pub async fn notice(&mut self, text: &str) {
        self.write(Stream::Sage, format!("{text}\n").as_bytes())
            .await;
    }

    /// Emits the last unfinished lines and waits until every line is stored.
    pub async fn finish(mut self) {
        for stream in [Stream::Stdout, Stream::Stderr, Stream::Sage] {
            let mut lines = Vec::new();
            self.splitter(stream).finish(&mut lines);
            self.send_lines(stream, lines).await;
        }
        drop(self.sender);
        if let Err(error) = self.writer.await {
            tracing::error!(%error, "the log writer failed");
        }
    }
}

impl OutputSink for LogPump {
    async fn write(&mut self, stream: Stream, bytes: &[u8]) {
        let mut lines = Vec::new();
        self.splitter(stream).push(bytes, &mut lines);
        self.send_lines(stream, lines).await;
    }
}

async fn write_batches(
    db: Db,
    publisher: Publisher,
    execution_id: ExecutionId,
    mut receiver: mpsc::Receiver<LogLine>,
) {
    let channel = log_channel(execution_id);
    let mut batch = Vec::with_capacity(BATCH_LINES);
    while let Some(first) = receiver.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < BATCH_LINES {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(line)) => batch.push(line),
                Ok(None) | Err(_) => break,
            }
        }
        store(&db, execution_id, &batch).await;
        let messages: Vec<LiveLog> = batch.drain(..).map(LiveLog::Line).collect();
        publisher.publish(&channel, &messages).await;
    }
}

/// Stores a batch, retrying a few times: the database is the log's record.
async fn store(db: &Db, execution_id: ExecutionId, batch: &[LogLine]) {
    let mut pause = Duration::from_millis(100);
    for attempt in 1..=5 {
        match db.append_log_lines(execution_id, batch).await {
            Ok(()) => return,
            Err(error) if attempt < 5 => {
                tracing::warn!(?error, attempt, "could not store log lines; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(error) => {
                tracing::error!(
                    ?error,
                    lines = batch.len(),
                    "log lines lost: the database refused them"
                );
            }
        }
    }
}
