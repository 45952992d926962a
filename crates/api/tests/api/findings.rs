//! `GET /api/v1/findings` and `/api/v1/findings/{fingerprint}`: findings over time as
//! callers read them, over runs stored as a worker stores them, refusals naming the
//! field, and only what the caller may see.

use sage_model::ExecutionId;
use sage_model::tools::Tool;
use sage_store::finding_states::Coverage;
use sage_store::findings::{NewToolRun, StoredFinding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{ADMIN, ANALYST, ScriptModule, TestApp, spawn_app_with, tools_env};

pub(crate) fn fingerprint(resource: &str, check: &str) -> String {
    fingerprint_of(Tool::Prowler, resource, check)
}

pub(crate) fn fingerprint_of(tool: Tool, resource: &str, check: &str) -> String {
    let digest = Sha256::digest(format!(
        "{tool}\0111122223333\0us-east-1\0{resource}\0{check}\0"
    ));
    sage_model::hex(&digest)
}

/// Prowler's module, as installed at start.
pub(crate) async fn prowler(app: &TestApp) -> String {
    app.tool_module("prowler").await
}

/// A finished Prowler run whose findings are `rows` (resource, check, status,
/// severity), stored as a worker stores them.
pub(crate) async fn scanned(
    app: &TestApp,
    module: &str,
    rows: &[(&str, &str, &str, &str)],
) -> ExecutionId {
    scanned_by(app, Tool::Prowler, module, rows).await
}

/// A finished run of `tool`, as `scanned`.
async fn scanned_by(
    app: &TestApp,
    tool: Tool,
    module: &str,
    rows: &[(&str, &str, &str, &str)],
) -> ExecutionId {
    let id = app.finished_execution(module).await;
    let findings: Vec<StoredFinding> = rows
        .iter()
        .map(|(resource, check, status, severity)| StoredFinding {
            tool,
            check_id: (*check).to_owned(),
            title: format!("{check}, said plainly"),
            severity: (*severity).to_owned(),
            status: (*status).to_owned(),
            resource_id: (*resource).to_owned(),
            resource_type: "AwsS3Bucket".to_owned(),
            region: "us-east-1".to_owned(),
            account: "111122223333".to_owned(),
            fingerprint: fingerprint_of(tool, resource, check),
        })
        .collect();
    let run = NewToolRun {
        execution_id: id,
        tool,
        tool_version: Some("5.14.0".to_owned()),
        result_key: format!("runs/test/{id}/result.json"),
        regions: Some(vec!["us-east-1".to_owned()]),
    };
    app.db()
        .record_tool_run(
            &run,
            futures_util::stream::iter(findings),
            std::future::ready(Coverage::Whole),
        )
        .await
        .unwrap();
    id
}

pub(crate) const ENC: &str = "s3_bucket_default_encryption";
pub(crate) const PUBLIC: &str = "s3_bucket_public_access";

pub(crate) fn fingerprints(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn findings_are_listed_with_their_state_and_history_to_whoever_may_see_a_run() {
    let app = spawn_app_with(tools_env()).await;
    let module = prowler(&app).await;
    let first = scanned(
        &app,
        &module,
        &[
            ("logs", ENC, "fail", "medium"),
            ("www", PUBLIC, "fail", "critical"),
            ("data", ENC, "fail", "high"),
        ],
    )
    .await;
    let second = scanned(
        &app,
        &module,
        &[
            ("logs", ENC, "pass", "medium"),
            ("www", PUBLIC, "fail", "critical"),
            ("data", ENC, "fail", "high"),
        ],
    )
    .await;

    // Gravest first.
    let (status, page) = app.get_as("/api/v1/findings", ADMIN).await;
    assert_eq!(status, 200, "{page}");
    let all = fingerprints(&page);
    assert_eq!(
        all,
        [
            fingerprint("www", PUBLIC),
            fingerprint("data", ENC),
            fingerprint("logs", ENC)
        ]
    );
    let www = &page["items"][0];
    assert_eq!(
        (
            &www["state"],
            &www["severity"],
            &www["resource"],
            &www["region"]
        ),
        (
            &json!("open"),
            &json!("critical"),
            &json!("www"),
            &json!("us-east-1")
        )
    );
    assert_eq!(www["first_run"], first.to_string());
    assert_eq!(www["last_run"], second.to_string());

    let (_, fixed) = app
        .get_as("/api/v1/findings?state=fixed&tool=prowler", ADMIN)
        .await;
    assert_eq!(fingerprints(&fixed), [fingerprint("logs", ENC)]);
    let (_, by) = app
        .get_as(
            &format!("/api/v1/findings?check={ENC}&resource=da&severity=high"),
            ADMIN,
        )
        .await;
    assert_eq!(fingerprints(&by), [fingerprint("data", ENC)]);

    // Pages follow the order, then end.
    let mut seen = Vec::new();
    let mut path = "/api/v1/findings?limit=1".to_owned();
    loop {
        let (status, page) = app.get_as(&path, ADMIN).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(fingerprints(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/findings?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, all);

    let logs = fingerprint("logs", ENC);
    let (status, detail) = app.get_as(&format!("/api/v1/findings/{logs}"), ADMIN).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["state"], "fixed");
    assert!(detail["fixed_at"].is_string(), "{detail}");
    assert_eq!(
        app.finding_history(&logs).await,
        [
            (Value::Null, json!("new"), json!(first.to_string())),
            (json!("new"), json!("fixed"), json!(second.to_string())),
        ]
    );

    // The analyst may see no Prowler run yet: nothing, and no such finding.
    let (_, none) = app.get_as("/api/v1/findings", ANALYST).await;
    assert_eq!(fingerprints(&none), Vec::<String>::new());
    let (status, _) = app
        .get_as(&format!("/api/v1/findings/{logs}"), ANALYST)
        .await;
    assert_eq!(status, 404);
    let diff = format!("/api/v1/findings/diff?from={first}&to={second}");
    let (status, _) = app.get_as(&diff, ANALYST).await;
    assert_eq!(status, 404, "runs the analyst may not see");
    app.assign(&module, json!([{"user": ANALYST, "permissions": ["view"]}]))
        .await;
    let (_, visible) = app.get_as("/api/v1/findings", ANALYST).await;
    assert_eq!(fingerprints(&visible), all);

    // From the first run to the second: one fixed, two still open.
    let (status, changes) = app.get_as(&diff, ANALYST).await;
    assert_eq!(status, 200, "{changes}");
    assert_eq!(changes["tool"], "prowler");
    let totals: Vec<(&str, &Value)> = ["new", "reopened", "still_open", "fixed", "not_covered"]
        .into_iter()
        .map(|change| (change, &changes[change]["total"]))
        .collect();
    assert_eq!(
        totals,
        [
            ("new", &json!(0)),
            ("reopened", &json!(0)),
            ("still_open", &json!(2)),
            ("fixed", &json!(1)),
            ("not_covered", &json!(0)),
        ]
    );
    let fixed_ones = json!({"items": changes["fixed"]["findings"]});
    assert_eq!(fingerprints(&fixed_ones), [logs.as_str()]);
    assert_eq!(changes["fixed"]["findings"][0]["state"], "fixed");

    // Read again after a third run failed the fixed one again: what changed between the
    // two runs is the same (kept once read), each finding shown as it stands now, and a
    // smaller page is the gravest of the same order.
    let third = scanned(
        &app,
        &module,
        &[
            ("logs", ENC, "fail", "medium"),
            ("data", ENC, "fail", "high"),
        ],
    )
    .await;
    let (status, again) = app.get_as(&format!("{diff}&limit=1"), ANALYST).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["fixed"]["total"], 1);
    assert_eq!(
        again["fixed"]["findings"][0]["state"], "reopened",
        "{again}"
    );
    assert_eq!(again["still_open"]["total"], 2);
    let gravest = json!({"items": again["still_open"]["findings"]});
    assert_eq!(fingerprints(&gravest), [fingerprint("www", PUBLIC)]);
    let (_, later) = app
        .get_as(
            &format!("/api/v1/findings/diff?from={second}&to={third}"),
            ANALYST,
        )
        .await;
    let reopened = json!({"items": later["reopened"]["findings"]});
    assert_eq!(fingerprints(&reopened), [logs.as_str()], "{later}");

    // Today's counts by state and severity, and the days before with no run.
    let (status, trend) = app
        .get_as("/api/v1/findings/trends?tool=prowler&days=3", ANALYST)
        .await;
    assert_eq!(status, 200, "{trend}");
    let days = trend["days"].as_array().unwrap();
    assert_eq!(days.len(), 3, "{trend}");
    assert_eq!(
        (&days[0]["scanned"], &days[0]["counts"]),
        (&json!(false), &json!({}))
    );
    assert_eq!(days[2]["scanned"], true);
    assert_eq!(
        days[2]["counts"],
        json!({"open": {"critical": 1, "high": 1}, "reopened": {"medium": 1}}),
        "{trend}"
    );
}

#[tokio::test]
async fn bad_filters_are_refused_naming_the_field() {
    let app = spawn_app_with(tools_env()).await;
    for (query, field) in [
        ("tool=nessus", "tool"),
        ("severity=severe", "severity"),
        ("state=closed", "state"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("cursor=abc", "cursor"),
        ("limit=0", "limit"),
        ("account=", "account"),
        ("colour=red", "colour"),
    ] {
        let (status, body) = app
            .get_as(&format!("/api/v1/findings?{query}"), ADMIN)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        let fields: Vec<&str> = body["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{query}: {body}");
    }
    for (query, field) in [
        ("to=0123abcd-0000-4000-8000-000000000000", "from"),
        (
            "from=yesterday&to=0123abcd-0000-4000-8000-000000000000",
            "from",
        ),
        ("from=0123abcd-0000-4000-8000-000000000000&to=x", "to"),
    ] {
        let (status, body) = app
            .get_as(&format!("/api/v1/findings/diff?{query}"), ADMIN)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(
            body["error"]["fields"][0]["field"], field,
            "{query}: {body}"
        );
    }
    // A run of no tool is no side of a diff.
    let module = app.module_with(ScriptModule::default()).await;
    let plain = app.submit(&module, json!({})).await;
    let (status, body) = app
        .get_as(
            &format!("/api/v1/findings/diff?from={plain}&to={plain}"),
            ADMIN,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "from", "{body}");
    for (query, field) in [
        ("days=3", "tool"),
        ("tool=prowler&days=0", "days"),
        ("tool=x", "tool"),
    ] {
        let (status, body) = app
            .get_as(&format!("/api/v1/findings/trends?{query}"), ADMIN)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(
            body["error"]["fields"][0]["field"], field,
            "{query}: {body}"
        );
    }
    for path in [
        "/api/v1/findings/not-a-fingerprint",
        &format!("/api/v1/findings/{}", "0".repeat(64)),
    ] {
        let (status, _) = app.get_as(path, ADMIN).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn every_tools_findings_on_one_resource_sit_together() {
    let app = spawn_app_with(tools_env()).await;
    let prowler = prowler(&app).await;
    let custodian = app.tool_module("custodian").await;
    let role = "arn:aws:iam::111122223333:role/Admin";
    scanned(
        &app,
        &prowler,
        &[
            ("www", ENC, "fail", "medium"),
            ("logs", ENC, "fail", "medium"),
            (role, "iam_role_administrator_access", "fail", "high"),
        ],
    )
    .await;
    scanned_by(
        &app,
        Tool::Custodian,
        &custodian,
        &[("www", "unencrypted", "fail", "unknown")],
    )
    .await;

    // A bucket by its name or its ARN: both tools' findings, gravest first.
    for path in [
        "/api/v1/resources/www",
        "/api/v1/resources/arn:aws:s3:::www",
    ] {
        let (status, found) = app.get_as(path, ADMIN).await;
        assert_eq!(status, 200, "{path}: {found}");
        assert_eq!(found["resource"], "www");
        let tools: Vec<&str> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["tool"].as_str().unwrap())
            .collect();
        assert_eq!(tools, ["prowler", "custodian"], "{path}: {found}");
    }
    // An ARN with a slash, percent-encoded as a path segment must be.
    let (status, found) = app
        .get_as(
            "/api/v1/resources/arn:aws:iam::111122223333:role%2FAdmin",
            ADMIN,
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["resource"], role);
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    // Nothing the analyst may see.
    let (_, hidden) = app.get_as("/api/v1/resources/www", ANALYST).await;
    assert_eq!(hidden["items"], json!([]));
}

#[tokio::test]
async fn a_resources_findings_sit_under_the_requirements_whose_checks_reported_them() {
    let app = spawn_app_with(tools_env()).await;
    let prowler = prowler(&app).await;
    let custodian = app.tool_module("custodian").await;
    // Read out of this machine's scanner image, as a worker does at start.
    app.report_scanner_image().await;
    let (status, held) = app.get_as("/api/v1/compliance/frameworks", ANALYST).await;
    assert_eq!(status, 200, "{held}");
    let isms_p = held["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "kisa_isms_p_2023_aws")
        .unwrap_or_else(|| panic!("no ISMS-P: {held}"));
    // KISA ISMS-P 2023: 101 requirements, 26 of them assessed by Prowler's checks.
    assert_eq!(isms_p["requirements"], 101, "{isms_p}");
    assert_eq!(isms_p["automated"], 26, "{isms_p}");
    assert_eq!(isms_p["framework"], "KISA-ISMS-P");
    assert_eq!(isms_p["tool"], "prowler");
    assert!(
        isms_p["source"]
            .as_str()
            .unwrap()
            .ends_with("prowler/compliance/aws/kisa_isms_p_2023_aws.json"),
        "{isms_p}"
    );

    const TRANSPORT: &str = "s3_bucket_secure_transport_policy";
    scanned(
        &app,
        &prowler,
        &[
            ("www", ENC, "fail", "medium"),
            ("www", PUBLIC, "fail", "high"),
            ("www", TRANSPORT, "fail", "low"),
        ],
    )
    .await;
    scanned_by(
        &app,
        Tool::Custodian,
        &custodian,
        &[("www", "unencrypted", "fail", "unknown")],
    )
    .await;
    let (enc, public, transport) = (
        fingerprint("www", ENC),
        fingerprint("www", PUBLIC),
        fingerprint("www", TRANSPORT),
    );

    // By default: the newest CIS of each cloud and ISMS-P in English.
    let (status, found) = app.get_as("/api/v1/resources/www", ADMIN).await;
    assert_eq!(status, 200, "{found}");
    let frameworks: Vec<&str> = found["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        frameworks.contains(&"kisa_isms_p_2023_aws"),
        "{frameworks:?}"
    );
    assert!(frameworks.contains(&"cis_7.0_aws"), "{frameworks:?}");
    assert!(!frameworks.contains(&"cis_6.0_aws"), "{frameworks:?}");
    let under = |framework: &str, requirement: &str| -> Vec<String> {
        found["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["framework"] == framework && c["requirement"] == requirement)
            .map(|c| serde_json::from_value(c["fingerprints"].clone()).unwrap())
            .unwrap_or_default()
    };
    // Encryption at rest and in transit under ISMS-P 2.7.1, public access under 2.6.1,
    // all three under 2.10.2 (cloud security), each gravest first; the transport policy
    // under CIS 7.0's 3.1.1.
    assert_eq!(
        under("kisa_isms_p_2023_aws", "2.7.1"),
        [enc.as_str(), transport.as_str()]
    );
    assert_eq!(under("kisa_isms_p_2023_aws", "2.6.1"), [public.as_str()]);
    assert_eq!(
        under("kisa_isms_p_2023_aws", "2.10.2"),
        [public.as_str(), enc.as_str(), transport.as_str()]
    );
    assert_eq!(under("cis_7.0_aws", "3.1.1"), [transport.as_str()]);
    let control = found["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["requirement"] == "2.7.1")
        .unwrap();
    assert_eq!(
        control["title"], "Application of Encryption Policy",
        "{control}"
    );
    // Custodian's policy names no framework's check: listed, under no requirement.
    let custodian_finding = fingerprint_of(Tool::Custodian, "www", "unencrypted");
    assert!(fingerprints(&found).contains(&custodian_finding));
    assert!(
        !found["controls"].to_string().contains(&custodian_finding),
        "{found}"
    );

    // Frameworks named: only those; none at all when the list is empty.
    let (status, korean) = app
        .get_as(
            "/api/v1/resources/www?compliance=kisa_isms_p_2023_korean_aws",
            ADMIN,
        )
        .await;
    assert_eq!(status, 200, "{korean}");
    assert_eq!(korean["frameworks"].as_array().unwrap().len(), 1);
    let control = korean["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["requirement"] == "2.7.1")
        .unwrap();
    assert_eq!(control["title"], "암호정책 적용", "{control}");
    let (status, none) = app.get_as("/api/v1/resources/www?compliance=", ADMIN).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["frameworks"], json!([]));
    assert_eq!(none["controls"], json!([]));
    assert_eq!(none["items"].as_array().unwrap().len(), 4);

    // Refusals name the field.
    for query in [
        "compliance=cis_99.0_aws",
        "compliance=cis_7.0_aws,..%2Fetc",
        "compliance=CIS_7.0_AWS",
        "framework=cis_7.0_aws",
    ] {
        let (status, refused) = app
            .get_as(&format!("/api/v1/resources/www?{query}"), ADMIN)
            .await;
        assert_eq!(status, 400, "{query}: {refused}");
        let field = if query.starts_with("framework") {
            "framework"
        } else {
            "compliance"
        };
        assert!(refused.to_string().contains(field), "{query}: {refused}");
    }
}
