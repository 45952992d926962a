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

fn fingerprint(resource: &str, check: &str) -> String {
    fingerprint_of(Tool::Prowler, resource, check)
}

fn fingerprint_of(tool: Tool, resource: &str, check: &str) -> String {
    let digest = Sha256::digest(format!(
        "{tool}\0111122223333\0us-east-1\0{resource}\0{check}\0"
    ));
    sage_model::hex(&digest)
}

/// Prowler's module, as installed at start.
async fn prowler(app: &TestApp) -> String {
    app.tool_module("prowler").await
}

/// A finished Prowler run whose findings are `rows` (resource, check, status,
/// severity), stored as a worker stores them.
async fn scanned(app: &TestApp, module: &str, rows: &[(&str, &str, &str, &str)]) -> ExecutionId {
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

const ENC: &str = "s3_bucket_default_encryption";
const PUBLIC: &str = "s3_bucket_public_access";

fn fingerprints(page: &Value) -> Vec<String> {
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
        json!({"open": {"critical": 1, "high": 1}, "fixed": {"medium": 1}})
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
