//! An OTLP/HTTP collector in the test process: it keeps every span exported to it as
//! JSON (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), so a test can follow one trace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One exported span: its ids (hex, as OTLP/JSON writes them) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedSpan {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a trace's root.
    pub parent_span_id: String,
    pub name: String,
}

pub struct SpanCollector {
    endpoint: String,
    spans: Arc<Mutex<Vec<ExportedSpan>>>,
}

impl SpanCollector {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                tokio::spawn(serve(connection, kept.clone()));
            }
        });
        Self { endpoint, spans }
    }

    /// The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The spans received once `done` holds for them (within 30 s).
    pub async fn spans_when(&self, done: impl Fn(&[ExportedSpan]) -> bool) -> Vec<ExportedSpan> {
        for _ in 0..300 {
            let spans = self.spans.lock().unwrap().clone();
            if done(&spans) {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let spans = self.spans.lock().unwrap().clone();
        panic!("the collector never received the spans expected; it has {spans:#?}");
    }
}

/// Answers each export request of one connection (the exporter keeps it alive).
async fn serve(connection: TcpStream, spans: Arc<Mutex<Vec<ExportedSpan>>>) {
    let mut reader = BufReader::new(connection);
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if let Ok(request) = serde_json::from_slice::<Value>(&body) {
            spans.lock().unwrap().extend(spans_of(&request));
        }
        let answer =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if reader.get_mut().write_all(answer).await.is_err() {
            return;
        }
    }
}

fn spans_of(request: &Value) -> Vec<ExportedSpan> {
    let field = |span: &Value, name: &str| span[name].as_str().unwrap_or_default().to_owned();
    let all = |value: &Value, name: &str| value[name].as_array().cloned().unwrap_or_default();
    all(request, "resourceSpans")
        .iter()
        .flat_map(|resource| all(resource, "scopeSpans"))
        .flat_map(|scope| all(&scope, "spans"))
        .map(|span| ExportedSpan {
            trace_id: field(&span, "traceId"),
            span_id: field(&span, "spanId"),
            parent_span_id: field(&span, "parentSpanId"),
            name: field(&span, "name"),
        })
        .collect()
}
