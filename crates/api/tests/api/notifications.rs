//! Notification channels and rules: refusals by field, secrets never answered, and
//! messages received by a real mail server (STARTTLS, a login) and local webhook
//! receivers when runs end, wait for approval, find new findings, or an acceptance
//! nears its end.

use std::time::Duration;

use futures_util::stream;
use sage_model::ExecutionId;
use sage_model::execution::EndReason;
use sage_model::names::WorkerId;
use sage_model::tools::Tool;
use sage_store::finding_states::Coverage;
use sage_store::findings::{NewToolRun, StoredFinding};
use sage_store::runs::RunEnd;
use sage_testkit::mail::{MAIL_PASSWORD, MAIL_USER, MailServer};
use serde_json::{Value, json};

use crate::approvals::{module_of, waiting_run};
use crate::helpers::{ADMIN, ANALYST, TestApp, spawn_app_with, spawn_replica, tools_env};
use crate::receiver::{Receiver, SECRET};

const WAIT: Duration = Duration::from_secs(20);

async fn notifying_app() -> TestApp {
    // The tools' drivers too: one test stores a Prowler run.
    let mut env = tools_env();
    env.set("NOTIFY_HTTP_HOSTS", "127.0.0.1");
    env.set("NOTIFY_RETRY_MAX_SEC", "1");
    env.set("NOTIFY_MAX_ATTEMPTS", "3");
    env.set("PUBLIC_URL", "https://sage.example.com");
    spawn_app_with(env).await
}

async fn channel(app: &TestApp, body: Value) -> String {
    let (status, created) = app
        .post_as("/api/v1/notification-channels", ADMIN, &body)
        .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn rule(app: &TestApp, body: Value) -> Value {
    let (status, created) = app
        .post_as("/api/v1/notification-rules", ADMIN, &body)
        .await;
    assert_eq!(status, 201, "{created}");
    created
}

fn fields(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn channels_and_rules_refuse_each_bad_field_change_nothing_and_never_show_a_secret() {
    let app = notifying_app().await;
    let module = app.backup_db_module().await;
    let before = app.audit_count().await;
    let webhook = json!({"name": "siem", "kind": "webhook",
                         "url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef-hook"});

    let (status, _) = app
        .post_as("/api/v1/notification-channels", ANALYST, &webhook)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app.get_as("/api/v1/notification-rules", ANALYST).await;
    assert_eq!(status, 403);

    let refusals = [
        (
            json!({"name": "x", "kind": "webhook", "url": "http://example.com/h", "secret": "short"}),
            vec!["url", "secret"],
        ),
        (
            json!({"name": "x", "kind": "slack", "url": "https://169.254.169.254/latest"}),
            vec!["url"],
        ),
        (
            json!({"name": "x", "kind": "email", "smtp_host": "mail.example.com",
                   "smtp_tls": "none", "from": "sage@example.com", "to": ["soc@example.com"]}),
            vec!["smtp_tls"],
        ),
        (
            json!({"name": "x", "kind": "email", "smtp_host": "mail.example.com",
                   "password": "p", "from": "sage", "to": [], "url": "https://example.com"}),
            vec!["url", "username", "from", "to"],
        ),
        (json!({"name": "", "kind": "pager"}), vec!["name", "kind"]),
        (
            json!({"name": "x", "kind": "slack", "url": "https://hooks.example.com/a",
                   "secret": "0123456789abcdef"}),
            vec!["secret"],
        ),
        (
            json!({"name": "x", "kind": "slack", "colour": "red"}),
            vec!["colour"],
        ),
    ];
    for (body, expected) in refusals {
        let (status, answer) = app
            .post_as("/api/v1/notification-channels", ADMIN, &body)
            .await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(fields(&answer), expected, "{body} → {answer}");
    }

    // Secrets go in and never come out: the webhook's key, the Slack URL's token.
    let hook = channel(&app, webhook.clone()).await;
    let slack = channel(
        &app,
        json!({"name": "chat", "kind": "slack",
               "url": "https://hooks.example.com/services/T000/B000/XXXXtoken"}),
    )
    .await;
    let (_, listed) = app.get_as("/api/v1/notification-channels", ADMIN).await;
    let text = listed.to_string();
    assert!(
        !text.contains("0123456789abcdef-hook") && !text.contains("XXXXtoken"),
        "{text}"
    );
    assert_eq!(
        listed["items"][0]["config"],
        json!({"host": "hooks.example.com"})
    );
    let (status, _) = app
        .post_as("/api/v1/notification-channels", ADMIN, &webhook)
        .await;
    assert_eq!(status, 409, "a second channel of one name");

    let after_channels = app.audit_count().await;
    let rule_refusals = [
        (
            json!({"name": "r", "channel_id": hook, "event": "run.ended"}),
            vec!["event"],
        ),
        (
            json!({"name": "r", "channel_id": uuid::Uuid::new_v4(), "event": "run.finished",
                   "module_id": uuid::Uuid::new_v4(), "min_severity": "high"}),
            vec!["channel_id", "module_id", "min_severity"],
        ),
        (
            json!({"name": "r", "channel_id": hook, "event": "run.finished",
                   "statuses": ["running"], "days_before": 3}),
            vec!["days_before", "statuses[0]"],
        ),
        (
            json!({"name": "r", "channel_id": hook, "event": "findings.new",
                   "min_severity": "grave", "tool": "nmap"}),
            vec!["tool", "min_severity"],
        ),
        (
            json!({"name": "r", "channel_id": hook, "event": "acceptance.expiring",
                   "days_before": 400}),
            vec!["days_before"],
        ),
        (
            json!({"name": "r", "channel_id": hook, "event": "scan.finished", "version": 1}),
            vec!["version"],
        ),
    ];
    for (body, expected) in rule_refusals {
        let (status, answer) = app
            .post_as("/api/v1/notification-rules", ADMIN, &body)
            .await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(fields(&answer), expected, "{body} → {answer}");
    }
    assert_eq!(
        app.audit_count().await,
        after_channels,
        "refusals audit nothing"
    );
    assert_eq!(after_channels, before + 2, "two channels, nothing else");

    // An edit names the version read; a channel a rule sends to stays.
    let created = rule(
        &app,
        json!({"name": "ends", "channel_id": hook, "event": "run.finished",
               "module_id": module, "statuses": ["failed"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let edit = json!({"name": "ends", "channel_id": slack, "event": "run.finished",
                      "statuses": ["failed", "timed_out"], "version": 1});
    let (status, edited) = app
        .put_as(&format!("/api/v1/notification-rules/{id}"), ADMIN, &edit)
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["version"], 2);
    let (status, _) = app
        .put_as(&format!("/api/v1/notification-rules/{id}"), ADMIN, &edit)
        .await;
    assert_eq!(status, 409, "a stale version");
    let (status, refused) = app
        .delete_as(&format!("/api/v1/notification-channels/{slack}"), ADMIN)
        .await;
    assert_eq!(status, 409);
    assert!(refused.to_string().contains("ends"), "{refused}");
    let (status, _) = app
        .delete_as(&format!("/api/v1/notification-channels/{hook}"), ADMIN)
        .await;
    assert_eq!(status, 200, "no rule sends to it any more");
}

/// A Slack message when a run is cancelled (the receiver refuses the first attempt),
/// a mail over STARTTLS with a login when a run waits for approval, and a signed
/// webhook for every run's end.
#[tokio::test]
async fn a_slack_message_a_mail_and_a_signed_webhook_are_received() {
    let app = notifying_app().await;
    // Two replicas match the trail and send: each message still goes once.
    let _replica = spawn_replica(&app).await;
    let mail = MailServer::start();
    let slack = Receiver::start(1).await;
    let hook = Receiver::start(0).await;
    let backup = app.backup_db_module().await;
    let gated = module_of(&app, &app.register_backup_script_again().await, 1).await;

    let chat = channel(
        &app,
        json!({"name": "chat", "kind": "slack", "url": slack.url}),
    )
    .await;
    let mailbox = channel(
        &app,
        json!({"name": "approvers' mail", "kind": "email", "smtp_host": "127.0.0.1",
               "smtp_port": mail.port, "smtp_tls": "starttls", "username": MAIL_USER,
               "password": MAIL_PASSWORD, "from": "sage@example.com",
               "to": ["approvers@example.com", "soc@example.com"],
               "ca_certificate": mail.ca_pem}),
    )
    .await;
    let siem = channel(
        &app,
        json!({"name": "siem", "kind": "webhook", "url": hook.url, "secret": SECRET}),
    )
    .await;
    rule(
        &app,
        json!({"name": "cancelled backups", "channel_id": chat, "event": "run.finished",
               "module_id": backup, "statuses": ["cancelled"]}),
    )
    .await;
    rule(
        &app,
        json!({"name": "to approve", "channel_id": mailbox, "event": "approval.requested"}),
    )
    .await;
    rule(
        &app,
        json!({"name": "every end", "channel_id": siem, "event": "run.finished"}),
    )
    .await;

    let run = app
        .submit(
            &backup,
            json!({"db_name": "orders", "backup_key": "k3y-notify"}),
        )
        .await;
    let (status, body) = app
        .post_as(
            &format!("/api/v1/executions/{run}/cancel"),
            ANALYST,
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let waiting = waiting_run(&app, &gated).await;

    let messages = slack.wait_for(1, WAIT).await;
    assert_eq!(slack.seen(), 2, "refused once, then delivered");
    let text = messages[0].body["text"].as_str().unwrap();
    assert!(text.starts_with("*Run of backup-db cancelled*"), "{text}");
    assert!(text.contains("Requested by: analyst@example.com"), "{text}");
    assert!(
        text.contains(&format!(
            "<https://sage.example.com/executions/{run}|Open in Sage Runner>"
        )),
        "{text}"
    );

    let mails = mail.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1, "one mail: the run awaiting approval");
    let envelope = &mails[0].envelope;
    assert_eq!(envelope["tls"], true, "STARTTLS before the message");
    assert_eq!(envelope["login"], MAIL_USER);
    assert_eq!(envelope["mail_from"], "sage@example.com");
    assert_eq!(
        envelope["rcpt_tos"],
        json!(["approvers@example.com", "soc@example.com"])
    );
    let raw = mails[0].raw.replace("\r\n", "\n");
    assert!(raw.contains("Subject: [Sage Runner] Run of "), "{raw}");
    assert!(raw.contains("awaits approval"), "{raw}");
    assert!(
        raw.contains(&format!("https://sage.example.com/executions/{waiting}")),
        "{raw}"
    );

    let events = hook.wait_for(1, WAIT).await;
    assert!(events.iter().all(|e| e.signed), "{events:?}");
    assert_eq!(events[0].event, "run.finished");
    assert_eq!(events[0].body["execution"]["id"], json!(run));
    assert_eq!(events[0].body["execution"]["status"], "cancelled");

    // Each channel's record: delivered, with the attempts it took.
    let (_, detail) = app
        .get_as(&format!("/api/v1/notification-channels/{chat}"), ADMIN)
        .await;
    assert_eq!(detail["deliveries"][0]["status"], "delivered", "{detail}");
    assert_eq!(detail["deliveries"][0]["attempts"], 2, "{detail}");
    assert!(
        !detail.to_string().contains(&slack.url),
        "the Slack URL is a secret"
    );
    let (_, detail) = app
        .get_as(&format!("/api/v1/notification-channels/{mailbox}"), ADMIN)
        .await;
    assert!(!detail.to_string().contains(MAIL_PASSWORD));
    assert_eq!(detail["pending"], 0);

    // A test message on request.
    let (status, queued) = app
        .post_as(
            &format!("/api/v1/notification-channels/{chat}/test"),
            ADMIN,
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let messages = slack.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slack.accepted().len(), 2, "{:?}", slack.accepted());
    assert_eq!(mail.messages().len(), 1);
    assert!(
        messages[1].body["text"]
            .as_str()
            .unwrap()
            .contains("Test message to chat")
    );
}

/// A run whose findings include new ones: the message lists those at least as grave
/// as the rule asks, gravest first, and counts them.
#[tokio::test]
async fn new_findings_of_a_severity_are_listed() {
    let app = notifying_app().await;
    let hook = Receiver::start(0).await;
    let siem = channel(
        &app,
        json!({"name": "siem", "kind": "webhook", "url": hook.url, "secret": SECRET}),
    )
    .await;
    rule(
        &app,
        json!({"name": "grave", "channel_id": siem, "event": "findings.new",
               "tool": "prowler", "min_severity": "high"}),
    )
    .await;
    let module = app.tool_module("prowler").await;
    let rows = [
        ("www", "s3_bucket_public_access", "fail", "critical"),
        ("data", "s3_bucket_default_encryption", "fail", "high"),
        ("logs", "s3_bucket_default_encryption", "fail", "medium"),
        ("ok", "s3_bucket_public_access", "pass", "critical"),
    ];
    let first = scan(&app, &module, &rows).await;
    let events = hook.wait_for(1, WAIT).await;
    let body = &events[0].body;
    assert_eq!(events[0].event, "findings.new");
    assert_eq!(body["execution_id"], json!(first.to_string()));
    assert_eq!(body["total"], 2, "{body}");
    let listed: Vec<(&str, &str)> = body["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["resource_id"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("www", "critical"), ("data", "high")]);

    // The same findings again are not new: nothing more is told.
    scan(&app, &module, &rows).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hook.accepted().len(), 1, "{:?}", hook.accepted());
}

/// A tool run stored as a worker stores it: its findings first, then its end.
pub(crate) async fn scan(
    app: &TestApp,
    module: &str,
    rows: &[(&str, &str, &str, &str)],
) -> ExecutionId {
    let id = ExecutionId::new();
    app.db()
        .batch_for_tests(&format!(
            "INSERT INTO executions (id, module_id, module_version, requested_by, params, status,
                                     worker_id, started_at, lease_expires_at)
             SELECT '{id}', '{module}', 1, id, '{{}}', 'running', 'test-worker', now(),
                    now() + interval '1 minute'
             FROM users WHERE email = '{ADMIN}'"
        ))
        .await
        .unwrap();
    let findings: Vec<StoredFinding> = rows
        .iter()
        .map(|(resource, check, status, severity)| StoredFinding {
            tool: Tool::Prowler,
            check_id: (*check).to_owned(),
            title: format!("{check} on {resource}"),
            severity: (*severity).to_owned(),
            status: (*status).to_owned(),
            resource_id: (*resource).to_owned(),
            resource_type: "AwsS3Bucket".to_owned(),
            region: "us-east-1".to_owned(),
            account: "111122223333".to_owned(),
            fingerprint: crate::findings::fingerprint_of(Tool::Prowler, resource, check),
        })
        .collect();
    let run = NewToolRun {
        execution_id: id,
        tool: Tool::Prowler,
        tool_version: Some("5.14.0".to_owned()),
        result_key: format!("runs/test/{id}/result.json"),
        regions: Some(vec!["us-east-1".to_owned()]),
    };
    app.db()
        .record_tool_run(
            &run,
            stream::iter(findings),
            std::future::ready(Coverage::Whole),
        )
        .await
        .unwrap();
    let worker = WorkerId::parse("test-worker").unwrap();
    let end = RunEnd {
        reason: EndReason::Succeeded,
        output_bytes: 0,
    };
    assert!(app.db().finish_execution(id, &worker, &end).await.unwrap());
    id
}

/// An acceptance in effect that ends within the rule's days is told of once, however
/// often the sweep runs.
#[tokio::test]
async fn an_acceptance_near_its_end_is_told_of_once() {
    let app = notifying_app().await;
    let hook = Receiver::start(0).await;
    let siem = channel(
        &app,
        json!({"name": "siem", "kind": "webhook", "url": hook.url, "secret": SECRET}),
    )
    .await;
    rule(
        &app,
        json!({"name": "ending", "channel_id": siem, "event": "acceptance.expiring",
               "days_before": 5}),
    )
    .await;
    app.db()
        .batch_for_tests(&format!(
            "INSERT INTO risk_acceptances (id, tool, check_id, reason, expires_at, status,
                                           requested_by, decided_by, decided_at)
             SELECT gen_random_uuid(), 'prowler', c.check_id, 'compensating control',
                    now() + c.ends, 'approved', r.id, d.id, now()
             FROM users r, users d,
                  (VALUES ('soon', interval '2 days'), ('later', interval '30 days'))
                      AS c (check_id, ends)
             WHERE r.email = '{ANALYST}' AND d.email = '{ADMIN}'"
        ))
        .await
        .unwrap();
    for _ in 0..3 {
        app.db().queue_expiring_acceptances().await.unwrap();
    }
    let events = hook.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hook.accepted().len(), 1, "{:?}", hook.accepted());
    assert_eq!(events[0].body["acceptance"]["check_id"], "soon");
    assert_eq!(events[0].body["acceptance"]["requested_by"], ANALYST);
}

/// A channel that never answers: the message is tried NOTIFY_MAX_ATTEMPTS times, then
/// kept `failed` with its error, and counted on the channel.
#[tokio::test]
async fn a_message_nobody_takes_is_given_up_and_shown_failed() {
    let app = notifying_app().await;
    let port = crate::helpers::free_port();
    let dead = channel(
        &app,
        json!({"name": "nobody", "kind": "slack", "url": format!("http://127.0.0.1:{port}/x")}),
    )
    .await;
    let (status, _) = app
        .post_as(
            &format!("/api/v1/notification-channels/{dead}/test"),
            ADMIN,
            &json!({}),
        )
        .await;
    assert_eq!(status, 202);
    let deadline = std::time::Instant::now() + WAIT;
    let detail = loop {
        let (_, detail) = app
            .get_as(&format!("/api/v1/notification-channels/{dead}"), ADMIN)
            .await;
        if detail["failed"] == 1 || std::time::Instant::now() > deadline {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(detail["failed"], 1, "{detail}");
    assert_eq!(detail["pending"], 0, "{detail}");
    assert_eq!(detail["deliveries"][0]["attempts"], 3, "{detail}");
    assert!(
        detail["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("refused") || e.contains("connect")),
        "{detail}"
    );
}
