//! Following an execution's log stream as a client does.

use std::time::Duration;

use serde_json::Value;

use crate::TestApp;

/// One Server-Sent Event: its `id` (the line's seq), its type and its JSON data.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<i64>,
    pub event: String,
    pub data: Value,
}

/// A client of an execution's event stream, read one event at a time as it arrives.
pub struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// Where the unread part of `buffer` starts: parsing moves this cursor and the
    /// buffer is compacted once per chunk, so a stream of a million small events does
    /// not shift the buffer once per event.
    read: usize,
}

impl EventStream {
    /// The next event with data (comments and keep-alives skipped); `None` once the
    /// server closed the stream.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            while let Some(block) = self.take_block() {
                if let Some(event) = parse_event(&block) {
                    return Some(event);
                }
            }
            self.buffer.drain(..self.read);
            self.read = 0;
            let chunk = self.response.chunk().await.expect("the stream reads")?;
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// Every event up to and including `end`, within `within`.
    pub async fn until_end(&mut self, within: Duration) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let event = tokio::time::timeout_at(deadline, self.next())
                .await
                .unwrap_or_else(|_| panic!("no end event within {within:?}: {events:?}"))
                .unwrap_or_else(|| panic!("the stream closed before its end: {events:?}"));
            let done = event.event == "end";
            events.push(event);
            if done {
                return events;
            }
        }
    }

    fn take_block(&mut self) -> Option<String> {
        let unread = &self.buffer[self.read..];
        let end = unread.windows(2).position(|pair| pair == b"\n\n")?;
        let block = String::from_utf8_lossy(&unread[..end]).into_owned();
        self.read += end + 2;
        Some(block)
    }
}

fn parse_event(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, String::from("message"), None);
    for field in block.lines() {
        if let Some(value) = field.strip_prefix("id: ") {
            id = Some(value.parse().expect("event ids are numbers"));
        } else if let Some(value) = field.strip_prefix("event: ") {
            event = value.to_owned();
        } else if let Some(value) = field.strip_prefix("data: ") {
            data = Some(serde_json::from_str(value).expect("event data is JSON"));
        }
    }
    Some(SseEvent {
        id,
        event,
        data: data?,
    })
}

impl TestApp {
    /// Opens the execution's event stream as `user`, resuming after `last_event_id`.
    pub async fn follow_logs(
        &self,
        id: &str,
        user: &str,
        last_event_id: Option<i64>,
    ) -> EventStream {
        let mut request = self
            .client
            .get(format!("{}/api/v1/executions/{id}/logs", self.address))
            .header("Accept", "text/event-stream")
            .header("X-Demo-User", user);
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last.to_string());
        }
        let response = request.send().await.expect("the api answers");
        assert_eq!(response.status(), 200);
        let content_type = &response.headers()["content-type"];
        assert_eq!(content_type.to_str().unwrap(), "text/event-stream");
        EventStream {
            response,
            buffer: Vec::new(),
            read: 0,
        }
    }
}
