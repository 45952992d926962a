//! Evidence end to end: a module whose script leaves real scanner outputs in
//! `/work/out` runs in the sandbox, and `POST /api/v1/evidence` over its execution
//! returns a PDF and a JSON summary whose numbers are those of the files.

#![allow(clippy::disallowed_methods)] // pdftotext reads the PDF back; no container here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use sage_findings::parse::{Input, parse_inputs};
use sage_findings::summary::Summary;
use serde_json::{Value, json};

use sage_testkit::{
    ADMIN, ANALYST, OTHER, ScriptModule, TestApp, spawn_app, spawn_worker, spawn_worker_with,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../findings/tests/fixtures")
}

/// The scanner outputs the script writes, by their name under `out/`.
fn outputs() -> BTreeMap<String, PathBuf> {
    let mut files = BTreeMap::new();
    files.insert(
        "prowler/output.ocsf.json".to_owned(),
        fixtures().join("prowler/prowler-examples-v5/example_output_aws.ocsf.json"),
    );
    files.insert(
        "scout/scoutsuite_results_gcp.js".to_owned(),
        fixtures().join("scoutsuite/defectdojo-5.10.2/two_findings.js"),
    );
    let custodian = fixtures().join("custodian/samsongudise-c7n-0.8.40-aws/out");
    for policy in std::fs::read_dir(&custodian).unwrap() {
        let policy = policy.unwrap().path();
        for file in std::fs::read_dir(&policy).unwrap() {
            let file = file.unwrap().path();
            if file.is_file() {
                let name = format!(
                    "custodian/{}/{}",
                    policy.file_name().unwrap().to_string_lossy(),
                    file.file_name().unwrap().to_string_lossy()
                );
                files.insert(name, file);
            }
        }
    }
    files
}

/// A script that writes `outputs()` (embedded, the sandbox has no network) and a
/// file that is no scanner's.
fn scanner_script() -> String {
    let embedded: BTreeMap<String, String> = outputs()
        .into_iter()
        .map(|(name, path)| {
            let bytes = std::fs::read(path).unwrap();
            (
                name,
                base64::engine::general_purpose::STANDARD.encode(bytes),
            )
        })
        .collect();
    format!(
        "import base64, json, os\nfiles = json.loads({:?})\nfor name, data in files.items():\n    \
         os.makedirs(os.path.dirname('out/' + name), exist_ok=True)\n    \
         open('out/' + name, 'wb').write(base64.b64decode(data))\n\
         open('out/notes.txt', 'w').write('not a scanner output')\nprint('scanned')\n",
        serde_json::to_string(&embedded).unwrap()
    )
}

/// What the same files count, read here from the fixtures.
fn expected() -> Summary {
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in outputs() {
        let target = dir.path().join(name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(path, target).unwrap();
    }
    let mut summary = Summary::default();
    parse_inputs(&[Input::path(dir.path())], &mut |r| summary.add(&r)).unwrap();
    summary
}

async fn scanned_run(app: &TestApp) -> String {
    scanned_run_and(app, "").await
}

/// `scanned_run` whose script also runs `more` (Python) at its end.
async fn scanned_run_and(app: &TestApp, more: &str) -> String {
    let code = scanner_script() + more;
    let module = app
        .module_with(ScriptModule {
            file: "scan.py",
            code: &code,
            ..Default::default()
        })
        .await;
    let id = app.submit(&module, json!({})).await;
    let execution = app.wait_terminal(&id).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    id
}

/// A ready report's PDF, through its presigned URL.
pub(crate) async fn report_pdf(evidence: &Value) -> Vec<u8> {
    reqwest::get(evidence["pdf"]["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

pub(crate) fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn a_report_over_a_scanning_run_has_the_numbers_of_its_outputs() {
    let app = spawn_app().await;
    let _worker = spawn_worker(&app).await;
    let id = scanned_run(&app).await;
    let expected = expected();

    let audits = app.audit_count().await;
    let evidence = app
        .evidence_via(
            "/api/v1/evidence",
            ANALYST,
            json!({"execution_ids": [id], "lang": "ko", "title": "분기 점검 Q4"}),
        )
        .await;
    assert_eq!(evidence["status"], "ready", "{evidence}");
    assert_eq!(
        app.audit_count().await,
        audits + 2,
        "the request and the build are audited"
    );
    let summary = &evidence["summary"];
    assert_eq!(
        summary["counts"],
        serde_json::to_value(&expected.counts).unwrap()
    );
    assert_eq!(summary["total"], expected.total);
    assert_eq!(summary["runs"], json!([id]));
    let skipped: Vec<&Value> = summary["skipped"].as_array().unwrap().iter().collect();
    assert!(
        skipped.iter().any(|s| s["file"] == "notes.txt"),
        "{summary}"
    );

    // Every source in the appendix is an artifact of the run, with the same sha256.
    let (_, artifacts) = app
        .get_as(&format!("/api/v1/executions/{id}/artifacts"), ANALYST)
        .await;
    let recorded: BTreeMap<&str, &str> = artifacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["sha256"].as_str().unwrap()))
        .collect();
    for source in summary["sources"].as_array().unwrap() {
        let name = source["file"].as_str().unwrap();
        assert_eq!(source["run"], id.as_str());
        assert_eq!(
            Some(&source["sha256"].as_str().unwrap()),
            recorded.get(name),
            "{name}"
        );
    }

    let pdf = report_pdf(&evidence).await;
    assert_eq!(pdf.len() as u64, evidence["pdf"]["size"].as_u64().unwrap());
    assert!(pdf.len() < 1024 * 1024, "{} bytes", pdf.len());
    let text = pdftotext(&pdf);
    assert!(
        text.contains("분기 점검 Q4") && text.contains("도구 및 상태별 발견 항목"),
        "{text}"
    );
    assert!(text.contains(&id), "the run is named on the cover");
    for (tool, by_status) in &expected.counts {
        let total: u64 = by_status.values().flat_map(|s| s.values()).sum();
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{tool} ")))
            .unwrap_or_else(|| panic!("no row for {tool}"));
        assert_eq!(
            row.split_whitespace().nth(1),
            Some(total.to_string().as_str()),
            "{row}"
        );
    }
    let summary_file: Value = reqwest::get(evidence["summary_file"]["url"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary_file, *summary);

    // Only the tools asked for.
    let custodian = app
        .evidence_via(
            "/api/v1/evidence",
            ANALYST,
            json!({"execution_ids": [id], "tools": ["custodian"]}),
        )
        .await;
    assert_eq!(custodian["status"], "ready", "{custodian}");
    let counts = &custodian["summary"]["counts"];
    assert_eq!(counts.as_object().unwrap().len(), 1, "{counts}");
    assert_eq!(counts["custodian"], summary["counts"]["custodian"]);
    assert_eq!(custodian["lang"], "en");

    // Read again by its creator and by an admin; not by another analyst.
    let path = format!("/api/v1/evidence/{}", evidence["id"].as_str().unwrap());
    let (status, again) = app.get_as(&path, ADMIN).await;
    assert_eq!((status.as_u16(), &again["summary"]), (200, summary));
    let (status, _) = app.get_as(&path, OTHER).await;
    assert_eq!(status, 404);

    // The other analyst may not view the run: as if it did not exist, nothing recorded.
    let audits = app.audit_count().await;
    let (status, body) = app
        .post_as("/api/v1/evidence", OTHER, &json!({"execution_ids": [id]}))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(app.audit_count().await, audits);
}

#[tokio::test]
async fn refusals_name_the_field_and_record_nothing() {
    let app = spawn_app().await;
    let module = app.module_with(ScriptModule::default()).await;
    // No worker: the run stays queued.
    let queued = app.submit(&module, json!({})).await;
    let audits = app.audit_count().await;
    let cases = [
        (json!({}), 400, "tools"),
        (json!({"tools": []}), 400, "tools"),
        (
            json!({"tools": ["custodian"]}),
            409,
            "custodian has no finished run",
        ),
        (
            json!({"execution_ids": [queued], "max_findings_per_check": 0}),
            400,
            "max_findings_per_check",
        ),
        (json!({"execution_ids": []}), 400, "execution_ids"),
        (
            json!({"execution_ids": [queued, queued]}),
            400,
            "execution_ids",
        ),
        (
            json!({"execution_ids": [queued], "lang": "fr"}),
            400,
            "lang",
        ),
        (
            json!({"execution_ids": [queued], "title": " "}),
            400,
            "title",
        ),
        (
            json!({"execution_ids": [queued], "title": "x".repeat(201)}),
            400,
            "title",
        ),
        (
            json!({"execution_ids": [queued], "tools": ["nessus"]}),
            400,
            "tools[0]",
        ),
        (
            json!({"execution_ids": ["not-a-uuid"]}),
            400,
            "execution_ids",
        ),
        (
            json!({"execution_ids": [queued], "colour": "red"}),
            400,
            "colour",
        ),
        (
            json!({"execution_ids": [queued], "compliance": "cis_99.0_aws"}),
            400,
            "compliance",
        ),
        (
            json!({"execution_ids": [queued], "compliance": "../kisa"}),
            400,
            "compliance",
        ),
        (json!({"execution_ids": [uuid::Uuid::new_v4()]}), 404, ""),
        (json!({"execution_ids": [queued]}), 409, ""),
    ];
    for (body, expected, field) in cases {
        let (status, answer) = app.post_as("/api/v1/evidence", ANALYST, &body).await;
        assert_eq!(status.as_u16(), expected, "{body} → {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(field),
            "{body} → {answer}"
        );
    }
    assert_eq!(app.audit_count().await, audits, "refusals change nothing");
}

#[tokio::test]
async fn a_run_without_scanner_outputs_gives_no_report() {
    let app = spawn_app().await;
    let _worker = spawn_worker(&app).await;
    let module = app.module_with(ScriptModule::default()).await;
    let id = app.submit(&module, json!({})).await;
    app.wait_terminal(&id).await;
    let evidence = app
        .evidence_via("/api/v1/evidence", ANALYST, json!({"execution_ids": [id]}))
        .await;
    assert_eq!(evidence["status"], "failed", "{evidence}");
    let error = evidence["error"].as_str().unwrap();
    assert!(error.starts_with("no scanner output"), "{error}");
    assert_eq!(evidence["pdf"], Value::Null);
}

#[tokio::test]
async fn a_report_lists_a_bounded_number_of_findings_per_check_and_says_so() {
    let app = spawn_app().await;
    let _worker = spawn_worker(&app).await;
    let id = scanned_run(&app).await;
    let expected = expected();
    let evidence = app
        .evidence_via(
            "/api/v1/evidence",
            ANALYST,
            json!({"execution_ids": [id], "max_findings_per_check": 1}),
        )
        .await;
    assert_eq!(evidence["status"], "ready", "{evidence}");
    assert_eq!(evidence["max_findings_per_check"], 1);
    // The summaries count every finding; only the listing is capped.
    assert_eq!(evidence["summary"]["total"], expected.total);
    let pdf = report_pdf(&evidence).await;
    let text = pdftotext(&pdf);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Findings listed per check, at most"),
        "{flat}"
    );
    assert!(
        flat.contains("more findings of this tool are counted in the summaries"),
        "{flat}"
    );
}

#[tokio::test]
async fn a_report_lists_a_bounded_number_of_checks_and_says_so() {
    let app = spawn_app().await;
    let _worker = spawn_worker_with(&app, |env| env.set("EVIDENCE_MAX_CHECKS", "3")).await;
    let id = scanned_run(&app).await;
    let expected = expected();
    let evidence = app
        .evidence_via("/api/v1/evidence", ANALYST, json!({"execution_ids": [id]}))
        .await;
    assert_eq!(evidence["status"], "ready", "{evidence}");
    let summary = &evidence["summary"];
    // The counts take every finding; the listing and the most failed, three checks.
    assert_eq!(summary["total"], expected.total);
    assert_eq!(summary["listing"]["max_checks"], 3);
    let over = summary["listing"]["over_checks"].as_u64().unwrap();
    assert!(over > 0, "{summary}");
    assert!(
        summary["most_failed"].as_array().unwrap().len() <= 3,
        "{summary}"
    );
    let text = pdftotext(&report_pdf(&evidence).await);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Checks listed, at most (the counts include every check): 3"),
        "{flat}"
    );
    assert!(
        flat.contains(&format!(
            "{over} findings of checks beyond that cap are counted"
        )),
        "{flat}"
    );
}

/// A Prowler OCSF file of about 1.5 MB, written by the run beside the fixtures.
const BIG_OUTPUT: &str = "finding = {'status_code': 'FAIL', 'severity': 'High', \
    'finding_info': {'title': 't'}, 'metadata': {'event_code': 'big'}}\n\
json.dump([finding] * 15000, open('out/prowler/big.ocsf.json', 'w'))\n";

#[tokio::test]
async fn a_report_fetches_scanner_outputs_only_within_its_budget_and_lists_the_rest() {
    let app = spawn_app().await;
    let _worker = spawn_worker_with(&app, |env| env.set("EVIDENCE_FETCH_MIB", "1")).await;
    let id = scanned_run_and(&app, BIG_OUTPUT).await;
    let evidence = app
        .evidence_via("/api/v1/evidence", ANALYST, json!({"execution_ids": [id]}))
        .await;
    assert_eq!(evidence["status"], "ready", "{evidence}");
    let summary = &evidence["summary"];
    // The fixtures fit in 1 MiB; the big file does not, and is not counted.
    assert_eq!(summary["total"], expected().total);
    let skipped: BTreeMap<&str, &str> = summary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["file"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        skipped,
        BTreeMap::from([
            // A Custodian action's output, beside the files a policy folder is read by.
            (
                "custodian/my-first-policy/action-stop",
                "a JSON array of no known scanner"
            ),
            ("notes.txt", "not a scanner output"),
            (
                "prowler/big.ocsf.json",
                "over what one report fetches (1 MiB in all, EVIDENCE_FETCH_MIB)"
            ),
        ]),
        "{summary}"
    );
    let text = pdftotext(&report_pdf(&evidence).await);
    assert!(text.contains("prowler/big.ocsf.json"), "{text}");
}

#[tokio::test]
async fn past_reports_are_listed_newest_first_to_whoever_may_read_them() {
    let app = spawn_app().await;
    let _worker = spawn_worker(&app).await;
    let id = scanned_run(&app).await;
    let first = app
        .evidence_via(
            "/api/v1/evidence",
            ANALYST,
            json!({"execution_ids": [id], "lang": "ko"}),
        )
        .await;
    let second = app
        .evidence_via(
            "/api/v1/evidence",
            ADMIN,
            json!({"execution_ids": [id], "tools": ["prowler"]}),
        )
        .await;
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (first, second) = (
        first["id"].as_str().unwrap().to_owned(),
        second["id"].as_str().unwrap().to_owned(),
    );

    // Admins (and auditors) read every report, newest first; others their own.
    let (status, all) = app.get_as("/api/v1/evidence", ADMIN).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), [second.clone(), first.clone()]);
    assert_eq!(all["items"][0]["status"], "ready");
    assert_eq!(all["items"][1]["created_by"], ANALYST);
    let (_, own) = app.get_as("/api/v1/evidence", ANALYST).await;
    assert_eq!(ids(&own), [first.as_str()]);

    // Filters and pages.
    for (query, expected) in [
        ("lang=ko", vec![first.clone()]),
        ("tool=prowler", vec![second.clone()]),
        (
            &format!("created_by={ANALYST}") as &str,
            vec![first.clone()],
        ),
        ("status=failed", vec![]),
        ("since=2999-01-01T00:00:00Z", vec![]),
    ] {
        let (status, page) = app
            .get_as(&format!("/api/v1/evidence?{query}"), ADMIN)
            .await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(ids(&page), expected, "{query}");
    }
    let (_, page) = app.get_as("/api/v1/evidence?limit=1", ADMIN).await;
    assert_eq!(ids(&page), [second.as_str()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .get_as(&format!("/api/v1/evidence?limit=1&cursor={cursor}"), ADMIN)
        .await;
    assert_eq!(ids(&rest), [first]);
    assert_eq!(rest["next_cursor"], Value::Null);

    for (query, field) in [
        ("tool=nessus", "tool"),
        ("lang=fr", "lang"),
        ("status=done", "status"),
        ("since=yesterday", "since"),
        ("cursor=nonsense", "cursor"),
        ("limit=0", "limit"),
        ("colour=red", "colour"),
    ] {
        let (status, refused) = app
            .get_as(&format!("/api/v1/evidence?{query}"), ADMIN)
            .await;
        assert_eq!(status, 400, "{query}: {refused}");
        assert!(refused.to_string().contains(field), "{query}: {refused}");
    }
}
