//! The log pump: a sandbox's output becomes numbered, redacted display lines, gathered
//! into chunks, stored in PostgreSQL and then published on Redis for live viewers. A
//! chunk is published only after it is stored, so a viewer that replays from the
//! database and then follows Redis misses nothing.
//!
//! A chunk closes when it is full or when its first line has waited [`MAX_WAIT`] or the
//! output paused for [`PAUSE`]: a flood shares each row and message among hundreds of
//! lines, a trickle is not held back. While one write is under way the next chunks
//! gather, and they go together in the next. Memory stays bounded: the splitter holds at
//! most one line, and the queues are bounded (the sandbox's output waits).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use sage_infra::redis::{LiveLog, log_channel};
use sage_model::ExecutionId;
use sage_model::logs::{ChunkBuilder, LineSplitter, LogChunk, LogLine, Redactor, Stream};
use sage_store::Db;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::metrics::LogCounters;
use crate::sandbox::OutputSink;

/// A chunk closes once it holds this much.
const CHUNK_BYTES: usize = 64 * 1024;
/// The longest a line waits in an open chunk.
const MAX_WAIT: Duration = Duration::from_millis(5);
/// A pause in the output this long closes the chunk.
const PAUSE: Duration = Duration::from_millis(2);
/// Pieces of output (each some lines) queued for the chunker.
const QUEUE_PIECES: usize = 256;
/// Closed chunks queued for the writer: about a megabyte.
const QUEUE_CHUNKS: usize = 16;
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
            pipe.publish(channel, message.encode()).ignore();
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
    counters: LogCounters,
    stdout: LineSplitter,
    stderr: LineSplitter,
    notices: LineSplitter,
    redactor: Arc<Redactor>,
    next_seq: i64,
    sender: mpsc::Sender<Vec<LogLine>>,
    chunker: JoinHandle<()>,
}

impl LogPump {
    pub fn start(
        db: Db,
        publisher: Publisher,
        counters: LogCounters,
        execution_id: ExecutionId,
        redactor: Redactor,
    ) -> Self {
        let redactor = Arc::new(redactor);
        let (sender, pieces) = mpsc::channel(QUEUE_PIECES);
        let (closed, chunks) = mpsc::channel(QUEUE_CHUNKS);
        let writer = tokio::spawn(write_chunks(db, publisher, execution_id, chunks));
        let chunker = tokio::spawn(gather(pieces, closed, writer));
        Self {
            counters,
            stdout: LineSplitter::new(redactor.clone()),
            stderr: LineSplitter::new(redactor.clone()),
            notices: LineSplitter::new(redactor.clone()),
            redactor,
            next_seq: 1,
            sender,
            chunker,
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
        if lines.is_empty() {
            return;
        }
        self.counters.count(stream, &lines);
        let ts = chrono::Utc::now();
        let numbered = lines
            .into_iter()
            .zip(self.next_seq..)
            .map(|(line, seq)| LogLine {
                seq,
                stream,
                ts,
                line,
            })
            .collect::<Vec<_>>();
        self.next_seq += numbered.len() as i64;
        if self.sender.send(numbered).await.is_err() {
            tracing::error!("the log writer stopped; lines are lost");
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
        if let Err(error) = self.chunker.await {
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

/// Gathers the pump's lines into chunks and hands each over to the writer when it
/// closes; returns once every line is stored (or given up on).
async fn gather(
    mut pieces: mpsc::Receiver<Vec<LogLine>>,
    closed: mpsc::Sender<LogChunk>,
    writer: JoinHandle<()>,
) {
    let mut chunk = ChunkBuilder::default();
    // When the open chunk's first line came, and the latest output.
    let mut opened: Option<Instant> = None;
    let mut latest = Instant::now();
    loop {
        let due = opened.map(|at| (at + MAX_WAIT).min(latest + PAUSE));
        let piece = match due {
            Some(at) => tokio::select! {
                piece = pieces.recv() => piece,
                () = tokio::time::sleep_until(at) => {
                    hand_over(&mut chunk, &closed).await;
                    opened = None;
                    continue;
                }
            },
            None => pieces.recv().await,
        };
        let Some(lines) = piece else { break };
        latest = Instant::now();
        for line in &lines {
            chunk.push(line);
            if chunk.bytes() >= CHUNK_BYTES {
                hand_over(&mut chunk, &closed).await;
                opened = None;
            }
        }
        if !chunk.is_empty() {
            opened.get_or_insert(latest);
        }
    }
    hand_over(&mut chunk, &closed).await;
    drop(closed);
    if let Err(error) = writer.await {
        tracing::error!(%error, "the log writer failed");
    }
}

async fn hand_over(chunk: &mut ChunkBuilder, closed: &mpsc::Sender<LogChunk>) {
    if let Some(chunk) = chunk.take()
        && closed.send(chunk).await.is_err()
    {
        tracing::error!("the log writer stopped; lines are lost");
    }
}

/// Stores closed chunks in order, each write taking every chunk that closed meanwhile,
/// and publishes them once stored.
async fn write_chunks(
    db: Db,
    publisher: Publisher,
    execution_id: ExecutionId,
    mut chunks: mpsc::Receiver<LogChunk>,
) {
    let channel = log_channel(execution_id);
    let mut batch = Vec::with_capacity(QUEUE_CHUNKS);
    while chunks.recv_many(&mut batch, QUEUE_CHUNKS).await > 0 {
        store(&db, execution_id, &batch).await;
        let messages: Vec<LiveLog> = batch.drain(..).map(LiveLog::Chunk).collect();
        publisher.publish(&channel, &messages).await;
    }
}

/// Stores chunks, retrying a few times: the database is the log's record.
async fn store(db: &Db, execution_id: ExecutionId, batch: &[LogChunk]) {
    let mut pause = Duration::from_millis(100);
    for attempt in 1..=5 {
        match db.append_log_chunks(execution_id, batch).await {
            Ok(()) => return,
            Err(error) if attempt < 5 => {
                tracing::warn!(?error, attempt, "could not store log lines; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Err(error) => {
                tracing::error!(
                    ?error,
                    lines = batch.iter().map(LogChunk::len).sum::<usize>(),
                    "log lines lost: the database refused them"
                );
            }
        }
    }
}
