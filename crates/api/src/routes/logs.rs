//! An execution's log: Server-Sent Events that replay stored lines after
//! `Last-Event-ID` and then follow the live ones from Redis, or the whole log as text.
//!
//! Lines travel in chunks (see [`sage_model::logs::LogChunk`]): each stored or live
//! chunk goes out as one write of an event per line. The worker stores each chunk
//! before it publishes it, so subscribing first and then replaying from the database
//! leaves no gap; lines already sent are dropped by `seq`, also inside a chunk. Without
//! Redis the stream polls the database: lines arrive late, never lost.
//! Streams share what they can (see [`crate::background::live`]): a stream of a run awaiting
//! approval costs a keepalive every few seconds until it is decided on.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, routes, web};
use sage_infra::redis::LiveLog;
use sage_model::logs::{LogChunk, Stream};
use sage_model::{EndReason, ExecutionId, ExecutionStatus};
use sage_store::Db;
use sage_store::executions::Execution;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::background::live::{Following, Heard, StreamSlot};
use crate::http::error::{ApiError, FieldProblem};
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::state::AppState;

/// Chunks read at once: up to a few megabytes.
const PAGE: i64 = 32;
/// The comment an idle stream sends, so proxies keep it open and a gone client shows.
const KEEPALIVE: &[u8] = b": keepalive\n\n";
/// How often a stream of a waiting run makes sure its viewer may still see the run.
const VIEW_RECHECK: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_secs(1);
/// With a live feed, the status is still read every this many polls.
const FALLBACK_TICKS: u32 = 5;
/// How long a cancelled run's stream waits for its worker's last lines.
const CANCEL_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// `text` for the whole log as plain text; otherwise an event stream.
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/logs", tag = "executions",
    params(("id" = uuid::Uuid, Path, description = "The execution's id"),
           ("format" = Option<String>, Query, description = "`text` for the whole log as plain text")),
    responses((status = 200,
               description = "SSE (`event: log` per line, `id` its seq; `event: end` with the status), or the whole log as text with ?format=text",
               content((String = "text/event-stream"), (String = "text/plain"))),
              (status = 400, body = crate::http::error::ErrorBody), (status = 404)))]
#[routes]
#[get("/api/v1/executions/{id}/logs")]
#[get("/oss/api/runs/{id}/logs")]
pub async fn logs(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ExecutionId>,
    query: web::Query<LogQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let execution = Access::new(&state, &caller).execution(*id).await?;
    match query.format.as_deref() {
        Some("text") => Ok(text(state.db.clone(), execution.id)),
        None | Some("sse") => {
            let after = last_event_id(&request)?;
            let slot = state
                .live
                .slots
                .take(caller.user.id)
                .map_err(|full| ApiError::TooMany(full.to_string()))?;
            Ok(events(&state, caller, execution, after, slot))
        }
        Some(_) => Err(ApiError::invalid(vec![FieldProblem::new(
            "format",
            "must be `text` (or left out for an event stream)",
        )])),
    }
}

fn last_event_id(request: &HttpRequest) -> Result<i64, ApiError> {
    match request.headers().get("Last-Event-ID") {
        None => Ok(0),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| {
                ApiError::invalid(vec![FieldProblem::new(
                    "Last-Event-ID",
                    "must be the id (a whole number) of an event this stream sent",
                )])
            }),
    }
}

/// The whole log, streamed page by page so a large log is never held in memory.
fn text(db: Db, execution_id: ExecutionId) -> HttpResponse {
    let pages = futures_util::stream::unfold(Some(0i64), move |after| {
        let db = db.clone();
        async move {
            let after = after?;
            let unreadable = |error: &dyn std::fmt::Debug| {
                tracing::error!(?error, "log page unreadable");
                Some((
                    Err(actix_web::error::ErrorInternalServerError("log unreadable")),
                    None,
                ))
            };
            let chunks = match db.log_chunks(execution_id, after, PAGE).await {
                Ok(chunks) if chunks.is_empty() => return None,
                Ok(chunks) => chunks,
                Err(error) => return unreadable(&error),
            };
            match as_text(&chunks) {
                Ok((body, next)) => Some((Ok(Bytes::from(body)), Some(next))),
                Err(error) => unreadable(&error),
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .streaming(pages)
}

/// Chunks as lines of text, and the last seq they hold.
fn as_text(chunks: &[LogChunk]) -> Result<(String, i64), sage_model::logs::ChunkError> {
    let mut body = String::new();
    let mut last = 0;
    for chunk in chunks {
        for line in chunk.decode()? {
            // Plain text has no field to set the worker's notices apart.
            if line.stream == Stream::Sage {
                body.push_str("sage: ");
            }
            body.push_str(&line.line);
            body.push('\n');
        }
        last = chunk.last_seq();
    }
    Ok((body, last))
}

fn events(
    state: &AppState,
    viewer: Caller,
    execution: Execution,
    after: i64,
    slot: StreamSlot,
) -> HttpResponse {
    let (sender, receiver) = mpsc::channel::<Bytes>(256);
    let follower = Follower {
        state: state.clone(),
        viewer,
        execution_id: execution.id,
        last: after,
        sender,
        _slot: slot,
    };
    tokio::spawn(follower.run(execution.status));
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|bytes| (Ok::<_, actix_web::Error>(bytes), receiver))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Proxies such as nginx would otherwise hold events back.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// Follows one execution's log for one client. Ends when the client goes away (a send
/// fails) or after the `end` event.
struct Follower {
    /// Whoever follows the log must still be allowed to see it each time the stream
    /// reads the execution.
    state: AppState,
    viewer: Caller,
    execution_id: ExecutionId,
    /// The last seq sent.
    last: i64,
    sender: mpsc::Sender<Bytes>,
    /// Counts this stream against the caps until it ends.
    _slot: StreamSlot,
}

/// The client went away.
struct Gone;

/// Whether a replay sent every line stored so far.
enum Replayed {
    Everything,
    /// The database did not answer; what it holds beyond the last line sent waits.
    Partly,
}

/// How a wait for a decision on the run ended.
enum Waited {
    Visible,
    /// The viewer lost `view` meanwhile: the stream ends.
    Hidden,
}

/// The execution as the stream's viewer may see it now.
enum Seen {
    Visible(Box<Execution>),
    /// The viewer lost `view` (or it is gone): the stream ends.
    Hidden,
    /// The database did not answer: try again at the next tick.
    Unreadable,
}

impl Follower {
    async fn run(mut self, status: ExecutionStatus) {
        if let Err(Gone) = self.follow(status).await {
            tracing::debug!(execution_id = %self.execution_id, "log client went away");
        }
    }

    async fn follow(&mut self, status: ExecutionStatus) -> Result<(), Gone> {
        self.send(Bytes::from_static(b"retry: 2000\n\n")).await?;
        if let Waited::Hidden = self.until_decided(status).await? {
            return Ok(());
        }
        let mut live = self.state.live.feed.follow(self.execution_id).await;
        self.replay().await?;
        let mut poll = tokio::time::interval(POLL);
        let mut keepalive = self.keepalive_timer();
        let mut terminal_since: Option<tokio::time::Instant> = None;
        let mut worker_done = false;
        let mut ticks: u32 = 0;
        // The run may have ended before the subscription: its `end` was then missed, and
        // the first tick looks.
        let mut looked = false;
        loop {
            tokio::select! {
                heard = next_live(&mut live) => match heard {
                    Heard::Message(LiveLog::Chunk(chunk)) => {
                        if chunk.first_seq() <= self.last + 1 {
                            self.send_chunk(&chunk).await?;
                        } else {
                            // Lines missed (a dropped publish): the database has them.
                            // Sending this chunk past a gap the database could not fill
                            // now would lose the gap for good; a later replay brings it.
                            if let Replayed::Everything = self.replay().await? {
                                self.send_chunk(&chunk).await?;
                            }
                        }
                        continue;
                    }
                    Heard::Message(LiveLog::End) => worker_done = true,
                    Heard::Missed => {
                        self.replay().await?;
                        continue;
                    }
                    Heard::Lost => live = None,
                },
                _ = poll.tick() => {
                    ticks = ticks.wrapping_add(1);
                    if live.is_none() && ticks.is_multiple_of(FALLBACK_TICKS) {
                        live = self.state.live.feed.follow(self.execution_id).await;
                    }
                    // While the live feed works, the worker's `end` says when to look;
                    // the slow check covers an execution whose worker died.
                    let due = live.is_none()
                        || !looked
                        || terminal_since.is_some()
                        || ticks.is_multiple_of(FALLBACK_TICKS);
                    looked = true;
                    if !due {
                        continue;
                    }
                }
                _ = keepalive.tick() => {
                    self.send(Bytes::from_static(KEEPALIVE)).await?;
                    continue;
                }
                () = self.sender.closed() => return Err(Gone),
            }
            if live.is_none() {
                self.replay().await?;
            }
            let execution = match self.execution().await {
                Seen::Visible(execution) => execution,
                Seen::Unreadable => continue,
                Seen::Hidden => {
                    tracing::info!(execution_id = %self.execution_id, "the viewer may no longer see this execution; ending the stream");
                    return Ok(());
                }
            };
            if !execution.status.is_terminal() {
                continue;
            }
            let since = *terminal_since.get_or_insert_with(tokio::time::Instant::now);
            // A cancelled run ends before its worker stopped writing: give the worker a
            // moment to store its last lines, unless it already said it is done.
            let waiting_for_worker = execution.status == ExecutionStatus::Cancelled
                && !worker_done
                && live.is_some()
                && since.elapsed() < CANCEL_GRACE;
            if !waiting_for_worker {
                // The end goes out only after every stored line: when the database
                // does not answer now, the next tick tries again.
                if let Replayed::Partly = self.replay().await? {
                    continue;
                }
                let data = json!({
                    "status": execution.status,
                    "exit_code": execution.end.and_then(EndReason::exit_code),
                    "reason": execution.end.and_then(EndReason::as_str),
                });
                self.send(Bytes::from(format!("event: end\ndata: {data}\n\n")))
                    .await?;
                return Ok(());
            }
        }
    }

    /// Holds the stream while the run awaits approval, which may take a day: no Redis
    /// subscription, no polling of its own, only a look at whether the viewer may still
    /// see the run every [`VIEW_RECHECK`].
    async fn until_decided(&mut self, mut status: ExecutionStatus) -> Result<Waited, Gone> {
        let mut keepalive = self.keepalive_timer();
        while status == ExecutionStatus::AwaitingApproval {
            let started = self.state.live.waiting.until_decided(self.execution_id);
            tokio::pin!(started);
            let recheck = tokio::time::sleep(VIEW_RECHECK);
            tokio::pin!(recheck);
            loop {
                tokio::select! {
                    () = &mut started => break,
                    () = &mut recheck => break,
                    _ = keepalive.tick() => self.send(Bytes::from_static(KEEPALIVE)).await?,
                    () = self.sender.closed() => return Err(Gone),
                }
            }
            status = match self.execution().await {
                Seen::Visible(execution) => execution.status,
                Seen::Hidden => return Ok(Waited::Hidden),
                // The main loop reads it again.
                Seen::Unreadable => break,
            };
        }
        Ok(Waited::Visible)
    }

    /// Ticks when the stream has been idle a keep-alive period; the first tick is not
    /// at once.
    fn keepalive_timer(&self) -> tokio::time::Interval {
        let mut timer = tokio::time::interval(self.state.live.keepalive);
        timer.reset();
        timer
    }

    async fn execution(&self) -> Seen {
        match Access::new(&self.state, &self.viewer)
            .execution(self.execution_id)
            .await
        {
            Ok(execution) => Seen::Visible(Box::new(execution)),
            Err(ApiError::NotFound) => Seen::Hidden,
            Err(error) => {
                tracing::warn!(?error, "execution status unreadable");
                Seen::Unreadable
            }
        }
    }

    /// Sends every stored line after the last one sent.
    async fn replay(&mut self) -> Result<Replayed, Gone> {
        loop {
            let chunks = match self
                .state
                .db
                .log_chunks(self.execution_id, self.last, PAGE)
                .await
            {
                Ok(chunks) => chunks,
                Err(error) => {
                    tracing::warn!(?error, "stored log lines unreadable; retrying later");
                    return Ok(Replayed::Partly);
                }
            };
            let full = chunks.len() as i64 == PAGE;
            for chunk in &chunks {
                self.send_chunk(chunk).await?;
            }
            if !full {
                return Ok(Replayed::Everything);
            }
        }
    }

    /// Sends the chunk's lines after the last one sent, in one write. The caller makes
    /// sure no line is missing before the chunk's first.
    async fn send_chunk(&mut self, chunk: &LogChunk) -> Result<(), Gone> {
        if chunk.last_seq() <= self.last {
            return Ok(());
        }
        self.send(Bytes::from(chunk.events_after(self.last)))
            .await?;
        self.last = chunk.last_seq();
        Ok(())
    }

    async fn send(&self, bytes: Bytes) -> Result<(), Gone> {
        self.sender.send(bytes).await.map_err(|_| Gone)
    }
}

/// The next live message; pending forever without a feed (the poll takes over).
async fn next_live(live: &mut Option<Following>) -> Heard {
    match live {
        Some(following) => following.next().await,
        None => std::future::pending().await,
    }
}
