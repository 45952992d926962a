//! Importing an organisation's accounts: a worker assumes the management account's
//! role in the emulator and lists its 20 accounts with AWS Organizations; importing
//! again changes nothing; an account that runs no organisation ends the import failed,
//! saying why. Then a Custodian scan of all 20, one run each within the scan's cap,
//! one account failing on purpose (its role is not one the workers may assume), its
//! end told to a Slack-compatible channel.

use std::time::Duration;

use serde_json::{Value, json};

use sage_testkit::receiver::Receiver;
use sage_testkit::{
    ADMIN, TestApp, emulator, spawn_app, spawn_app_with, spawn_worker_with, tools_env,
};

async fn import(app: &TestApp, management: &str) -> Value {
    let (status, queued) = app
        .post_as(
            "/api/v1/accounts/import",
            ADMIN,
            &json!({"management_role_arn": format!("arn:aws:iam::{management}:role/OrgReader"),
                    "role": "SageAudit", "regions": ["us-east-1"]}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    let path = format!(
        "/api/v1/accounts/imports/{}",
        queued["id"].as_str().unwrap()
    );
    for _ in 0..300 {
        let (_, import) = app.get_as(&path, ADMIN).await;
        if import["status"] == "succeeded" || import["status"] == "failed" {
            return import;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the import did not end");
}

#[tokio::test]
async fn an_organisations_accounts_are_imported_once_each() {
    let app = spawn_app().await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    let (management, ids) = emulator::organization(19).await;

    let done = import(&app, &management).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["found"].as_i64(), done["created"].as_i64()),
        (Some(20), Some(20)),
        "{done}"
    );
    let (_, accounts) = app.get_as("/api/v1/accounts", ADMIN).await;
    let items = accounts["items"].as_array().unwrap();
    let mut listed: Vec<&str> = items.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    listed.sort_unstable();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    let member = items.iter().find(|a| a["id"] == ids[1].as_str()).unwrap();
    assert_eq!(member["name"], "member-0");
    assert_eq!(member["source"], "organizations");
    assert_eq!(member["org_status"], "ACTIVE");
    assert_eq!(member["regions"], json!(["us-east-1"]));
    assert_eq!(
        member["role_arn"],
        format!("arn:aws:iam::{}:role/SageAudit", ids[1])
    );

    // Again: nothing new, nothing changed, no version added.
    let again = import(&app, &management).await;
    assert_eq!(
        (
            again["found"].as_i64(),
            again["created"].as_i64(),
            again["updated"].as_i64()
        ),
        (Some(20), Some(0), Some(0)),
        "{again}"
    );
    let (_, detail) = app
        .get_as(&format!("/api/v1/accounts/{}", ids[1]), ADMIN)
        .await;
    assert_eq!(detail["versions"].as_array().unwrap().len(), 1);

    // An account that runs no organisation: the import fails with AWS's reason.
    let lone = emulator::fresh_account();
    let failed = import(&app, &lone).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().ends_with(
            "runs no organisation it may read: AWSOrganizationsNotInUseException: \
             Your account is not a member of an organization."
        ),
        "{failed}"
    );
    let (_, audit) = app
        .get_as("/api/v1/audit?action=account.import.finish", ADMIN)
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "{audit}");
    worker.stop().await;
}

#[tokio::test]
async fn a_scan_runs_each_account_once_within_its_cap_and_names_the_one_that_failed() {
    let mut env = tools_env();
    env.set("NOTIFY_HTTP_HOSTS", "127.0.0.1");
    let app = spawn_app_with(env).await;
    // The scan's end goes to a Slack-compatible channel.
    let chat = Receiver::start(0).await;
    let (status, channel) = app
        .post_as(
            "/api/v1/notification-channels",
            ADMIN,
            &json!({"name": "chat", "kind": "slack", "url": chat.url}),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let (status, rule) = app
        .post_as(
            "/api/v1/notification-rules",
            ADMIN,
            &json!({"name": "scans", "channel_id": channel["id"], "event": "scan.finished",
                    "tool": "custodian"}),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    let (management, ids) = emulator::organization(19).await;
    // The workers may assume the management role and every account's SageAudit role
    // but the last one's.
    let (broken, good) = ids.split_last().unwrap();
    let mut allowed: Vec<String> = good
        .iter()
        .map(|id| format!("arn:aws:iam::{id}:role/SageAudit"))
        .collect();
    allowed.push(format!("arn:aws:iam::{management}:role/OrgReader"));
    let allowed = allowed.join(",");
    let worker = spawn_worker_with(&app, move |env| {
        emulator::use_it(env);
        env.set("ASSUME_ROLE_ALLOWED", allowed.clone());
        env.set("WORKER_CONCURRENCY", "3");
    })
    .await;
    assert_eq!(import(&app, &management).await["created"], 20);
    crate::scanners::wait_available(&app, "custodian").await;
    // A bucket in each of two accounts, named alike: each account's finding is its own.
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    for id in &ids[1..3] {
        emulator::s3_in(id)
            .await
            .create_bucket()
            .bucket(format!("sage-{tag}-{id}"))
            .send()
            .await
            .unwrap();
    }

    let policy = format!(
        "policies:\n  - name: test-buckets\n    resource: aws.s3\n    filters:\n      - type: value\n        key: Name\n        op: regex\n        value: '^sage-{tag}-.*'\n"
    );
    let (status, scan) = app
        .post_as(
            "/api/v1/scans",
            ADMIN,
            &json!({"tool": "custodian", "account_ids": ids, "params": {"policy": policy},
                    "max_concurrency": 3}),
        )
        .await;
    assert_eq!(status, 201, "{scan}");
    assert_eq!(scan["total"], 20);
    assert_eq!(scan["status"], "running");
    let path = format!("/api/v1/scans/{}", scan["id"].as_str().unwrap());
    let mut most_in_flight = 0;
    let done = loop {
        let (_, now) = app.get_as(&path, ADMIN).await;
        let in_flight = now["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["status"] == "running")
            .count();
        most_in_flight = most_in_flight.max(in_flight);
        if now["status"] != "running" {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(most_in_flight <= 3, "{most_in_flight} runs at once");
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(
        (done["succeeded"].as_i64(), done["failed"].as_i64()),
        (Some(19), Some(1)),
        "{done}"
    );
    assert_eq!(done["done"], 20);
    let failed = &done["failed_accounts"];
    assert_eq!(failed.as_array().unwrap().len(), 1, "{failed}");
    assert_eq!(failed[0]["account_id"], broken.as_str());
    assert_eq!(failed[0]["reason"], "assume_role_failed", "{failed}");
    let told = chat.wait_for(1, Duration::from_secs(20)).await;
    let text = told[0].body["text"].as_str().unwrap();
    assert!(text.starts_with("*Scan with custodian failed*"), "{text}");
    assert!(
        text.contains("Accounts: 19 of 20 succeeded, 1 failed"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Failed: {broken}: failed (assume_role_failed)")),
        "{text}"
    );

    // Each run is a normal run: the account's role, its region, the scan's policy.
    let run = done["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == ids[1].as_str())
        .unwrap();
    let (_, execution) = app
        .get_as(
            &format!(
                "/api/v1/executions/{}",
                run["execution_id"].as_str().unwrap()
            ),
            ADMIN,
        )
        .await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    assert_eq!(
        execution["params"]["iam_role_arn"],
        format!("arn:aws:iam::{}:role/SageAudit", ids[1])
    );
    assert_eq!(execution["params"]["region"], "us-east-1");
    let (status, again) = app
        .post_as(&format!("{path}/cancel"), ADMIN, &json!({}))
        .await;
    assert_eq!(status, 409, "{again}");

    // Each bucket is a finding of its own account (Custodian's output names none: the
    // run's assumed role does).
    let (_, findings) = app.get_as("/api/v1/findings?tool=custodian", ADMIN).await;
    let mut owners: Vec<&str> = findings["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["account"].as_str().unwrap())
        .collect();
    owners.sort_unstable();
    let mut seeded = vec![ids[1].as_str(), ids[2].as_str()];
    seeded.sort_unstable();
    assert_eq!(owners, seeded, "{findings}");

    // One report over the scan: its 19 runs that succeeded, each of their accounts.
    let report = app
        .evidence_via(
            "/api/v1/evidence",
            ADMIN,
            json!({"scan_id": done["id"], "lang": "en"}),
        )
        .await;
    assert_eq!(report["status"], "ready", "{report}");
    assert_eq!(report["execution_ids"].as_array().unwrap().len(), 19);
    assert_eq!(
        report["summary"]["failing"],
        json!({"unknown": 2}),
        "{report}"
    );
    assert_eq!(report["summary"]["accounts"].as_array().unwrap().len(), 19);
    assert!(
        !report["summary"]["accounts"]
            .as_array()
            .unwrap()
            .contains(&json!(broken)),
        "{report}"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_single_run_is_not_held_behind_a_large_scan() {
    let app = spawn_app_with(tools_env()).await;
    let worker = spawn_worker_with(&app, |env| {
        emulator::use_it(env);
        env.set("WORKER_CONCURRENCY", "2");
    })
    .await;
    crate::scanners::wait_available(&app, "custodian").await;
    let mut ids = Vec::new();
    for _ in 0..16 {
        let id = emulator::fresh_account();
        let (status, body) = app
            .post_as(
                "/api/v1/accounts",
                ADMIN,
                &json!({"id": id, "name": "fleet", "regions": ["us-east-1"], "tags": {"fleet": "big"}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(id);
    }
    let policy = "policies:\n  - name: any-bucket\n    resource: aws.s3\n";
    let (status, scan) = app
        .post_as(
            "/api/v1/scans",
            ADMIN,
            &json!({"tool": "custodian", "account_tags": {"fleet": "big"},
                    "params": {"policy": policy}, "max_concurrency": 2}),
        )
        .await;
    assert_eq!(status, 201, "{scan}");
    let path = format!("/api/v1/scans/{}", scan["id"].as_str().unwrap());
    // Once the scan is under way, someone runs one scan of their own account.
    let done_before = loop {
        let (_, now) = app.get_as(&path, ADMIN).await;
        if now["done"].as_i64() >= Some(1) {
            break now["done"].as_i64().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let single = crate::scanners::run_tool(
        &app,
        "custodian",
        json!({"provider": "aws", "region": "us-east-1", "iam_role_arn": emulator::ROLE_ARN,
               "policy": policy}),
    )
    .await;
    assert_eq!(single["status"], "succeeded", "{single}");
    let (_, then) = app.get_as(&path, ADMIN).await;
    // It waited behind the scan's runs in flight (its cap, 2) and those the freed slots
    // took meanwhile, not behind the whole scan.
    let done_meanwhile = then["done"].as_i64().unwrap() - done_before;
    assert!(
        done_meanwhile <= 4,
        "{done_meanwhile} scan runs ended first: {then}"
    );
    assert_eq!(then["status"], "running", "{then}");
    worker.stop().await;
}
