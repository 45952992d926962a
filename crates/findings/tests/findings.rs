//! The parsers against real scanner outputs (tests/fixtures, copied byte for byte from
//! public repositories, as tests/fixtures/README.md lists), counted again by an
//! independent script; the command line; and the evidence PDF read back with poppler's
//! tools.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// These tests run the command itself, poppler's tools and the independent count: no
// container is involved.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sage_findings::parse::{Input, parse_inputs};
use sage_findings::report::{
    AcceptedRisk, Evidence, FontFiles, Lang, Listing, NANUM_DIR, Previous, TrendPoint, Words,
    render,
};
use sage_findings::summary::Summary;
use sage_findings::{Finding, Record, Severity, Status};
use sage_model::compliance::{
    Assessment, CheckTally, EvidenceDocument, Framework, FrameworkName, Requirement,
    RequirementEvidence, RequirementStatus,
};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn independent_counts(paths: &[PathBuf]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent_counts.py");
    serde_json::from_slice(&succeeded(Command::new("python3").arg(script).args(paths))).unwrap()
}

fn parse(paths: &[PathBuf]) -> (Summary, Vec<Finding>, sage_findings::Parsed) {
    let inputs: Vec<Input> = paths.iter().map(Input::path).collect();
    let mut summary = Summary::default();
    let mut findings = Vec::new();
    let parsed = parse_inputs(&inputs, &mut |record| {
        summary.add(&record);
        if let Record::Finding(f) = record {
            findings.push(f);
        }
    })
    .unwrap();
    (summary, findings, parsed)
}

#[test]
fn every_fixture_counts_as_an_independent_count_does() {
    let folders = [
        "prowler/prowler-examples-v5",
        "prowler/defectdojo-v3-v4-aws",
        "scoutsuite/defectdojo-5.10.2",
        "scoutsuite/mohamedqadar-5.14.0-aws",
        "powerpipe/fixtures-powerpipe-acceptance",
        "powerpipe/fixtures-steampipe-acceptance",
        "powerpipe/sysco-oci-cis-v200-csv",
        "custodian/cloud-custodian-test-fixture",
        "custodian/samsongudise-c7n-0.8.40-aws",
    ];
    for folder in folders {
        let path = fixtures().join(folder);
        let (summary, findings, parsed) = parse(std::slice::from_ref(&path));
        let ours = serde_json::to_value(&summary.counts).unwrap();
        assert_eq!(ours, independent_counts(&[path]), "{folder}");
        assert!(parsed.skipped.is_empty(), "{folder}: {:?}", parsed.skipped);
        assert_eq!(findings.len() as u64, summary.total);
        let per_source: u64 = parsed.sources.iter().map(|s| s.findings).sum::<u64>();
        assert_eq!(
            per_source, summary.total,
            "{folder}: sources account for every finding"
        );
    }
}

#[test]
fn prowler_formats_agree_on_the_same_run() {
    let v5 = fixtures().join("prowler/prowler-examples-v5");
    let (_, ocsf, _) = parse(&[v5.join("example_output_gcp.ocsf.json")]);
    assert_eq!(ocsf.len(), 5);
    let first = &ocsf[0];
    assert_eq!(first.check_id, "apikeys_key_exists");
    assert_eq!(first.status, Status::Pass);
    assert_eq!(first.source.position, "[0]");
    assert!(!first.compliance.is_empty(), "{first:?}");
    let (_, v3, _) = parse(&[fixtures().join("prowler/defectdojo-v3-v4-aws/many_vuln.json")]);
    assert_eq!(v3[0].account, "999999999999");
    assert_eq!(v3[0].region, "us-east-1");
    assert!(v3[0].resource_id.starts_with("arn:aws:acm:"));
    let (_, csv, _) = parse(&[v5.join("example_output_aws.csv")]);
    assert_eq!(csv[0].check_id, "accessanalyzer_enabled");
    assert_eq!(csv[0].source.position, "line 2");
    // Before and after Prowler 4.5 renamed event_time: the same findings.
    let dojo = fixtures().join("prowler/defectdojo-v3-v4-aws");
    let (before, _, _) = parse(&[dojo.join("many_vuln.ocsf.json")]);
    let (after, _, _) = parse(&[dojo.join("many_vuln_after_4_5_0.ocsf.json")]);
    assert_eq!(before.counts, after.counts);
    assert_eq!(before.count(sage_findings::Tool::Prowler, Status::Muted), 1);
}

#[test]
fn a_control_under_several_parents_counts_once() {
    let path = fixtures()
        .join("powerpipe/fixtures-powerpipe-acceptance/expected_check_json_multiple_parents.json");
    let (summary, findings, _) = parse(&[path]);
    assert_eq!(summary.total, 1, "{findings:?}");
    assert_eq!(findings[0].check_id, "control.delay");
}

#[test]
fn custodian_policies_without_resources_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("out/broken-policy");
    std::fs::create_dir_all(&policy).unwrap();
    std::fs::write(policy.join("custodian-run.log"), "boom\n").unwrap();
    let (summary, findings, _) = parse(&[dir.path().to_owned()]);
    assert_eq!(summary.total, 1);
    assert_eq!(findings[0].status, Status::Error);
    assert_eq!(findings[0].check_id, "broken-policy");
}

#[test]
fn scout_exceptions_and_unknown_files_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("scoutsuite_exceptions_aws.js"),
        "scoutsuite_exceptions = {}",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let (summary, _, parsed) = parse(&[dir.path().to_owned()]);
    assert_eq!(summary.total, 0);
    let reasons: Vec<&str> = parsed.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "not a scanner output",
            "Scout Suite exceptions or errors, not results"
        ]
    );
}

#[test]
fn malformed_files_fail_with_their_name_and_position_and_cut_arrays_keep_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(
        fixtures().join("prowler/prowler-examples-v5/example_output_aws.ocsf.json"),
    )
    .unwrap();
    // Cut inside the third finding, as a killed scan leaves it.
    let third = source.match_indices("\n  {").nth(2).unwrap().0;
    let cut = dir.path().join("cut.ocsf.json");
    std::fs::write(&cut, &source[..third + 40]).unwrap();
    let (summary, _, parsed) = parse(&[cut]);
    assert_eq!(summary.total, 2);
    assert!(
        parsed.sources[0]
            .note
            .as_deref()
            .unwrap()
            .contains("interrupted")
    );

    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        source.replacen("\"severity\": \"Low\"", "\"severity\": Low", 1),
    )
    .unwrap();
    let inputs = [Input::path(&broken)];
    let error = parse_inputs(&inputs, &mut |_| {}).unwrap_err().to_string();
    let line = source
        .lines()
        .position(|l| l.contains("\"severity\": \"Low\""))
        .unwrap()
        + 1;
    assert!(
        error.starts_with(&format!("{}:{line}:", broken.display())),
        "{error}"
    );
}

#[test]
fn the_command_prints_a_finding_per_line_then_the_counts() {
    let binary = env!("CARGO_BIN_EXE_sage-findings");
    let all = fixtures();
    let stdout = String::from_utf8(succeeded(Command::new(binary).arg("parse").arg(&all))).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (counts, findings) = lines.split_last().unwrap();
    assert_eq!(*counts, independent_counts(std::slice::from_ref(&all)));
    let total: u64 = counts
        .as_object()
        .unwrap()
        .values()
        .flat_map(|s| s.as_object().unwrap().values())
        .flat_map(|s| s.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(findings.len() as u64, total);
    assert!(
        findings
            .iter()
            .all(|f| f["source"]["file"].is_string() && f["status"].is_string())
    );

    let summary = Command::new(binary)
        .args(["parse", "--summary"])
        .arg(&all)
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&summary.stdout).unwrap(),
        *counts
    );

    // The whole fixture set, in Korean: well over ten pages, well under 1 MB.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.pdf");
    succeeded(
        Command::new(binary)
            .arg("pdf")
            .arg(&all)
            .args(["--lang", "ko", "--title", "증적 테스트", "-o"])
            .arg(&report),
    );
    let size = std::fs::metadata(&report).unwrap().len();
    let info = Command::new("pdfinfo").arg(&report).output().unwrap();
    let pages: u64 = String::from_utf8_lossy(&info.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        pages >= 10 && size < 1024 * 1024,
        "{pages} pages, {size} bytes"
    );
    let text = pdftotext(&report);
    assert!(text.contains("증적 테스트") && text.contains("부록: 원본 아티팩트"));

    let refused = Command::new(binary).args(["pdf", "x"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("-o"));
}

fn pdftotext(pdf: &Path) -> String {
    String::from_utf8(succeeded(
        Command::new("pdftotext").arg("-layout").arg(pdf).arg("-"),
    ))
    .unwrap()
}

/// The standard output of a command that must succeed; its errors otherwise.
fn succeeded(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn the_evidence_pdf_of_a_mixed_set_shows_every_number_in_korean_or_english() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [
        fixtures().join("prowler/prowler-examples-v5/example_output_aws.ocsf.json"),
        fixtures().join("scoutsuite/defectdojo-5.10.2/two_findings.js"),
        fixtures().join("powerpipe/fixtures-powerpipe-acceptance/expected_check_json.json"),
        fixtures().join("custodian/samsongudise-c7n-0.8.40-aws"),
    ];
    let (summary, findings, parsed) = parse(&inputs);
    let assessment = isms_p_like();
    let risk = AcceptedRisk {
        tool: "prowler".to_owned(),
        scope: "check s3_bucket_default_encryption; accounts *; regions *; resources logs-*"
            .to_owned(),
        reason: "log archives, encrypted by the client".to_owned(),
        requested_by: "analyst@example.com".to_owned(),
        approved_by: "admin@example.com".to_owned(),
        approved_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now() + chrono::Duration::days(90),
        findings: 2,
    };
    let previous = Previous {
        id: "e-earlier".to_owned(),
        created_at: chrono::Utc::now() - chrono::Duration::days(7),
        failing: std::collections::BTreeMap::from([(Severity::High, 40), (Severity::Low, 2)]),
        requirements: std::collections::BTreeMap::from([("fail".to_owned(), 3)]),
        new: 5,
        reopened: 1,
        fixed: 9,
    };
    let trend: Vec<TrendPoint> = (0..13)
        .map(|week| TrendPoint {
            day: chrono::NaiveDate::from_ymd_opt(2026, 9, 7).unwrap()
                + chrono::Duration::weeks(week),
            failing: 800 - 10 * week as u64,
        })
        .collect();
    for lang in [Lang::Ko, Lang::En] {
        let evidence = Evidence {
            title: None,
            lang,
            generated_at: chrono::Utc::now(),
            summary: &summary,
            findings: &findings,
            parsed: &parsed,
            listing: &Listing::default(),
            assessment: Some(&assessment),
            accepted_risks: std::slice::from_ref(&risk),
            previous: Some(&previous),
            trend: &trend,
        };
        let pdf = render(
            &evidence.blocks(),
            &evidence.title(),
            lang.labels().page,
            &FontFiles::nanum(Path::new(NANUM_DIR)),
        )
        .unwrap();
        assert!(pdf.len() < 1024 * 1024, "{} bytes", pdf.len());
        let path = dir.path().join(format!("report-{lang:?}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        let text = pdftotext(&path);
        let labels = lang.labels();
        for label in [
            lang.default_title(),
            labels.by_tool,
            labels.most_failed,
            labels.appendix,
            labels.generated,
            labels.assessed,
            "2. 보호대책 요구사항",
            "암호정책 적용",
            lang.requirement_status(RequirementStatus::Accepted),
            lang.requirement_status(RequirementStatus::Manual),
            labels.accepted_risks,
            labels.documents,
            labels.executive,
            labels.since_previous,
            labels.fixed_since,
            labels.trend,
            labels.checks,
            "s3_bucket_public_access 3/0/0",
            "2026-11-30",
            "e-earlier",
            "board-minutes-2026.pdf (v2)",
            "log archives, encrypted by the client",
            "analyst@example.com /",
            "admin@example.com",
        ] {
            assert!(text.contains(label), "{label:?} missing from\n{text}");
        }
        // The by-tool table: each tool's total then its counts per status.
        for (tool, by_status) in &summary.counts {
            let total: u64 = by_status.values().flat_map(|s| s.values()).sum();
            let row = text
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{tool} ")))
                .unwrap_or_else(|| panic!("no row for {tool} in\n{text}"));
            let numbers: Vec<u64> = row
                .split_whitespace()
                .skip(1)
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(numbers[0], total, "{row}");
        }
        for source in &parsed.sources {
            let half = &source.sha256[..28];
            assert!(text.contains(half), "appendix lacks {}", source.file);
        }
        let pages = Command::new("pdftoppm")
            .args(["-r", "20", "-png"])
            .arg(&path)
            .arg(dir.path().join("page"))
            .status()
            .unwrap();
        assert!(pages.success(), "poppler renders every page");
        let rendered = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("page")
            })
            .count();
        assert!(
            rendered >= 4,
            "cover and summaries, findings per tool, compliance, appendix: {rendered}"
        );
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with("page") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    }
}

#[test]
fn a_prowler_compliance_csv_feeds_the_compliance_summary_not_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir
        .path()
        .join("prowler-output-123456789012_cis_1.5_aws.csv");
    std::fs::write(
        &csv,
        "PROVIDER;DESCRIPTION;ACCOUNTID;REGION;ASSESSMENTDATE;REQUIREMENTS_ID;\
         REQUIREMENTS_DESCRIPTION;STATUS;STATUSEXTENDED;RESOURCEID;CHECKID;MUTED;FRAMEWORK;VERSION\n\
         aws;CIS;123456789012;us-east-1;2024-01-01;1.1;Root;PASS;ok;r1;iam_root;False;CIS;1.5\n\
         aws;CIS;123456789012;us-east-1;2024-01-01;1.1;Root;FAIL;bad;r2;iam_root;False;CIS;1.5\n\
         aws;CIS;123456789012;us-east-1;2024-01-01;1.2;\"Multi\nline\";MANUAL;m;r3;iam_x;False;CIS;1.5\n",
    )
    .unwrap();
    let (summary, findings, parsed) = parse(&[csv]);
    assert!(findings.is_empty(), "compliance rows restate findings");
    assert_eq!(summary.total, 0);
    assert_eq!(parsed.sources[0].format, "prowler compliance csv");
    let frameworks = summary.frameworks();
    let cis = &frameworks["CIS 1.5"];
    assert_eq!(cis.requirements, 2);
    // Each requirement under its worst status: 1.1 failed once, 1.2 is manual.
    assert_eq!(cis.statuses[&Status::Fail], 1);
    assert_eq!(cis.statuses[&Status::Manual], 1);
    assert!(!cis.statuses.contains_key(&Status::Pass));
}

/// Prowler 5's `compliance/prowler_<framework>.ocsf.json`: OCSF Compliance Findings
/// (class 2003), one per requirement and finding, shaped as Prowler writes them.
const COMPLIANCE_OCSF: &str = r#"[{
    "activity_id": 1, "activity_name": "Create", "class_uid": 2003,
    "compliance": {"standards": ["cis_2.0_aws"], "requirements": ["2.1.1"], "status_id": 3,
                   "checks": [{"uid": "s3_bucket_default_encryption", "status": "FAIL"}]},
    "finding_info": {"uid": "prowler-aws-s3_bucket_default_encryption-1-2.1.1", "title": "2.1.1"},
    "metadata": {"event_code": "s3_bucket_default_encryption", "product": {"name": "Prowler"}},
    "resources": [{"uid": "arn:aws:s3:::plain", "region": "us-east-1"}],
    "severity": "Medium", "status": "New", "status_code": "FAIL"
},{
    "activity_id": 1, "activity_name": "Create", "class_uid": 2003,
    "compliance": {"standards": ["cis_2.0_aws"], "requirements": ["2.1.2"], "status_id": 1},
    "finding_info": {"uid": "prowler-aws-s3_bucket_secure_transport_policy-1-2.1.2", "title": "2.1.2"},
    "metadata": {"event_code": "s3_bucket_secure_transport_policy"},
    "resources": [{"uid": "arn:aws:s3:::plain", "region": "us-east-1"}],
    "severity": "Medium", "status": "New", "status_code": "PASS"
}]"#;

#[test]
fn prowlers_compliance_findings_are_compliance_data_never_findings() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir(folder.path().join("compliance")).unwrap();
    let file = folder
        .path()
        .join("compliance/prowler_cis_2.0_aws.ocsf.json");
    std::fs::write(&file, COMPLIANCE_OCSF).unwrap();
    let findings_file = fixtures().join("prowler/prowler-examples-v5/example_output_aws.ocsf.json");
    std::fs::copy(&findings_file, folder.path().join("prowler.ocsf.json")).unwrap();
    let (summary, findings, parsed) = parse(&[folder.path().to_owned()]);
    let (_, alone, _) = parse(&[findings_file]);
    assert_eq!(
        findings.len(),
        alone.len(),
        "the compliance file adds no finding"
    );
    assert_eq!(summary.total, alone.len() as u64);
    let compliance = parsed
        .sources
        .iter()
        .find(|s| s.file.ends_with("prowler_cis_2.0_aws.ocsf.json"))
        .unwrap();
    assert_eq!(compliance.findings, 0, "{compliance:?}");
    let frameworks = summary.frameworks();
    let cis = &frameworks["cis_2.0_aws"];
    assert_eq!(cis.requirements, 2, "{:?}", cis.statuses);
    assert_eq!(cis.statuses[&Status::Fail], 1);
    assert_eq!(cis.statuses[&Status::Pass], 1);
}

/// A framework of three requirements in Korean, as the scanner image's ISMS-P holds them
/// (one manual, one whose failing finding is accepted, one that fails), assessed.
fn isms_p_like() -> Assessment {
    let requirement = |id: &str, title: &str, domain: &str, checks: &[&str]| Requirement {
        id: id.to_owned(),
        title: title.to_owned(),
        domain: domain.to_owned(),
        checks: checks.iter().map(|c| (*c).to_owned()).collect(),
        ..Requirement::default()
    };
    let framework = Framework {
        framework: "KISA-ISMS-P".to_owned(),
        title: "KISA ISMS compliance framework 2023 (Korean)".to_owned(),
        version: "2023-korean".to_owned(),
        source: "prowler 5, prowler/compliance/aws/kisa_isms_p_2023_korean_aws.json".to_owned(),
        requirements: vec![
            requirement("1.1.1", "경영진의 참여", "1. 관리체계 수립 및 운영", &[]),
            requirement(
                "2.7.1",
                "암호정책 적용",
                "2. 보호대책 요구사항",
                &["s3_bucket_default_encryption"],
            ),
            requirement(
                "2.6.1",
                "네트워크 접근",
                "2. 보호대책 요구사항",
                &["s3_bucket_public_access"],
            ),
        ],
        ..Framework::default()
    };
    let tallies = std::collections::BTreeMap::from([
        (
            "s3_bucket_default_encryption".to_owned(),
            CheckTally {
                passed: 2,
                accepted: 1,
                failed: 0,
            },
        ),
        (
            "s3_bucket_public_access".to_owned(),
            CheckTally {
                passed: 0,
                accepted: 0,
                failed: 3,
            },
        ),
    ]);
    let name = FrameworkName::parse("kisa_isms_p_2023_korean_aws").unwrap();
    let documents = std::collections::BTreeMap::from([(
        "1.1.1".to_owned(),
        RequirementEvidence {
            documents: vec![EvidenceDocument {
                name: "board-minutes-2026.pdf".to_owned(),
                version: 2,
                description: "정보보호위원회 회의록".to_owned(),
                sha256: "a".repeat(64),
                size: 1024,
                uploaded_by: "admin@example.com".to_owned(),
                uploaded_at: chrono::Utc::now(),
            }],
            not_applicable: None,
        },
    )]);
    Assessment::of(&name, &framework, &tallies, &documents)
}
