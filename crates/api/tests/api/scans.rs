//! Scans over HTTP, without a worker: each bad field refused by name with nothing
//! recorded; an account whose run cannot be admitted is part of the scan, refused; the
//! runs wait for the dispatcher, which releases no more than the scan's cap; a cancel
//! ends the scan and each of its runs.

use std::time::Duration;

use serde_json::{Value, json};

use sage_testkit::{ADMIN, ANALYST, TestApp, spawn_app_with, tools_env};

use crate::tools::report_scanner_image;

const POLICY: &str = "policies: [{name: every-bucket, resource: aws.s3}]";

async fn account(app: &TestApp, id: &str, regions: &[&str], env: &str) {
    let (status, body) = app
        .post_as(
            "/api/v1/accounts",
            ADMIN,
            &json!({"id": id, "name": format!("account {id}"), "regions": regions,
                    "external_id": format!("ext-{id}"), "tags": {"env": env}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// How many of the scan's runs the dispatcher released.
async fn released(app: &TestApp, scan: &Value) -> usize {
    let id: uuid::Uuid = scan["id"].as_str().unwrap().parse().unwrap();
    app.db()
        .scan_targets(id)
        .await
        .unwrap()
        .iter()
        .filter(|t| t.released_at.is_some())
        .count()
}

#[tokio::test]
async fn bad_scans_are_refused_by_name_and_record_nothing() {
    let app = spawn_app_with(tools_env()).await;
    report_scanner_image(&app).await;
    account(&app, "111122223333", &["us-east-1"], "prod").await;
    let (before_audit, before_runs) = (app.audit_count().await, app.execution_count().await);
    let policy = json!({"policy": POLICY});
    let cases = [
        (json!({"account_ids": ["111122223333"]}), "tool"),
        (
            json!({"tool": "nmap", "account_ids": ["111122223333"]}),
            "tool",
        ),
        (json!({"tool": "custodian"}), "account_ids"),
        (
            json!({"tool": "custodian", "account_ids": ["111122223333"], "account_tags": {"env": "prod"}}),
            "account_tags",
        ),
        (
            json!({"tool": "custodian", "account_ids": ["12"], "params": policy}),
            "account_ids",
        ),
        (
            json!({"tool": "custodian", "account_ids": ["999999999999"], "params": policy}),
            "account_ids",
        ),
        (
            json!({"tool": "custodian", "account_tags": {"env": "nowhere"}, "params": policy}),
            "account_tags",
        ),
        (
            json!({"tool": "custodian", "account_ids": ["111122223333"],
                "params": {"policy": POLICY, "iam_role_arn": "arn:aws:iam::111122223333:role/X"}}),
            "params.iam_role_arn",
        ),
        (
            json!({"tool": "custodian", "account_ids": ["111122223333"], "regions": ["Mars"], "params": policy}),
            "regions",
        ),
        (
            json!({"tool": "custodian", "account_ids": ["111122223333"], "max_concurrency": 0, "params": policy}),
            "max_concurrency",
        ),
        // Every account's run refused alike: the tool's own option is missing.
        (
            json!({"tool": "custodian", "account_ids": ["111122223333"]}),
            "params.policy",
        ),
    ];
    for (body, field) in cases {
        let (status, refused) = app.post_as("/api/v1/scans", ADMIN, &body).await;
        assert_eq!(status, 400, "{body}: {refused}");
        let named: Vec<&str> = refused["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(
            named.contains(&field),
            "{body} should name {field}: {refused}"
        );
    }
    // An analyst who may not run Custodian's module.
    let (status, _) = app
        .post_as(
            "/api/v1/scans",
            ANALYST,
            &json!({"tool": "custodian", "account_ids": ["111122223333"], "params": policy}),
        )
        .await;
    assert!(status == 403 || status == 404, "{status}");
    assert_eq!(app.audit_count().await, before_audit);
    assert_eq!(app.execution_count().await, before_runs);
    let (_, scans) = app.get_as("/api/v1/scans", ADMIN).await;
    assert_eq!(scans["items"], json!([]));
}

#[tokio::test]
async fn a_scans_runs_wait_within_its_cap_and_a_cancel_ends_them_all() {
    let app = spawn_app_with(tools_env()).await;
    report_scanner_image(&app).await;
    account(&app, "111122223333", &["us-east-1"], "prod").await;
    account(
        &app,
        "444455556666",
        &["ap-northeast-2", "us-east-1"],
        "prod",
    )
    .await;
    account(&app, "777788889999", &[], "prod").await;
    account(&app, "121212121212", &["us-east-1"], "dev").await;

    let (status, scan) = app
        .post_as(
            "/api/v1/scans",
            ADMIN,
            &json!({"tool": "custodian", "account_tags": {"env": "prod"},
                    "params": {"policy": POLICY}, "max_concurrency": 1}),
        )
        .await;
    assert_eq!(status, 201, "{scan}");
    assert_eq!(scan["total"], 3);
    assert_eq!(scan["queued"], 2);
    // The runs' options as admitted (defaults filled in), without the accounts' own.
    assert_eq!(scan["params"]["policy"], POLICY);
    for own in ["iam_role_arn", "iam_external_id", "region", "provider"] {
        assert!(scan["params"].get(own).is_none(), "{scan}");
    }
    let refused = &scan["failed_accounts"];
    assert_eq!(refused[0]["account_id"], "777788889999", "{scan}");
    assert_eq!(refused[0]["status"], "refused");
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no regions"),
        "{refused}"
    );

    // Each run is the account's: its role, regions and external id (sealed).
    let second = scan["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == "444455556666")
        .unwrap();
    let (_, run) = app
        .get_as(
            &format!(
                "/api/v1/executions/{}",
                second["execution_id"].as_str().unwrap()
            ),
            ADMIN,
        )
        .await;
    assert_eq!(
        run["params"]["iam_role_arn"],
        "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole"
    );
    assert_eq!(run["params"]["region"], "ap-northeast-2,us-east-1");
    assert_eq!(run["params"]["iam_external_id"], "***");

    // The dispatcher releases one run (the cap), and no more while it is in flight.
    for _ in 0..50 {
        if released(&app, &scan).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(released(&app, &scan).await, 1);

    let path = format!("/api/v1/scans/{}", scan["id"].as_str().unwrap());
    let (status, cancelled) = app
        .post_as(&format!("{path}/cancel"), ADMIN, &json!({}))
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["counts"]["cancelled"], 2, "{cancelled}");
    let (status, _) = app
        .post_as(&format!("{path}/cancel"), ADMIN, &json!({}))
        .await;
    assert_eq!(status, 409);
    let (_, audit) = app
        .get_as(
            &format!("/api/v1/audit?target_id={}", scan["id"].as_str().unwrap()),
            ADMIN,
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"scan.create") && actions.contains(&"scan.cancel"),
        "{actions:?}"
    );
    let (_, list) = app.get_as("/api/v1/scans", ADMIN).await;
    assert_eq!(list["items"][0]["status"], "cancelled");
    assert!(list["items"][0].get("accounts").is_none());
    // Others' scans are not the analyst's to see.
    let (status, _) = app.get_as(&path, ANALYST).await;
    assert_eq!(status, 404);

    // Per region: one run for each of the account's two regions, each covering one.
    let (status, split) = app
        .post_as(
            "/api/v1/scans",
            ADMIN,
            &json!({"tool": "custodian", "account_ids": ["444455556666"], "per_region": true,
                    "params": {"policy": POLICY}}),
        )
        .await;
    assert_eq!(status, 201, "{split}");
    assert_eq!(split["total"], 2);
    let mut covered = Vec::new();
    for target in split["accounts"].as_array().unwrap() {
        let (_, run) = app
            .get_as(
                &format!(
                    "/api/v1/executions/{}",
                    target["execution_id"].as_str().unwrap()
                ),
                ADMIN,
            )
            .await;
        assert_eq!(run["params"]["region"], target["region"], "{target}");
        covered.push(target["region"].as_str().unwrap().to_owned());
    }
    assert_eq!(covered, ["ap-northeast-2", "us-east-1"]);
    let split_path = format!("/api/v1/scans/{}/cancel", split["id"].as_str().unwrap());
    app.post_as(&split_path, ADMIN, &json!({})).await;
}

/// A run as a worker would end it.
async fn ended(app: &TestApp, run: &str, status: &str, exit_code: i32) {
    app.db()
        .batch_for_tests(&format!(
            "UPDATE executions SET status = '{status}', reason = 'exit_code', exit_code = {exit_code},
                    started_at = now(), finished_at = now()
             WHERE id = '{run}'"
        ))
        .await
        .unwrap();
}

async fn scan_now(app: &TestApp, path: &str) -> Value {
    let (status, scan) = app.get_as(path, ADMIN).await;
    assert_eq!(status, 200, "{scan}");
    scan
}

async fn target(app: &TestApp, path: &str, account: &str) -> Value {
    let scan = scan_now(app, path).await;
    scan["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == account)
        .unwrap()
        .clone()
}

/// An account whose run the cloud's API throttled (its driver exited 75) is run again
/// after a pause, as a new run of the same plan, up to SCAN_RETRY_ATTEMPTS runs; the
/// scan says so, and ends only when the last of them ends. A run with secrets (an
/// external id, sealed to it) cannot be run again: it stays failed.
#[tokio::test]
async fn a_throttled_account_is_run_again_after_a_pause_up_to_a_limit() {
    let mut env = tools_env();
    env.set("SCAN_RETRY_ATTEMPTS", "2");
    env.set("SCAN_RETRY_BACKOFF_SEC", "2");
    let app = spawn_app_with(env).await;
    report_scanner_image(&app).await;
    for id in ["111122223333", "444455556666"] {
        let (status, body) = app
            .post_as(
                "/api/v1/accounts",
                ADMIN,
                &json!({"id": id, "name": id, "regions": ["us-east-1"]}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    account(&app, "777788889999", &["us-east-1"], "prod").await;
    let (status, scan) = app
        .post_as(
            "/api/v1/scans",
            ADMIN,
            &json!({"tool": "custodian",
                    "account_ids": ["111122223333", "444455556666", "777788889999"],
                    "params": {"policy": POLICY}, "max_concurrency": 3}),
        )
        .await;
    assert_eq!(status, 201, "{scan}");
    let path = format!("/api/v1/scans/{}", scan["id"].as_str().unwrap());
    let run_of = |t: &Value| t["execution_id"].as_str().unwrap().to_owned();
    let first = run_of(&target(&app, &path, "111122223333").await);
    let other = run_of(&target(&app, &path, "444455556666").await);
    let sealed = run_of(&target(&app, &path, "777788889999").await);
    ended(&app, &first, "failed", 75).await;
    ended(&app, &other, "succeeded", 0).await;
    ended(&app, &sealed, "failed", 75).await;

    // Run again: a new queued run, held for its pause, the throttled one kept.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let again = loop {
        let now = target(&app, &path, "111122223333").await;
        if now["attempts"] == 2 || std::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(again["attempts"], 2, "{again}");
    assert_eq!(again["status"], "queued", "{again}");
    assert_eq!(again["earlier_runs"], json!([first]));
    assert!(again["release_after"].is_string(), "{again}");
    let second = run_of(&again);
    assert_ne!(second, first);
    let scan = scan_now(&app, &path).await;
    assert_eq!(
        scan["status"], "running",
        "the scan waits for the run again"
    );
    let sealed_now = target(&app, &path, "777788889999").await;
    assert_eq!(
        (&sealed_now["attempts"], &sealed_now["reason"]),
        (&json!(1), &json!("throttled")),
        "{sealed_now}"
    );
    let (_, run) = app
        .get_as(&format!("/api/v1/executions/{second}"), ADMIN)
        .await;
    assert_eq!(
        run["params"]["iam_role_arn"],
        json!("arn:aws:iam::111122223333:role/OrganizationAccountAccessRole")
    );
    let (_, audit) = app
        .get_as(&format!("/api/v1/audit?target_id={second}"), ADMIN)
        .await;
    assert_eq!(audit["items"][0]["action"], "execution.submit");
    assert_eq!(
        audit["items"][0]["after"]["retry_of"],
        json!(first),
        "{audit}"
    );

    // Released once its pause is over; throttled again, it has no attempt left.
    for _ in 0..100 {
        if released(&app, &scan).await == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let released_now = target(&app, &path, "111122223333").await;
    assert_eq!(released_now["status"], "queued");
    ended(&app, &second, "failed", 75).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let done = loop {
        let now = scan_now(&app, &path).await;
        if now["status"] != "running" || std::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["status"], "failed", "{done}");
    let failed: Vec<(&str, &str, i64)> = done["failed_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account_id"].as_str().unwrap(),
                a["reason"].as_str().unwrap(),
                a["attempts"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("111122223333", "throttled", 2),
            ("777788889999", "throttled", 1)
        ]
    );
}

/// Never two runs against one account at once, unless the scan allows more: a scan per
/// region of a two-region account releases one run at a time by default, both when it
/// says `account_concurrency: 2`.
#[tokio::test]
async fn runs_against_one_account_wait_for_each_other_unless_the_scan_allows_more() {
    let app = spawn_app_with(tools_env()).await;
    report_scanner_image(&app).await;
    for id in ["111122223333", "444455556666"] {
        let (status, body) = app
            .post_as(
                "/api/v1/accounts",
                ADMIN,
                &json!({"id": id, "name": id, "regions": ["us-east-1", "eu-west-1"]}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let start = |id: &str, allowed: Option<u32>| {
        let mut body = json!({"tool": "custodian", "account_ids": [id], "per_region": true,
                              "params": {"policy": POLICY}});
        if let Some(n) = allowed {
            body["account_concurrency"] = json!(n);
        }
        body
    };
    let (status, refused) = app
        .post_as("/api/v1/scans", ADMIN, &start("111122223333", Some(0)))
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["error"]["fields"][0]["field"],
        "account_concurrency"
    );
    let (_, one) = app
        .post_as("/api/v1/scans", ADMIN, &start("111122223333", None))
        .await;
    let (_, two) = app
        .post_as("/api/v1/scans", ADMIN, &start("444455556666", Some(2)))
        .await;
    assert_eq!(
        (&one["account_concurrency"], &two["account_concurrency"]),
        (&json!(1), &json!(2))
    );
    for _ in 0..50 {
        if released(&app, &two).await == 2 && released(&app, &one).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(released(&app, &one).await, 1, "one at a time by default");
    assert_eq!(
        released(&app, &two).await,
        2,
        "both regions at once when allowed"
    );
}
