//! Findings over time against real Cloud Custodian runs on the emulator: a bucket
//! found unencrypted is `new`, then `open`; a run from another region sees the same
//! finding; once encrypted it is `fixed`; unencrypted again, `reopened`. Each change
//! names the run that made it.

use serde_json::{Value, json};

use sage_testkit::{ADMIN, TestApp, emulator, spawn_app_with, spawn_worker_with, tools_env};

use crate::scanners::{run_tool, wait_available};

/// Runs Custodian's policy for this test's unencrypted buckets in `region`; returns
/// the run's id once it succeeded.
async fn scan(app: &TestApp, tag: &str, region: &str) -> String {
    let policy = format!(
        "policies:\n  - name: unencrypted\n    resource: aws.s3\n    filters:\n      - type: value\n        key: Name\n        op: regex\n        value: '^sage-{tag}-.*'\n      - type: bucket-encryption\n        state: false\n"
    );
    let ended = run_tool(
        app,
        "custodian",
        json!({"provider": "aws", "region": region, "iam_role_arn": emulator::ROLE_ARN,
               "policy": policy}),
    )
    .await;
    let id = ended["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ended["status"],
        "succeeded",
        "{ended}\n{}",
        app.log_text(&id).await
    );
    id
}

/// The one finding on `bucket`.
async fn finding(app: &TestApp, bucket: &str) -> Value {
    let (status, page) = app
        .get_as(
            &format!("/api/v1/findings?tool=custodian&resource={bucket}"),
            ADMIN,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    items[0].clone()
}

#[tokio::test]
async fn a_bucket_is_new_then_open_then_fixed_then_reopened_as_real_runs_see_it() {
    let app = spawn_app_with(tools_env()).await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    wait_available(&app, "custodian").await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (plain, sealed) = emulator::seed_buckets(&tag).await;
    let s3 = emulator::s3().await;

    let first = scan(&app, &tag, "us-east-1").await;
    let found = finding(&app, &plain).await;
    assert_eq!(
        (&found["state"], &found["region"]),
        (&json!("new"), &json!("us-east-1"))
    );
    let (_, none) = app
        .get_as(&format!("/api/v1/findings?resource={sealed}"), ADMIN)
        .await;
    assert_eq!(
        none["items"],
        json!([]),
        "an encrypted bucket is no finding"
    );

    let second = scan(&app, &tag, "us-east-1").await;
    assert_eq!(finding(&app, &plain).await["state"], "open");

    // A run in another region lists the bucket too, in its own region: the same
    // finding, still open, and no change of it.
    let elsewhere = scan(&app, &tag, "eu-west-1").await;
    assert_eq!(finding(&app, &plain).await["state"], "open");

    emulator::encrypt(&s3, &plain).await;
    let fixing = scan(&app, &tag, "us-east-1").await;
    let fixed = finding(&app, &plain).await;
    assert_eq!(fixed["state"], "fixed", "{fixed}");
    assert!(fixed["fixed_at"].is_string(), "{fixed}");

    s3.delete_bucket_encryption()
        .bucket(&plain)
        .send()
        .await
        .unwrap();
    let again = scan(&app, &tag, "us-east-1").await;
    let reopened = finding(&app, &plain).await;
    assert_eq!(reopened["state"], "reopened", "{reopened}");

    let fingerprint = reopened["fingerprint"].as_str().unwrap();
    assert_eq!(
        app.finding_history(fingerprint).await,
        [
            (Value::Null, json!("new"), json!(first)),
            (json!("new"), json!("open"), json!(second)),
            (json!("open"), json!("fixed"), json!(fixing)),
            (json!("fixed"), json!("reopened"), json!(again)),
        ],
        "nothing from the run in {elsewhere}"
    );
    worker.stop().await;
}
