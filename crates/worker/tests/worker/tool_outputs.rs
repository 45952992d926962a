//! What a scanner run's outputs come to, with a stand-in driver in place of a real
//! scanner: findings stored as a stream within the deployment's cap, one per check,
//! resource, region and account, and what was cut or left out said in the log and in
//! `result.json`.

use serde_json::{Value, json};

use sage_testkit::{TestApp, TestWorker, emulator, spawn_app_with, spawn_worker_with, tools_env};

use crate::scanners::{artifacts, download, named, run_tool, wait_available};

/// One run of Custodian's module whose driver is `driver` instead, on a worker whose
/// settings `tune` changes; the app, the worker, and the ended run.
async fn stand_in_run(
    driver: &str,
    tune: impl FnOnce(&mut sage_infra::config::Env),
) -> (TestApp, TestWorker, Value) {
    let env = tools_env();
    let library = std::path::PathBuf::from(env.raw("SCRIPTS_DIR").unwrap());
    std::fs::write(library.join("sage-tools/custodian.py"), driver).unwrap();
    let app = spawn_app_with(env).await;
    let worker = spawn_worker_with(&app, tune).await;
    wait_available(&app, "custodian").await;
    let ended = run_tool(
        &app,
        "custodian",
        json!({"policy": "policies: [{name: p, resource: aws.s3}]"}),
    )
    .await;
    (app, worker, ended)
}

/// A scanner that writes 40 Prowler findings: 20 checks, each written twice over.
const TWICE_OVER_DRIVER: &str = r#"import json
findings = [{"status_code": "FAIL", "finding_info": {"title": "t"}, "severity": "High",
             "metadata": {"event_code": "c%d" % (i // 2)}} for i in range(40)]
with open("/work/out/prowler.ocsf.json", "w") as f:
    json.dump(findings, f)
"#;

#[tokio::test]
async fn a_run_stores_its_findings_once_each_within_the_cap_and_counts_the_rest() {
    let (app, worker, ended) = Box::pin(stand_in_run(TWICE_OVER_DRIVER, |env| {
        env.set("SCANNER_MAX_FINDINGS", "30")
    }))
    .await;
    let id = ended["id"].as_str().unwrap().to_owned();
    let log = app.log_text(&id).await;
    assert_eq!(ended["status"], "succeeded", "{ended}\n{log}");
    // The first 30 read are c0 to c14, twice each: 15 stored, 10 over the cap.
    let over = "10 of the 40 findings read are over the cap of 30 per run and were not \
                stored: raise SCANNER_MAX_FINDINGS";
    assert!(
        log.contains("findings: 40 read from the outputs, 15 stored"),
        "{log}"
    );
    assert!(log.contains(&format!("sage: outputs cut: {over}")), "{log}");
    let items = artifacts(&app, &id).await;
    let result: Value =
        serde_json::from_str(&download(named(&items, "result.json")).await).unwrap();
    assert_eq!(
        (
            &result["findings"],
            &result["findings_read"],
            &result["findings_over_cap"]
        ),
        (&json!(15), &json!(40), &json!(10)),
        "{result}"
    );
    assert_eq!(result["counts"], json!({"fail": {"high": 15}}), "{result}");
    assert_eq!(result["outputs_complete"], false, "{result}");
    assert_eq!(result["outputs_cut"], json!([over]), "{result}");
    let findings = app.db().findings(id.parse().unwrap()).await.unwrap();
    let checks: Vec<String> = findings.iter().map(|f| f.check_id.clone()).collect();
    let expected: Vec<String> = (0..15).map(|i| format!("c{i}")).collect();
    assert_eq!(checks, expected, "in the order read, once each");
    worker.stop().await;
}

/// A scanner that runs out of space as Prowler did on a real account: its findings file
/// cut off mid-array, a big file filling the rest, and the files it opens after left
/// empty.
const FILLING_DRIVER: &str = r#"import os
finding = '{"status_code": "FAIL", "finding_info": {"title": "t"}, "metadata": {"event_code": "c%d"}, "severity": "High"}'
with open("/work/out/prowler.ocsf.json", "w") as f:
    f.write("[" + ",".join(finding % i for i in range(3)) + ",")
os.makedirs("/work/out/compliance")
try:
    with open("/work/out/filler.bin", "wb") as f:
        while True:
            f.write(b"x" * (1 << 20))
            f.flush()
except OSError as error:
    print(f"filler: {error.strerror}")
for name in ("cis_2.0_aws", "iso27001_2013_aws"):
    open(f"/work/out/compliance/prowler_{name}.ocsf.json", "w").close()
"#;

#[tokio::test]
async fn a_tool_run_whose_outputs_were_cut_says_so_naming_each_file() {
    let (app, worker, ended) = Box::pin(stand_in_run(FILLING_DRIVER, |env| {
        emulator::use_it(env);
        env.set("SCANNER_OUTPUT_MIB", "64");
    }))
    .await;
    let id = ended["id"].as_str().unwrap().to_owned();
    let log = app.log_text(&id).await;
    assert!(log.contains("filler: No space left on device"), "{log}");
    let items = artifacts(&app, &id).await;
    let result: Value =
        serde_json::from_str(&download(named(&items, "result.json")).await).unwrap();
    assert_eq!(result["outputs_complete"], false, "{result}");
    let cut: Vec<&str> = result["outputs_cut"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for expected in [
        "/work/out/prowler.ocsf.json: ",
        "the output space of 64 MiB filled up",
        "/work/out/compliance/prowler_cis_2.0_aws.ocsf.json is empty",
        "/work/out/compliance/prowler_iso27001_2013_aws.ocsf.json is empty",
    ] {
        assert!(
            cut.iter().any(|c| c.starts_with(expected)),
            "{expected} missing from {cut:?}"
        );
        assert!(
            log.contains(&format!("sage: outputs cut: {expected}")),
            "{expected} missing from the log: {log}"
        );
    }
    // What was read before the cut is kept, and said to be incomplete.
    assert_eq!(result["findings"], 3, "{result}");
    worker.stop().await;
}
