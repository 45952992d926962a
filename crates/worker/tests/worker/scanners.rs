//! The scanners end to end: real Cloud Custodian, Prowler and Scout Suite in the
//! scanner image, against moto (dev/emulator.sh) on an internal network, with the
//! credentials of a role the worker assumed through the emulator's STS.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use sage_testkit::{
    ADMIN, ANALYST, TestApp, TestWorker, emulator, spawn_app_with, spawn_worker_with, tools_env,
};

/// Waits until a worker reported its scanner image and `tool` can run.
pub(crate) async fn wait_available(app: &TestApp, tool: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, tools) = app.get_as("/api/v1/tools", ADMIN).await;
        assert_eq!(status, 200, "{tools}");
        let entry = tools["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == tool)
            .cloned()
            .unwrap();
        if entry["available"] == true {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{tool} never became available: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn run_tool(app: &TestApp, tool: &str, body: Value) -> Value {
    let (status, execution) = app
        .post_as(&format!("/api/v1/tools/{tool}/runs"), ADMIN, &body)
        .await;
    assert_eq!(status, 202, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, None, Duration::from_secs(240)).await
}

/// The artifacts of a run, by name, with their download URLs.
pub(crate) async fn artifacts(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, body) = app
        .get_as(&format!("/api/v1/executions/{id}/artifacts"), ADMIN)
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

pub(crate) async fn download(artifact: &Value) -> String {
    reqwest::get(artifact["url"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub(crate) fn named<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no artifact {name} among {items:?}"))
}

/// The findings in a run's outputs as the findings crate's independent count reads
/// them (a Python script written apart from the parsers): the outputs named `wanted`
/// downloaded under their names, then counted.
async fn counted_apart(items: &[Value], wanted: impl Fn(&str) -> bool) -> u64 {
    let folder = tempfile::tempdir().unwrap();
    for item in items {
        let name = item["name"].as_str().unwrap();
        if !wanted(name) {
            continue;
        }
        let path = folder.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, download(item).await).unwrap();
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../findings/tests/independent_counts.py"
    );
    #[expect(
        clippy::disallowed_methods,
        reason = "the independent count is a Python script"
    )]
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(folder.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts: Value = serde_json::from_slice(&output.stdout).unwrap();
    counts.as_object().unwrap().values().map(total).sum()
}

fn total(counts: &Value) -> u64 {
    counts
        .as_object()
        .unwrap()
        .values()
        .flat_map(|by_severity| by_severity.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn custodian_finds_the_unencrypted_bucket_and_the_latest_run_shows_it() {
    let app = spawn_app_with(tools_env()).await;
    let (status, body) = app
        .get_as("/api/v1/tools/custodian/runs/latest", ADMIN)
        .await;
    assert_eq!(status, 404, "no run yet: {body}");
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    wait_available(&app, "custodian").await;
    // This machine's scanner image was built without Steampipe's releases: its labels
    // say so, the worker reported it, and a run of it is refused.
    let (_, tools) = app.get_as("/api/v1/tools", ADMIN).await;
    let steampipe = tools["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "steampipe")
        .unwrap();
    assert_eq!(steampipe["available"], false, "{steampipe}");
    assert!(
        steampipe["unavailable_reason"]
            .as_str()
            .unwrap()
            .contains("not in this image"),
        "{steampipe}"
    );
    let (status, refused) = app
        .post_as(
            "/api/v1/tools/steampipe/runs",
            ADMIN,
            &json!({"provider": "aws", "iam_role_arn": emulator::ROLE_ARN}),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "tool_unavailable");
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (plain, sealed) = emulator::seed_buckets(&tag).await;
    let policy = format!(
        "policies:\n  - name: unencrypted\n    resource: aws.s3\n    filters:\n      - type: value\n        key: Name\n        op: regex\n        value: '^sage-{tag}-.*'\n      - type: bucket-encryption\n        state: false\n"
    );
    let external_id = format!("ext-{tag}-secret");
    let execution = run_tool(
        &app,
        "custodian",
        json!({"provider": "aws", "region": "us-east-1", "iam_role_arn": emulator::ROLE_ARN,
               "iam_external_id": external_id, "policy": policy}),
    )
    .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    let log = app.log_text(&id).await;
    assert_eq!(execution["status"], "succeeded", "{execution}\n{log}");
    assert_eq!(execution["params"]["iam_external_id"], "***");
    assert!(log.contains("custodian: validating the policy"), "{log}");
    assert!(log.contains("filters only (--dryrun)"), "{log}");
    assert!(log.contains("findings: 1 read from the outputs"), "{log}");
    assert!(!log.contains(&external_id));

    let items = artifacts(&app, &id).await;
    let resources = download(named(&items, "unencrypted/resources.json")).await;
    assert!(resources.contains(&plain), "{resources}");
    assert!(!resources.contains(&sealed), "{resources}");
    let result: Value =
        serde_json::from_str(&download(named(&items, "result.json")).await).unwrap();
    assert_eq!(result["tool"], "custodian");
    assert_eq!(result["tool_version"], "0.9.53");
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["options"]["iam_external_id"], "***");
    assert_eq!(result["findings"], 1);
    assert!(
        result["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "unencrypted/resources.json"
                && f["sha256"].as_str().is_some_and(|s| s.len() == 64)),
        "{result}"
    );
    // Every file of the run sits under runs/<YYYYMM>/<run id>/.
    let month = chrono::Utc::now().format("%Y%m").to_string();
    let keys: Vec<String> = app
        .db()
        .artifacts(id.parse().unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.s3_key)
        .collect();
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("runs/{month}/{id}/"))),
        "{keys:?}"
    );
    let findings = app.db().findings(id.parse().unwrap()).await.unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let policy_folder = |name: &str| name.starts_with("unencrypted/");
    assert_eq!(counted_apart(&items, policy_folder).await, 1);
    assert!(findings[0].resource_id.contains(&plain), "{findings:?}");
    assert_eq!(findings[0].fingerprint.len(), 64);

    let (status, latest) = app
        .get_as("/api/v1/tools/custodian/runs/latest", ADMIN)
        .await;
    assert_eq!(status, 200, "{latest}");
    assert_eq!(latest["execution"]["id"], id.as_str());
    assert_eq!(total(&latest["counts"]), 1, "{latest}");
    assert!(
        latest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "result.json")
    );
    let (status, alias) = app
        .get_as("/oss/api/oss/custodian/runs/latest", ADMIN)
        .await;
    assert_eq!(status, 200);
    assert_eq!(alias["execution"]["id"], id.as_str());
    let (_, tools) = app.get_as("/oss/api/oss-list", ADMIN).await;
    let custodian = tools["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "custodian")
        .unwrap();
    assert_eq!(custodian["latest_execution_id"], id.as_str());
    assert_eq!(custodian["tool_version"], "0.9.53");
    // An analyst without the tool's module sees neither the run nor which run it was.
    let (status, _) = app
        .get_as("/api/v1/tools/custodian/runs/latest", ANALYST)
        .await;
    assert_eq!(status, 404);

    // Evidence over the latest runs, through the DSPM runner's route: a worker builds it.
    let evidence = app
        .evidence_via(
            "/oss/api/evidence/pdf",
            ADMIN,
            json!({"tools": ["custodian"], "lang": "en"}),
        )
        .await;
    assert_eq!(evidence["execution_ids"], json!([id]));
    assert_eq!(evidence["status"], "ready", "{evidence}");
    assert_eq!(evidence["summary"]["total"], 1, "{evidence}");
    assert!(evidence["pdf"]["url"].is_string());
    worker.stop().await;
}

#[tokio::test]
async fn an_invalid_policy_is_refused_before_anything_runs() {
    let app = spawn_app_with(tools_env()).await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    wait_available(&app, "custodian").await;
    let execution = run_tool(
        &app,
        "custodian",
        json!({"provider": "aws", "region": "us-east-1", "iam_role_arn": emulator::ROLE_ARN,
               "policy": "policies:\n  - name: broken\n    resource: aws.s3\n    filters:\n      - type: no-such-filter\n"}),
    )
    .await;
    let id = execution["id"].as_str().unwrap();
    let log = app.log_text(id).await;
    assert_eq!(execution["status"], "failed", "{execution}\n{log}");
    assert_eq!(execution["exit_code"], 2);
    assert!(
        log.contains("the policy is not valid; nothing ran"),
        "{log}"
    );
    assert!(!log.contains("custodian: running"), "{log}");
    worker.stop().await;
}

/// A scan over S3 by `tool` in the emulator, after seeding two buckets of its own; the
/// run succeeded. Returns the app, its worker, the run and the plain bucket.
async fn scan_buckets(tool: &str) -> (TestApp, TestWorker, String, String) {
    let app = spawn_app_with(tools_env()).await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    wait_available(&app, tool).await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (plain, _) = emulator::seed_buckets(&tag).await;
    let execution = run_tool(
        &app,
        tool,
        json!({"provider": "aws", "region": "us-east-1", "services": "s3",
               "iam_role_arn": emulator::ROLE_ARN}),
    )
    .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    let log = app.log_text(&id).await;
    assert_eq!(execution["status"], "succeeded", "{execution}\n{log}");
    (app, worker, id, plain)
}

// Two threads: the api and the worker run in this process beside the test's blocking
// checks (pdftotext, verifying the pack), which would otherwise hold up the api's
// connections long enough for them to be closed under a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prowler_scans_the_emulators_buckets() {
    let (app, worker, id, plain) = Box::pin(scan_buckets("prowler")).await;
    // The worker reported the names its image's Prowler holds: another is refused.
    let (status, refused) = app
        .post_as(
            "/api/v1/tools/prowler/runs",
            ADMIN,
            &json!({"compliance": "cis_9.9_aws", "checks": "s3_bucket_default_encryption"}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["error"]["fields"][0]["field"], "compliance",
        "{refused}"
    );
    let items = artifacts(&app, &id).await;
    let names: Vec<&str> = items.iter().map(|a| a["name"].as_str().unwrap()).collect();
    for expected in ["prowler.ocsf.json", "prowler.csv", "result.json"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let findings = app.db().findings(id.parse().unwrap()).await.unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.resource_id.contains(&plain) && f.status == "fail"),
        "no failing finding on {plain}: {findings:?}\n{}",
        app.log_text(&id).await
    );
    // The counts are Prowler's own: its findings file read here, apart from the
    // parsers. (A scan of one service writes no compliance files; the findings crate's
    // tests hold that Prowler's compliance OCSF is never counted as findings.)
    let ocsf: Vec<Value> =
        serde_json::from_str(&download(named(&items, "prowler.ocsf.json")).await).unwrap();
    assert_eq!(findings.len(), ocsf.len(), "stored findings");
    let (_, latest) = app.get_as("/api/v1/tools/prowler/runs/latest", ADMIN).await;
    assert_eq!(total(&latest["counts"]) as usize, ocsf.len(), "{latest}");
    // A report reads each finding once, though Prowler wrote it in its JSON and its CSV.
    let evidence = app
        .evidence_via("/api/v1/evidence", ADMIN, json!({"tools": ["prowler"]}))
        .await;
    assert_eq!(evidence["status"], "ready", "{evidence}");
    assert_eq!(evidence["summary"]["total"], ocsf.len(), "{evidence}");

    let evidence =
        crate::isms_p_evidence::korean_report_with_an_accepted_risk(&app, &findings, &plain).await;
    crate::isms_p_evidence::its_pack_verifies_offline(&app, &evidence).await;
    crate::isms_p_evidence::the_next_report_compares_with_it(&app, &evidence).await;
    worker.stop().await;
}

#[tokio::test]
async fn scout_suite_scans_the_emulators_buckets() {
    let (app, worker, id, _) = Box::pin(scan_buckets("scout")).await;
    let items = artifacts(&app, &id).await;
    let results = format!(
        "scoutsuite-results/scoutsuite_results_aws-{}.js",
        emulator::ACCOUNT
    );
    named(&items, &results);
    let findings = app.db().findings(id.parse().unwrap()).await.unwrap();
    assert!(!findings.is_empty(), "{}", app.log_text(&id).await);
    // The counts are Scout Suite's own, as its results file reads apart from the parsers.
    let apart = counted_apart(&items, |name| name == results).await;
    assert_eq!(findings.len() as u64, apart, "stored findings");
    let (_, latest) = app.get_as("/api/v1/tools/scout/runs/latest", ADMIN).await;
    assert_eq!(total(&latest["counts"]), apart, "{latest}");
    let evidence = app
        .evidence_via("/api/v1/evidence", ADMIN, json!({"tools": ["scout"]}))
        .await;
    assert_eq!(evidence["status"], "ready", "{evidence}");
    assert_eq!(evidence["summary"]["total"], apart, "{evidence}");
    worker.stop().await;
}

/// A scanner that writes its credentials into its outputs, as the kubeconfig `exec`
/// plugin of the security review did: stands in for any third-party code of a tool.
const LEAKY_DRIVER: &str = r#"import base64, os
keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
with open("/work/out/proof.txt", "w") as f:
    for key in keys:
        f.write(f"{key}={os.environ[key]}\n")
with open("/work/out/env.json", "w") as f:
    f.write('{"blob": "%s"}' % base64.b64encode(os.environ["AWS_SECRET_ACCESS_KEY"].encode()).decode())
with open("/work/out/dump.bin", "wb") as f:
    f.write(b"\x00\x01" + os.environ["AWS_SESSION_TOKEN"].encode())
with open("/work/out/clean.txt", "w") as f:
    f.write("nothing to see\n")
# A finding that names the credential, as a scan of the scanner's own account might.
with open("/work/out/prowler.ocsf.json", "w") as f:
    f.write('[{"status_code": "FAIL", "finding_info": {"title": "t"}, "metadata": {"event_code": "c"},'
            ' "severity": "High", "resources": [{"uid": "%s"}]}]' % os.environ["AWS_SESSION_TOKEN"])
print("leaky: wrote the outputs")
"#;

#[tokio::test]
async fn a_tool_run_cannot_carry_its_credentials_out_through_its_artifacts() {
    let env = tools_env();
    let library = std::path::PathBuf::from(env.raw("SCRIPTS_DIR").unwrap());
    std::fs::write(library.join("sage-tools/custodian.py"), LEAKY_DRIVER).unwrap();
    let app = spawn_app_with(env).await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    wait_available(&app, "custodian").await;
    let ended = run_tool(
        &app,
        "custodian",
        json!({"iam_role_arn": "arn:aws:iam::123456789012:role/SageScanner",
               "policy": "policies: [{name: p, resource: aws.s3}]"}),
    )
    .await;
    let id = ended["id"].as_str().unwrap().to_owned();
    let log = app.log_text(&id).await;
    assert_eq!(ended["status"], "succeeded", "{ended}\n{log}");
    let items = artifacts(&app, &id).await;
    let names: Vec<&str> = items.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"dump.bin"), "{names:?}");
    let proof = download(named(&items, "proof.txt")).await;
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        assert!(proof.contains(&format!("{key}=***\n")), "{proof}");
    }
    let blob = download(named(&items, "env.json")).await;
    assert_eq!(blob, r#"{"blob": "***"}"#);
    assert_eq!(
        download(named(&items, "clean.txt")).await,
        "nothing to see\n"
    );
    // Findings are read from what was kept: the masked copy.
    let findings = app.db().findings(id.parse().unwrap()).await.unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].resource_id, "***", "{findings:?}");
    for line in [
        "sage: artifact masked: /work/out/proof.txt held a secret or credential of the run: kept with it masked",
        "sage: artifact masked: /work/out/env.json held a secret or credential of the run: kept with it masked",
        "sage: artifact skipped: /work/out/dump.bin holds a secret or credential of the run and is not text it could be masked in",
    ] {
        assert!(log.contains(line), "{line} missing from {log}");
    }
    worker.stop().await;
}
