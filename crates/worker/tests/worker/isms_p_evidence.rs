//! The ISMS-P evidence of a real Prowler scan (`scanners::prowler_scans_the_emulators_buckets`
//! runs it): a Korean report of every requirement with an accepted risk, a document and
//! an exclusion; its signed pack, verified offline and tampered with; and the next
//! report of the same scope, compared with it.

use sage_store::findings::StoredFinding;
use sage_testkit::{ADMIN, ANALYST, TestApp};
use serde_json::{Value, json};
use sha2::Digest as _;

/// Accepts the plain bucket's failing encryption by a second person, documents 1.1.1,
/// excludes 3.1.1, and builds the Korean ISMS-P report; checks it and returns it.
pub(crate) async fn korean_report_with_an_accepted_risk(
    app: &TestApp,
    findings: &[StoredFinding],
    plain: &str,
) -> Value {
    // KISA ISMS-P in Korean over the same run, with the plain bucket's failing
    // encryption accepted by a second person: every requirement of the framework the
    // image holds, each with its status.
    let failing = findings
        .iter()
        .find(|f| {
            f.resource_id.contains(plain)
                && f.status == "fail"
                && f.check_id == "s3_bucket_default_encryption"
        })
        .unwrap_or_else(|| panic!("the plain bucket is not unencrypted: {findings:?}"));
    let approver = "approver@example.com";
    app.user_with(approver, &["approver"], &[]).await;
    // A second person who sees Prowler's findings.
    let module = app.tool_module("prowler").await;
    app.assign(
        &module,
        json!([{"user": approver, "permissions": ["view"]}]),
    )
    .await;
    let (status, asked) = app
        .post_as(
            "/api/v1/risk-acceptances",
            ADMIN,
            &json!({"fingerprint": failing.fingerprint, "reason": "a test bucket",
                    "expires_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    let approve = format!(
        "/api/v1/risk-acceptances/{}/approve",
        asked["id"].as_str().unwrap()
    );
    let (status, approved) = app
        .post_as(&approve, approver, &json!({"comment": "agreed"}))
        .await;
    assert_eq!(status, 200, "{approved}");
    let (_, held) = app.get_as("/api/v1/compliance/frameworks", ADMIN).await;
    let korean = held["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "kisa_isms_p_2023_korean_aws")
        .unwrap_or_else(|| panic!("no Korean ISMS-P: {held}"))
        .clone();
    // A manual requirement's document, and one marked not applicable.
    let requirements = "/api/v1/compliance/frameworks/kisa_isms_p_2023_korean_aws/requirements";
    let minutes = b"%PDF-1.4 security committee minutes";
    let uploaded = app
        .client
        .post(format!(
            "{}{requirements}/1.1.1/documents?file=committee-minutes.pdf&description=minutes",
            app.address
        ))
        .header("X-Demo-User", ADMIN)
        .body(minutes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let (status, _) = app
        .put_as(
            &format!("{requirements}/3.1.1/not-applicable"),
            ADMIN,
            &json!({"reason": "no personal information is processed"}),
        )
        .await;
    assert_eq!(status, 200);
    let evidence = app
        .evidence_via(
            "/api/v1/evidence",
            ADMIN,
            json!({"tools": ["prowler"], "lang": "ko", "compliance": "kisa_isms_p_2023_korean_aws"}),
        )
        .await;
    assert_eq!(evidence["status"], "ready", "{evidence}");
    let assessed = &evidence["summary"]["requirements"];
    let items = assessed["items"].as_array().unwrap();
    assert_eq!(items.len(), 101, "{assessed}");
    assert_eq!(
        items.len(),
        korean["requirements"].as_u64().unwrap() as usize
    );
    // Those no check assesses: manual, but for the one marked not applicable.
    let unchecked = items.iter().filter(|r| r["checks"] == 0).count();
    assert_eq!(
        unchecked as u64,
        korean["requirements"].as_u64().unwrap() - korean["automated"].as_u64().unwrap()
    );
    let manual = items.iter().filter(|r| r["status"] == "manual").count();
    assert_eq!(manual, unchecked - 1);
    assert_eq!(assessed["counts"]["manual"], manual, "{assessed}");
    let by_id = |id: &str| items.iter().find(|r| r["id"] == id).unwrap();
    let documented = by_id("1.1.1");
    assert_eq!(documented["status"], "manual");
    assert_eq!(
        documented["documents"][0]["sha256"],
        sage_model::hex(&sha2::Sha256::digest(minutes))
    );
    assert_eq!(by_id("3.1.1")["status"], "not_applicable");
    // Encryption policy (2.7.1) names the bucket's check: the accepted failure is there.
    let encryption = items.iter().find(|r| r["id"] == "2.7.1").unwrap();
    assert!(
        encryption["check_ids"]
            .as_array()
            .unwrap()
            .contains(&json!("s3_bucket_default_encryption")),
        "{encryption}"
    );
    assert_ne!(encryption["status"], "not_assessed", "{encryption}");
    assert!(
        encryption["findings"]["accepted"].as_u64().unwrap() >= 1,
        "{encryption}"
    );
    // A requirement only IAM checks assess: this run of S3 did not assess it.
    assert!(
        items.iter().any(|r| r["status"] == "not_assessed"),
        "{assessed}"
    );
    // The accepted risk has a section of its own: who asked, who approved, why.
    let risks = evidence["summary"]["accepted_risks"].as_array().unwrap();
    let ours = risks
        .iter()
        .find(|r| r["reason"] == "a test bucket")
        .unwrap_or_else(|| panic!("{risks:?}"));
    assert_eq!(
        (
            &ours["requested_by"],
            &ours["approved_by"],
            &ours["findings"]
        ),
        (&json!(ADMIN), &json!(approver), &json!(1))
    );
    let text = crate::evidence::pdftotext(&crate::evidence::report_pdf(&evidence).await);
    for expected in [
        "2. 보호대책 요구사항",
        "암호정책 적용",
        "수동 (증적 문서)",
        "매핑 출처",
        "수용된 위험",
        "a test bucket",
        "증적 문서",
        "committee-minutes.pdf (v1)",
        "해당 없음",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from the PDF");
    }

    evidence
}

/// The report's signed pack verifies with the public key the api serves; a byte changed
/// in its Prowler output is named.
pub(crate) async fn its_pack_verifies_offline(app: &TestApp, evidence: &Value) {
    // The signed pack verifies offline with the public key the api serves; a byte
    // changed in the Prowler output it holds is named.
    let (status, key) = app.get_as("/api/v1/evidence/public-key", ANALYST).await;
    assert_eq!(status, 200, "{key}");
    let key = sage_findings::pack::PublicKey::from_json(&key.to_string()).unwrap();
    let pack_path = format!("/api/v1/evidence/{}/pack", evidence["id"].as_str().unwrap());
    let (status, link) = app.get_as(&pack_path, ADMIN).await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["name"], "pack.zip");
    let pack = reqwest::get(link["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let problems = sage_findings::pack::verify(std::io::Cursor::new(&pack), &key).unwrap();
    assert_eq!(problems, Vec::<String>::new());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&pack)).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    for expected in [
        "report.pdf",
        "summary.json",
        "findings.jsonl",
        "manifest.json",
        "manifest.sig",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .any(|n| n == "documents/1.1.1/committee-minutes.pdf"),
        "{names:?}"
    );
    let source = names
        .iter()
        .find(|n| n.starts_with("sources/") && n.ends_with("prowler.ocsf.json"))
        .unwrap_or_else(|| panic!("no Prowler source in {names:?}"))
        .clone();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().to_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if name == source {
            bytes[10] ^= 1;
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut out, &bytes).unwrap();
    }
    let tampered = out.finish().unwrap().into_inner();
    let problems = sage_findings::pack::verify(std::io::Cursor::new(&tampered), &key).unwrap();
    assert!(
        problems.iter().any(|p| p.starts_with(&source)),
        "{problems:?}"
    );
    // Analysts may not read another's report, nor its pack.
    let (status, _) = app.get_as(&pack_path, ANALYST).await;
    assert_eq!(status, 404);
}

/// A second report of the same scope compares with `evidence` on its summary page.
pub(crate) async fn the_next_report_compares_with_it(app: &TestApp, evidence: &Value) {
    // The same scope again: its summary page compares with the report above.
    let again = app
        .evidence_via(
            "/api/v1/evidence",
            ADMIN,
            json!({"tools": ["prowler"], "lang": "ko", "compliance": "kisa_isms_p_2023_korean_aws"}),
        )
        .await;
    assert_eq!(again["status"], "ready", "{again}");
    let previous = &again["summary"]["previous"];
    assert_eq!(previous["id"], evidence["id"], "{previous}");
    assert_eq!(previous["failing"], evidence["summary"]["failing"]);
    assert_eq!(
        previous["requirements"],
        evidence["summary"]["requirements"]["counts"]
    );
    // The last 13 weeks' failing findings, from the day counts: today's holds this
    // run's, the weeks before it none.
    let trend = again["summary"]["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 13, "{trend:?}");
    assert!(trend[12]["failing"].as_u64().unwrap() > 0, "{trend:?}");
    assert_eq!(trend[0]["failing"], 0, "{trend:?}");
    let text = crate::evidence::pdftotext(&crate::evidence::report_pdf(&again).await);
    for expected in [
        "요약",
        "실패 발견 항목",
        "같은 범위의 이전 보고서 이후",
        "비교 대상 보고서:",
        "조치됨",
        "최근 90일 실패 발견 항목",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from the PDF");
    }
}
