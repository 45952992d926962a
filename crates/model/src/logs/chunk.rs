//! Log lines travel in chunks: the worker stores, publishes and the api streams a run
//! of consecutive lines as one piece, so the cost of a row, a message or a write is
//! shared by hundreds of lines. A chunk keeps every line's own `seq`, so resuming after
//! any line and dropping lines already sent stay exact.
//!
//! Its text is one JSON object per line (the [`LogLine`] that is an SSE event's
//! `data`), each ended by `\n`; the first is numbered `first_seq` and each next one
//! more. JSON escapes every newline inside a string, so a line of text is a line of the
//! log, and the api renders events without parsing them.

use std::fmt::Write as _;
use std::sync::Arc;

use super::LogLine;

/// Consecutive lines of one execution's log. Cheap to clone: the text is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    first_seq: i64,
    lines: i64,
    text: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("a log chunk must hold at least one line, each ended by a newline")]
    Malformed,
    #[error("a log chunk's first line must be numbered 1 or more")]
    BadSeq,
    #[error("a line of a log chunk is not a log line: {0}")]
    BadLine(String),
}

impl LogChunk {
    /// A chunk read back from storage or a message: `text` must be whole lines.
    pub fn from_parts(first_seq: i64, text: impl Into<Arc<str>>) -> Result<Self, ChunkError> {
        let text: Arc<str> = text.into();
        if first_seq < 1 {
            return Err(ChunkError::BadSeq);
        }
        if text.is_empty() || !text.ends_with('\n') {
            return Err(ChunkError::Malformed);
        }
        let lines = text.bytes().filter(|b| *b == b'\n').count();
        Ok(Self {
            first_seq,
            lines: i64::try_from(lines).map_err(|_| ChunkError::Malformed)?,
            text,
        })
    }

    pub fn first_seq(&self) -> i64 {
        self.first_seq
    }

    pub fn last_seq(&self) -> i64 {
        self.first_seq + self.lines - 1
    }

    /// How many lines it holds.
    pub fn len(&self) -> usize {
        usize::try_from(self.lines).unwrap_or(0)
    }

    /// Never true: a chunk holds one line at least.
    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The stored form: one JSON object per line.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Each line numbered, as the JSON the chunk holds.
    pub fn raw_lines(&self) -> impl Iterator<Item = (i64, &str)> {
        (self.first_seq..).zip(self.text.split_terminator('\n'))
    }

    /// The lines after `after` as Server-Sent Events (`id` the seq, `event: log`, `data`
    /// the line), ready to write; empty when the chunk holds none of them.
    pub fn events_after(&self, after: i64) -> String {
        let mut events = String::with_capacity(self.text.len() + self.len() * 32);
        for (seq, json) in self.raw_lines().filter(|(seq, _)| *seq > after) {
            // Writing to a String cannot fail.
            let _ = write!(events, "id: {seq}\nevent: log\ndata: {json}\n\n");
        }
        events
    }

    /// The lines, parsed.
    pub fn decode(&self) -> Result<Vec<LogLine>, ChunkError> {
        self.raw_lines()
            .map(|(seq, json)| {
                let line: LogLine =
                    serde_json::from_str(json).map_err(|e| ChunkError::BadLine(e.to_string()))?;
                if line.seq == seq {
                    Ok(line)
                } else {
                    Err(ChunkError::BadLine(format!(
                        "line {} where {seq} belongs",
                        line.seq
                    )))
                }
            })
            .collect()
    }
}

/// Collects consecutive lines into a chunk.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    first_seq: i64,
    lines: i64,
    text: String,
}

impl ChunkBuilder {
    /// Adds the next line; lines must come in order, without gaps.
    pub fn push(&mut self, line: &LogLine) {
        debug_assert!(self.lines == 0 || line.seq == self.first_seq + self.lines);
        if self.lines == 0 {
            self.first_seq = line.seq;
        }
        // A LogLine is strings, numbers and a timestamp: it always serialises.
        if let Ok(json) = serde_json::to_string(line) {
            self.text.push_str(&json);
            self.text.push('\n');
            self.lines += 1;
        }
    }

    /// Bytes held so far.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// The chunk of what was pushed since the last take; `None` when nothing was.
    pub fn take(&mut self) -> Option<LogChunk> {
        if self.lines == 0 {
            return None;
        }
        let text = std::mem::take(&mut self.text);
        let chunk = LogChunk {
            first_seq: self.first_seq,
            lines: self.lines,
            text: text.into(),
        };
        self.lines = 0;
        Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Stream;

    fn line(seq: i64, text: &str) -> LogLine {
        LogLine {
            seq,
            stream: Stream::Stdout,
            ts: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            line: text.to_owned(),
        }
    }

    fn chunk_of(first: i64, texts: &[&str]) -> LogChunk {
        let mut builder = ChunkBuilder::default();
        for (seq, text) in (first..).zip(texts) {
            builder.push(&line(seq, text));
        }
        builder.take().unwrap()
    }

    #[test]
    fn a_chunk_numbers_its_lines_and_reads_back_as_it_was_stored() {
        let chunk = chunk_of(41, &["one", "two\nwith a newline", "three"]);
        assert_eq!(
            (chunk.first_seq(), chunk.last_seq(), chunk.len()),
            (41, 43, 3)
        );
        let again = LogChunk::from_parts(41, chunk.text()).unwrap();
        assert_eq!(again, chunk);
        let lines = again.decode().unwrap();
        assert_eq!(lines[1], line(42, "two\nwith a newline"));
    }

    #[test]
    fn events_after_a_line_inside_the_chunk_start_with_the_next_one() {
        let chunk = chunk_of(10, &["a", "b", "c"]);
        let events = chunk.events_after(10);
        assert!(
            events.starts_with("id: 11\nevent: log\ndata: {\"seq\":11,"),
            "{events}"
        );
        assert_eq!(events.matches("event: log\n").count(), 2);
        assert_eq!(chunk.events_after(9).matches("event: log\n").count(), 3);
        assert_eq!(chunk.events_after(12), "");
    }

    #[test]
    fn a_builder_starts_a_new_chunk_after_each_take() {
        let mut builder = ChunkBuilder::default();
        assert!(builder.take().is_none());
        builder.push(&line(1, "x"));
        assert_eq!(builder.take().unwrap().last_seq(), 1);
        builder.push(&line(2, "y"));
        let second = builder.take().unwrap();
        assert_eq!((second.first_seq(), second.last_seq()), (2, 2));
        assert!(builder.is_empty());
    }

    #[test]
    fn malformed_chunks_are_refused() {
        assert_eq!(LogChunk::from_parts(1, ""), Err(ChunkError::Malformed));
        assert_eq!(LogChunk::from_parts(1, "{}"), Err(ChunkError::Malformed));
        assert_eq!(LogChunk::from_parts(0, "{}\n"), Err(ChunkError::BadSeq));
        let misnumbered = chunk_of(5, &["a"]);
        let moved = LogChunk::from_parts(6, misnumbered.text()).unwrap();
        assert!(matches!(moved.decode(), Err(ChunkError::BadLine(_))));
    }
}
