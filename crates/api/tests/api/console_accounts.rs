//! Accounts and scans in the browser over the real stack: accounts added, edited and
//! imported from an emulated organisation through a worker, then a Cloud Custodian scan
//! of those tagged env=prod, followed to its end with the refused account named; then
//! notifications: a Slack channel to a local receiver, a rule, and a test message.

use std::time::Duration;

use crate::console::{built_bundle, playwright};
use crate::console_findings::custodian_available;
use crate::helpers::{emulator, spawn_app_with, spawn_worker_with, tools_env};
use crate::receiver::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_accounts_kept_imported_and_scanned() {
    built_bundle();
    let mut env = tools_env();
    env.set("NOTIFY_HTTP_HOSTS", "127.0.0.1");
    let app = spawn_app_with(env).await;
    let _worker = spawn_worker_with(&app, emulator::use_it).await;
    custodian_available(&app).await;
    let (management, _) = emulator::organization(2).await;
    let accounts: Vec<String> = (0..3).map(|_| emulator::fresh_account()).collect();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let slack = Receiver::start(0).await;
    playwright(
        &app,
        "accounts.spec.ts",
        &[
            ("SAGE_ACCOUNTS", accounts.join(",")),
            ("SAGE_MANAGEMENT", management),
            ("SAGE_TAG", tag),
        ],
    )
    .await;
    playwright(
        &app,
        "notifications.spec.ts",
        &[("SAGE_E2E_SLACK_URL", slack.url.clone())],
    )
    .await;
    let messages = slack.wait_for(1, Duration::from_secs(20)).await;
    assert!(
        messages.iter().any(|m| m.body["text"]
            .as_str()
            .is_some_and(|text| text.contains("Test message to chat"))),
        "{messages:?}"
    );
}
