//! The scanners through `sage`, against the local AWS emulator: a Prowler run followed,
//! its findings and counts, a Korean evidence report to a PDF with its signed pack
//! verified (and a tampered one refused); two Custodian runs and what changed between
//! them.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sage_testkit::{ADMIN, TestApp, emulator, spawn_app_with, spawn_worker_with, tools_env};
use serde_json::Value;

use crate::{assert_refused, sage_as, sage_json_as, tempfile_with, text};

/// Waits until the workers' image holds `tool`, as `sage tools ls` says.
async fn wait_available(app: &TestApp, tool: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, tools) = sage_json_as(app, ADMIN, &["tools", "ls"]).await;
        if tools
            .iter()
            .any(|t| t["name"] == tool && t["available"] == true)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{tool} never became available: {tools:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The id of the run `sage … --follow` printed it started.
fn run_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("sage: run "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no run id in {stderr}"))
        .to_owned()
}

// Two threads: the api and the worker run in this process beside the test's waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prowler_scan_its_findings_and_a_verified_korean_report_through_sage() {
    let app = spawn_app_with(tools_env()).await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    wait_available(&app, "prowler").await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (plain, _) = emulator::seed_buckets(&tag).await;

    // The api names the parameter it refuses, as written, and nothing runs.
    let refused = sage_as(
        &app,
        ADMIN,
        &[
            "tools",
            "run",
            "prowler",
            "-p",
            "region=US East",
            "-p",
            "services=s3",
        ],
    )
    .await;
    assert_refused(&refused, "sage: region:");
    assert_eq!(app.execution_count().await, 0);

    let role = format!("iam_role_arn={}", emulator::ROLE_ARN);
    let scan = sage_as(
        &app,
        ADMIN,
        &[
            "tools",
            "run",
            "prowler",
            "-p",
            "provider=aws",
            "-p",
            "region=us-east-1",
            "-p",
            "services=s3",
            "-p",
            &role,
            "--follow",
        ],
    )
    .await;
    let (out, err) = (text(&scan.stdout), text(&scan.stderr));
    assert_eq!(scan.status.code(), Some(0), "{out}\n{err}");
    assert!(err.contains("ended succeeded"), "{err}");
    let run = run_id(&err);

    let (_, latest) = sage_json_as(&app, ADMIN, &["tools", "latest", "prowler"]).await;
    assert_eq!(latest[0]["execution"]["id"], run.as_str());
    let failing: u64 = latest[0]["counts"]["fail"]
        .as_object()
        .map(|by_severity| by_severity.values().filter_map(Value::as_u64).sum())
        .unwrap_or_default();
    assert!(failing > 0, "{latest:?}");

    // The plain bucket's finding, new, and its history names this run.
    let (_, findings) = sage_json_as(
        &app,
        ADMIN,
        &[
            "findings", "ls", "--tool", "prowler", "--state", "new", "--limit", "500",
        ],
    )
    .await;
    let on_plain = findings
        .iter()
        .find(|f| f["resource"].as_str().unwrap().contains(&plain))
        .unwrap_or_else(|| panic!("no finding on {plain}: {findings:?}"));
    let fingerprint = on_plain["fingerprint"].as_str().unwrap();
    let (_, shown) = sage_json_as(&app, ADMIN, &["findings", "show", fingerprint]).await;
    assert_eq!(shown[0]["history"][0]["to"], "new");
    assert_eq!(shown[0]["history"][0]["run"], run.as_str());
    let table = sage_as(&app, ADMIN, &["findings", "show", fingerprint]).await;
    assert!(
        text(&table.stdout).contains(&plain),
        "{}",
        text(&table.stdout)
    );

    // A Korean report to a PDF, and its signed pack.
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("report.pdf");
    let pack = dir.path().join("pack.zip");
    let refused = sage_as(
        &app,
        ADMIN,
        &["evidence", "create", "--tools", "prowler", "-o", "x.pdf"],
    )
    .await;
    assert_eq!(
        refused.status.code(),
        Some(2),
        "-o needs --wait: {}",
        text(&refused.stderr)
    );
    let refused = sage_as(
        &app,
        ADMIN,
        &["evidence", "create", "--tools", "prowler", "--lang", "fr"],
    )
    .await;
    assert_refused(&refused, "sage: lang:");
    let created = sage_as(
        &app,
        ADMIN,
        &[
            "evidence",
            "create",
            "--tools",
            "prowler",
            "--lang",
            "ko",
            "--wait",
            "-o",
            pdf.to_str().unwrap(),
            "--pack",
            pack.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}\n{}",
        text(&created.stdout),
        text(&created.stderr)
    );
    assert!(
        text(&created.stderr).contains("report.pdf ("),
        "{}",
        text(&created.stderr)
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    assert!(
        text(&created.stdout).contains("ready"),
        "{}",
        text(&created.stdout)
    );

    // The pack verifies with the key the api serves, and with that key saved to a file.
    let verified = sage_as(&app, ADMIN, &["evidence", "verify", pack.to_str().unwrap()]).await;
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    assert!(
        text(&verified.stdout).contains("verified with key"),
        "{}",
        text(&verified.stdout)
    );
    let (_, key) = app.get_as("/api/v1/evidence/public-key", ADMIN).await;
    let key_file = tempfile_with(&key.to_string());
    let offline = sage_as(
        &app,
        ADMIN,
        &[
            "evidence",
            "verify",
            pack.to_str().unwrap(),
            "--public-key",
            key_file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline.stdout));

    // One count changed in summary.json: named, exit 1.
    let tampered = dir.path().join("tampered.zip");
    rewrite_pack(&pack, &tampered, "summary.json", |summary| {
        let mut summary: Value = serde_json::from_slice(summary).unwrap();
        summary["total"] = Value::from(summary["total"].as_u64().unwrap() + 1);
        serde_json::to_vec(&summary).unwrap()
    });
    let refused = sage_as(
        &app,
        ADMIN,
        &["evidence", "verify", tampered.to_str().unwrap()],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stdout).contains("summary.json"),
        "{}",
        text(&refused.stdout)
    );
    worker.stop().await;
}

/// Copies a zip, `name`'s contents changed by `change`.
fn rewrite_pack(
    from: &std::path::Path,
    to: &std::path::Path,
    name: &str,
    change: impl Fn(&[u8]) -> Vec<u8>,
) {
    let mut source = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut target = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..source.len() {
        let mut entry = source.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let entry_name = entry.name().to_owned();
        if entry_name == name {
            bytes = change(&bytes);
        }
        target
            .start_file(entry_name, zip::write::SimpleFileOptions::default())
            .unwrap();
        target.write_all(&bytes).unwrap();
    }
    target.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_custodian_runs_and_what_changed_between_them() {
    let app = spawn_app_with(tools_env()).await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    wait_available(&app, "custodian").await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (plain, _) = emulator::seed_buckets(&tag).await;
    let policy = tempfile_with(&format!(
        "policies:\n  - name: unencrypted\n    resource: aws.s3\n    filters:\n      - type: value\n        key: Name\n        op: regex\n        value: '^sage-{tag}-.*'\n      - type: bucket-encryption\n        state: false\n"
    ));
    let scan = || async {
        let args = [
            "tools",
            "run",
            "custodian",
            "-p",
            "provider=aws",
            "-p",
            "region=us-east-1",
            "-p",
            &format!("iam_role_arn={}", emulator::ROLE_ARN),
            "-p",
            &format!("policy=@{}", policy.display()),
            "--follow",
        ];
        let done = sage_as(&app, ADMIN, &args).await;
        assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
        run_id(&text(&done.stderr))
    };
    let first = scan().await;
    emulator::encrypt(&emulator::s3().await, &plain).await;
    let second = scan().await;

    let (_, diff) = sage_json_as(
        &app,
        ADMIN,
        &["findings", "diff", "--from", &first, "--to", &second],
    )
    .await;
    assert_eq!(diff[0]["fixed"]["total"], 1, "{diff:?}");
    assert_eq!(diff[0]["new"]["total"], 0, "{diff:?}");
    assert!(
        diff[0]["fixed"]["findings"][0]["resource"]
            .as_str()
            .unwrap()
            .contains(&plain)
    );
    let table = sage_as(
        &app,
        ADMIN,
        &["findings", "diff", "--from", &first, "--to", &second],
    )
    .await;
    let out = text(&table.stdout);
    assert!(out.contains("fixed: 1") && out.contains(&plain), "{out}");

    let refused = sage_as(
        &app,
        ADMIN,
        &["findings", "diff", "--from", &first, "--to", "not-a-run"],
    )
    .await;
    assert_eq!(
        refused.status.code(),
        Some(2),
        "clap refuses what is not a run id"
    );
    worker.stop().await;
}
