use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use sage_api::siem::{EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use serde_json::json;

use crate::helpers::{ADMIN, spawn_app_with, test_env};

const SECRET: &str = "siem-test-secret-0123456789";

#[derive(Default)]
struct Receiver {
    /// Requests to refuse before accepting, to exercise the retries.
    refuse_first: usize,
    seen: usize,
    accepted: Vec<(i64, bool)>,
}

/// A SIEM that is down for its first requests, then records each event id and whether
/// its signature verified.
async fn start_receiver(refuse_first: usize) -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver {
        refuse_first,
        ..Default::default()
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
                    let valid = header(SIGNATURE_HEADER) == sign(SECRET, timestamp, &body);
                    let id: i64 = header(EVENT_ID_HEADER).parse().unwrap_or(-1);
                    let mut receiver = shared.lock().unwrap();
                    receiver.seen += 1;
                    if receiver.seen <= receiver.refuse_first {
                        return HttpResponse::ServiceUnavailable().finish();
                    }
                    receiver.accepted.push((id, valid));
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
    (format!("http://127.0.0.1:{port}/hook"), state)
}

async fn wait_for_empty_outbox(app: &crate::helpers::TestApp, within: Duration) {
    let deadline = Instant::now() + within;
    while app
        .db()
        .execute_for_tests("SELECT 1 FROM siem_outbox")
        .await
        .unwrap()
        > 0
    {
        assert!(Instant::now() < deadline, "the SIEM outbox was not emptied");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn audit_events_reach_the_siem_once_each_in_order_despite_an_outage() {
    let (url, receiver) = start_receiver(2).await;
    let mut env = test_env();
    env.set("SIEM_WEBHOOK_URL", url);
    env.set("SIEM_WEBHOOK_SECRET", SECRET);
    let app = spawn_app_with(env).await;
    let script = app.register_backup_script().await;
    let module = crate::helpers::backup_module(&script);
    let (status, _) = app.post_as("/api/v1/modules", ADMIN, &module).await;
    assert_eq!(status, 201);

    wait_for_empty_outbox(&app, Duration::from_secs(30)).await;
    let (_, events) = app.get_as("/api/v1/audit?limit=500", ADMIN).await;
    let mut expected: Vec<i64> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    expected.sort_unstable();
    let receiver = receiver.lock().unwrap();
    let ids: Vec<i64> = receiver.accepted.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, expected, "every event once, oldest first");
    assert!(
        receiver.accepted.iter().all(|(_, valid)| *valid),
        "every signature verifies"
    );
    assert_eq!(
        receiver.seen,
        expected.len() + 2,
        "two refusals, then each event once"
    );
}

#[tokio::test]
async fn without_a_siem_the_outbox_does_not_grow() {
    let mut env = test_env();
    env.set("SIEM_WEBHOOK_URL", "");
    let app = spawn_app_with(env).await;
    app.register_backup_script().await;
    wait_for_empty_outbox(&app, Duration::from_secs(10)).await;
    let (_, verify) = app.get_as("/api/v1/audit/verify", ADMIN).await;
    assert_eq!(verify, json!({"ok": true, "checked": verify["checked"]}));
}
