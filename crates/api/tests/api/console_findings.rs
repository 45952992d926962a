//! Findings in the browser over real Cloud Custodian runs against the emulator: two
//! buckets found unencrypted twice, both encrypted, a run of another region that leaves
//! them open, a run of theirs that fixes both, then one unencrypted again. The console
//! shows one fixed and one reopened, each with its history, the diffs between the runs
//! and the trend; then the reopened one's risk is accepted by a second person and
//! withdrawn by its requester.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::console::{built_bundle, playwright};
use crate::helpers::{
    ADMIN, ANALYST, TestApp, emulator, spawn_app_with, spawn_worker_with, tools_env,
};

/// Waits until a worker reported the scanner image and Custodian can run.
pub(crate) async fn custodian_available(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, tools) = app.get_as("/api/v1/tools", ADMIN).await;
        let ready = tools["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "custodian" && t["available"] == true);
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "custodian never became available: {tools}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One Custodian run in `region` of the policy that finds this test's unencrypted
/// buckets; its id.
async fn scan(app: &TestApp, tag: &str, region: &str) -> String {
    let policy = format!(
        "policies:\n  - name: unencrypted\n    resource: aws.s3\n    filters:\n      - type: value\n        key: Name\n        op: regex\n        value: '^sage-{tag}-.*'\n      - type: bucket-encryption\n        state: false\n"
    );
    let body = json!({"provider": "aws", "region": region,
                      "iam_role_arn": emulator::ROLE_ARN, "policy": policy});
    let (status, started) = app
        .post_as("/api/v1/tools/custodian/runs", ADMIN, &body)
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap();
    app.wait_for(id, Some("succeeded"), Duration::from_secs(240))
        .await;
    id.to_owned()
}

#[tokio::test]
async fn browser_findings_fixed_and_reopened_over_real_runs() {
    built_bundle();
    let app = spawn_app_with(tools_env()).await;
    let _worker = spawn_worker_with(&app, emulator::use_it).await;
    custodian_available(&app).await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (fixed, reopened) = (format!("sage-{tag}-fixed"), format!("sage-{tag}-again"));
    let s3 = emulator::s3().await;
    for bucket in [&fixed, &reopened] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let mut runs = vec![
        scan(&app, &tag, "us-east-1").await,
        scan(&app, &tag, "us-east-1").await,
    ];
    emulator::encrypt(&s3, &fixed).await;
    emulator::encrypt(&s3, &reopened).await;
    // The buckets live in us-east-1: a run of eu-west-1 did not cover them.
    runs.push(scan(&app, &tag, "eu-west-1").await);
    runs.push(scan(&app, &tag, "us-east-1").await);
    s3.delete_bucket_encryption()
        .bucket(&reopened)
        .send()
        .await
        .unwrap();
    runs.push(scan(&app, &tag, "us-east-1").await);
    // The analyst asks for a risk acceptance: they may view Custodian's runs.
    let custodian = app.tool_module("custodian").await;
    app.assign(
        &custodian,
        json!([{"user": ANALYST, "permissions": ["view"]}]),
    )
    .await;
    playwright(
        &app,
        "findings.spec.ts",
        &[
            ("SAGE_FIXED_BUCKET", fixed),
            ("SAGE_REOPENED_BUCKET", reopened.clone()),
            ("SAGE_TAG", tag),
            ("SAGE_RUNS", runs.join(",")),
        ],
    )
    .await;

    // After the browser: the reopened bucket's risk accepted for two seconds; the
    // sweeper ends it and the real finding stands reopened again, as it would have.
    let (_, page) = app
        .get_as(&format!("/api/v1/findings?resource={reopened}"), ADMIN)
        .await;
    let fingerprint = page["items"][0]["fingerprint"].as_str().unwrap().to_owned();
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (status, asked) = app
        .post_as(
            "/api/v1/risk-acceptances",
            ANALYST,
            &json!({"fingerprint": fingerprint, "reason": "two seconds", "expires_at": expires}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_str().unwrap();
    let (status, _) = app
        .post_as(
            &format!("/api/v1/risk-acceptances/{id}/approve"),
            ADMIN,
            &json!({"comment": "briefly"}),
        )
        .await;
    assert_eq!(status, 200);
    let state =
        |finding: serde_json::Value| finding["state"].as_str().unwrap_or_default().to_owned();
    let (_, finding) = app
        .get_as(&format!("/api/v1/findings/{fingerprint}"), ADMIN)
        .await;
    assert_eq!(state(finding), "accepted");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, finding) = app
            .get_as(&format!("/api/v1/findings/{fingerprint}"), ADMIN)
            .await;
        if state(finding.clone()) == "reopened" {
            let last = finding["history"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .clone();
            assert_eq!(
                (&last["from"], &last["to"]),
                (&json!("accepted"), &json!("reopened"))
            );
            break;
        }
        assert!(Instant::now() < deadline, "never expired: {finding}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
