//! A webhook receiver on a random local port: down for its first requests, then
//! records each request with whether its signature verified.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use sage_api::background::webhook::{
    EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookVars, sign,
};
use sage_infra::config::Env;
use serde_json::Value;

use crate::test_env;

pub const SECRET: &str = "webhook-test-secret-0123456789";

#[derive(Debug, Clone)]
pub struct Received {
    pub id: i64,
    pub event: String,
    pub body: Value,
    pub signed: bool,
}

#[derive(Default)]
struct State {
    /// Requests to refuse before accepting, to exercise the retries.
    refuse_first: usize,
    seen: usize,
    accepted: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start(refuse_first: usize) -> Self {
        let state = Arc::new(Mutex::new(State {
            refuse_first,
            ..State::default()
        }));
        let shared = state.clone();
        let server = HttpServer::new(move || {
            let shared = shared.clone();
            App::new().route(
                "/hook",
                web::post().to(move |request: HttpRequest, body: web::Bytes| {
                    let shared = shared.clone();
                    async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let timestamp: i64 = header(TIMESTAMP_HEADER).parse().unwrap_or_default();
                        let received = Received {
                            id: header(EVENT_ID_HEADER).parse().unwrap_or(-1),
                            event: header(EVENT_HEADER),
                            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                            signed: header(SIGNATURE_HEADER) == sign(SECRET, timestamp, &body),
                        };
                        let mut state = shared.lock().unwrap();
                        state.seen += 1;
                        if state.seen <= state.refuse_first {
                            return HttpResponse::ServiceUnavailable().finish();
                        }
                        state.accepted.push(received);
                        HttpResponse::Ok().finish()
                    }
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
        }
    }

    /// The test environment with this receiver as the webhook of `vars`.
    pub fn env_for(&self, vars: WebhookVars) -> Env {
        let mut env = test_env();
        env.set(vars.url, self.url.clone());
        env.set(vars.secret, SECRET);
        env
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// Requests seen, refused ones included.
    pub fn seen(&self) -> usize {
        self.state.lock().unwrap().seen
    }

    /// Waits until `count` requests were accepted.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "{count} deliveries expected, got {accepted:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
