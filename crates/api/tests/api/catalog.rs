use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, ANALYST, OTHER, TestApp, backup_module, spawn_app};

/// The fields an error body names.
fn fields(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn create_module(app: &TestApp) -> String {
    let script = app.register_backup_script().await;
    let (status, module) = app
        .post_as("/api/v1/modules", ADMIN, &backup_module(&script))
        .await;
    assert_eq!(status, 201, "{module}");
    module["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn registering_a_script_pins_its_sha256_once() {
    let app = spawn_app().await;
    let body = json!({"path": "backup_db.py", "interpreter": "python3", "description": "sample"});
    let (status, script) = app.post_as("/api/v1/scripts", ADMIN, &body).await;
    assert_eq!(status, 201, "{script}");
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/backup_db.py"
    ))
    .unwrap();
    assert_eq!(
        script["sha256"],
        sage_model::hex(&<sha2::Sha256 as sha2::Digest>::digest(&file))
    );
    let (status, again) = app.post_as("/api/v1/scripts", ADMIN, &body).await;
    assert_eq!(status, 409, "{again}");
    let (status, listed) = app.get_as("/api/v1/scripts", ADMIN).await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["next_cursor"], Value::Null);
}

#[tokio::test]
async fn script_refusals_name_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let before = app.audit_count().await;
    let cases = [
        (
            json!({"path": "/etc/passwd", "interpreter": "python3"}),
            400,
            "path",
        ),
        (
            json!({"path": "../../etc/passwd", "interpreter": "python3"}),
            400,
            "path",
        ),
        (
            json!({"path": "%2e%2e/%2e%2e/etc/passwd", "interpreter": "python3"}),
            400,
            "path",
        ),
        (
            json!({"path": "\u{2025}/etc/passwd", "interpreter": "python3"}),
            400,
            "path",
        ),
        (
            json!({"path": "backup_db.py\u{0}.txt", "interpreter": "python3"}),
            400,
            "path",
        ),
        (
            json!({"path": "missing.py", "interpreter": "python3"}),
            400,
            "path",
        ),
        (json!({"path": ".", "interpreter": "python3"}), 400, "path"),
        (
            json!({"path": "team", "interpreter": "python3"}),
            400,
            "path",
        ),
        (
            json!({"path": "escape.py", "interpreter": "python3"}),
            400,
            "path",
        ),
        (
            json!({"path": "backup_db.py", "interpreter": "perl"}),
            400,
            "interpreter",
        ),
        (
            json!({"path": "backup_db.py", "interpreter": "/bin/sh -c"}),
            400,
            "interpreter",
        ),
        (
            json!({"path": "backup_db.py", "interpreter": "python3", "run_as": "root"}),
            400,
            "run_as",
        ),
        (json!({"path": "backup_db.py"}), 400, "interpreter"),
        (json!({"path": 5, "interpreter": "python3"}), 400, "path"),
    ];
    for (body, status, field) in cases {
        let (got, answer) = app.post_as("/api/v1/scripts", ADMIN, &body).await;
        assert_eq!(got.as_u16(), status, "{body} -> {answer}");
        assert!(
            fields(&answer).iter().any(|f| f == field),
            "{body}: {field} not in {answer}"
        );
    }
    let (status, _) = app
        .post_as(
            "/api/v1/scripts",
            ANALYST,
            &json!({"path": "backup_db.py", "interpreter": "python3"}),
        )
        .await;
    assert_eq!(status, 403);
    let (_, listed) = app.get_as("/api/v1/scripts", ADMIN).await;
    assert!(
        listed["items"].as_array().unwrap().is_empty(),
        "nothing registered"
    );
    // Sign-ins of the users above are the only new events.
    let (_, events) = app
        .get_as("/api/v1/audit?action=script.create", ADMIN)
        .await;
    assert!(events["items"].as_array().unwrap().is_empty());
    assert!(app.audit_count().await >= before);
}

#[tokio::test]
async fn module_refusals_list_every_problem_and_change_nothing() {
    let app = spawn_app().await;
    let script = app.register_backup_script().await;
    let mut body = backup_module(&script);
    body["args"] = json!(["{nope}", "--key", "{backup_key}"]);
    body["limits"]["timeout_sec"] = json!(-1);
    body["params"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "p", "type": "string", "pattern": "(unclosed"}));
    body["name"] = json!("Bad Name");
    body["script_id"] = json!(uuid::Uuid::new_v4());
    let (status, answer) = app.post_as("/api/v1/modules", ADMIN, &body).await;
    assert_eq!(status, 400);
    let named = fields(&answer);
    for field in [
        "args[0]",
        "args[2]",
        "limits.timeout_sec",
        "params[4].pattern",
        "name",
        "script_id",
    ] {
        assert!(named.iter().any(|f| f == field), "{field} not in {named:?}");
    }
    let (_, listed) = app.get_as("/api/v1/modules", ADMIN).await;
    assert!(listed["items"].as_array().unwrap().is_empty());

    let mut unknown = backup_module(&script);
    unknown["owner"] = json!("me");
    let (status, answer) = app.post_as("/api/v1/modules", ADMIN, &unknown).await;
    assert_eq!(status, 400);
    assert_eq!(fields(&answer), ["owner"]);
}

#[tokio::test]
async fn versions_are_immutable_and_numbered() {
    let app = spawn_app().await;
    let id = create_module(&app).await;
    let mut next = backup_module(&app.register_backup_script_again().await);
    next.as_object_mut().unwrap().remove("name");
    next["limits"]["timeout_sec"] = json!(120);
    let (status, v2) = app
        .post_as(&format!("/api/v1/modules/{id}/versions"), ADMIN, &next)
        .await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["version"], 2);
    let (_, latest) = app.get_as(&format!("/api/v1/modules/{id}"), ADMIN).await;
    assert_eq!(latest["version"], 2);
    assert_eq!(latest["limits"]["timeout_sec"], 120);
    let (_, v1) = app
        .get_as(&format!("/api/v1/modules/{id}/versions/1"), ADMIN)
        .await;
    assert_eq!(v1["limits"]["timeout_sec"], 60);
    assert_eq!(
        v1["params_schema"]["properties"]["backup_key"]["writeOnly"],
        true
    );
    next["name"] = json!("renamed");
    let (status, answer) = app
        .post_as(&format!("/api/v1/modules/{id}/versions"), ADMIN, &next)
        .await;
    assert_eq!(
        (status, fields(&answer)),
        (StatusCode::BAD_REQUEST, vec!["name".to_owned()])
    );
    let (status, _) = app
        .get_as(&format!("/api/v1/modules/{id}/versions/9"), ADMIN)
        .await;
    assert_eq!(status, 404);
    let error = app
        .db()
        .execute_for_tests("UPDATE module_versions SET definition = '{}'")
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("append-only"));
}

#[tokio::test]
async fn access_follows_assignments_to_users_and_groups() {
    let app = spawn_app().await;
    let id = create_module(&app).await;
    let group_member = "member@example.com";
    app.user_with(group_member, &[], &["sec-team"]).await;
    let assignments = json!({"assignments": [
        {"user": ANALYST, "permissions": ["run", "view"]},
        {"group": "sec-team", "permissions": ["view"]}]});
    let (status, _) = app
        .put_as(
            &format!("/api/v1/modules/{id}/assignments"),
            ADMIN,
            &assignments,
        )
        .await;
    assert_eq!(status, 200);

    let module = format!("/api/v1/modules/{id}");
    let routes = [
        (module.clone(), "module"),
        (format!("{module}/versions/1"), "version"),
        ("/api/v1/modules".to_owned(), "list"),
    ];
    // (caller, sees the module?)
    let callers = [
        (ADMIN, true),
        (ANALYST, true),
        (group_member, true),
        (OTHER, false),
    ];
    for (route, what) in &routes {
        for (caller, sees) in callers {
            let (status, body) = app.get_as(route, caller).await;
            if *what == "list" {
                assert_eq!(status, 200);
                let listed = body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["id"] == id.as_str());
                assert_eq!(listed, sees, "{caller} listing");
            } else {
                let expected = if sees { 200 } else { 404 };
                assert_eq!(status.as_u16(), expected, "{caller} on {what}: {body}");
            }
        }
        let (status, _) = app.call(reqwest::Method::GET, route, None, None).await;
        assert_eq!(status, 401, "anonymous on {what}");
    }
    let (_, seen) = app.get_as(&module, group_member).await;
    assert_eq!(seen["permissions"], json!({"run": false, "view": true}));

    // Admin-only routes: 403 for everyone else, 401 without credentials.
    let admin_only = [
        format!("{module}/assignments"),
        "/api/v1/scripts".to_owned(),
        "/api/v1/audit".to_owned(),
        "/api/v1/audit/verify".to_owned(),
    ];
    for route in &admin_only {
        assert_eq!(app.get_as(route, ADMIN).await.0, 200, "{route}");
        for caller in [ANALYST, group_member, OTHER] {
            assert_eq!(
                app.get_as(route, caller).await.0,
                403,
                "{caller} on {route}"
            );
        }
        assert_eq!(
            app.call(reqwest::Method::GET, route, None, None).await.0,
            401
        );
    }
    let (status, _) = app
        .put_as(&format!("{module}/assignments"), ANALYST, &assignments)
        .await;
    assert_eq!(status, 403);
    // Admin-only changes: 403 for everyone else, 401 without credentials.
    let script = app.register_backup_script_again().await;
    let mut version = backup_module(&script);
    version.as_object_mut().unwrap().remove("name");
    let changes = [
        (
            reqwest::Method::POST,
            "/api/v1/modules".to_owned(),
            backup_module(&script),
        ),
        (reqwest::Method::POST, format!("{module}/versions"), version),
        (
            reqwest::Method::PUT,
            format!("{module}/assignments"),
            assignments.clone(),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/scripts".to_owned(),
            json!({"path": "backup_db.py", "interpreter": "python3"}),
        ),
    ];
    for (method, route, body) in &changes {
        for caller in [ANALYST, group_member, OTHER] {
            let (status, _) = app
                .call(method.clone(), route, Some(caller), Some(body))
                .await;
            assert_eq!(status, 403, "{caller} {method} {route}");
        }
        let (status, _) = app.call(method.clone(), route, None, Some(body)).await;
        assert_eq!(status, 401, "anonymous {method} {route}");
    }
    let random = format!("/api/v1/modules/{}", uuid::Uuid::new_v4());
    assert_eq!(app.get_as(&random, ADMIN).await.0, 404);
    assert_eq!(app.get_as("/api/v1/modules/not-a-uuid", ADMIN).await.0, 404);
}

#[tokio::test]
async fn assignment_refusals_name_each_entry() {
    let app = spawn_app().await;
    let id = create_module(&app).await;
    let body = json!({"assignments": [
        {"user": "nobody", "permissions": ["run"]},
        {"group": "g", "permissions": ["admin"]},
        {"user": ANALYST, "group": "g", "permissions": ["run"]},
        {"user": OTHER, "permissions": []}]});
    let (status, answer) = app
        .put_as(&format!("/api/v1/modules/{id}/assignments"), ADMIN, &body)
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        fields(&answer),
        [
            "assignments[0].user",
            "assignments[1].permissions",
            "assignments[2]",
            "assignments[3].permissions"
        ]
    );
    let (_, current) = app
        .get_as(&format!("/api/v1/modules/{id}/assignments"), ADMIN)
        .await;
    assert_eq!(current["assignments"], json!([]));
}

#[tokio::test]
async fn every_change_is_audited_and_the_chain_verifies() {
    let app = spawn_app().await;
    let id = create_module(&app).await;
    let assignments = json!({"assignments": [{"user": ANALYST, "permissions": ["run", "view"]}]});
    app.put_as(
        &format!("/api/v1/modules/{id}/assignments"),
        ADMIN,
        &assignments,
    )
    .await;
    let (status, events) = app.get_as("/api/v1/audit?limit=500", ADMIN).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "user.create",
        "script.create",
        "module.create",
        "module.assignments.replace",
    ] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }
    let module_events: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_id"] == id.as_str())
        .collect();
    assert!(
        module_events
            .iter()
            .all(|e| e["actor"] == ADMIN && e["ip"] == "127.0.0.1" && e["request_id"].is_string())
    );
    let (_, verify) = app.get_as("/api/v1/audit/verify", ADMIN).await;
    assert_eq!(verify["ok"], true);
    assert!(verify["checked"].as_u64().unwrap() >= 4);

    let auditor = "auditor@example.com";
    app.user_with(auditor, &["auditor"], &[]).await;
    assert_eq!(app.get_as("/api/v1/audit", auditor).await.0, 200);
    assert_eq!(app.get_as("/api/v1/scripts", auditor).await.0, 403);
}

#[tokio::test]
async fn the_audit_filters_by_each_field_and_pages_without_gaps() {
    let app = spawn_app().await;
    let script = app.register_backup_script().await;
    let mut modules = Vec::new();
    for name in ["backup-a", "backup-b", "backup-c"] {
        let mut body = backup_module(&script);
        body["name"] = json!(name);
        let (status, module) = app.post_as("/api/v1/modules", ADMIN, &body).await;
        assert_eq!(status, 201, "{module}");
        modules.push(module["id"].as_str().unwrap().to_owned());
    }
    let targets = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["target_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .get_as(
                &format!("/api/v1/audit?action=module.create&actor={ADMIN}&limit=1{cursor}"),
                ADMIN,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        paged.extend(targets(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let mut newest_first = modules.clone();
    newest_first.reverse();
    assert_eq!(paged, newest_first);

    let (_, one) = app
        .get_as(&format!("/api/v1/audit?target_id={}", modules[1]), ADMIN)
        .await;
    assert_eq!(targets(&one), [modules[1].clone()]);
    let (_, by_analyst) = app
        .get_as(
            &format!("/api/v1/audit?actor={ANALYST}&action=module.create"),
            ADMIN,
        )
        .await;
    assert!(targets(&by_analyst).is_empty());
    let (_, later) = app
        .get_as("/api/v1/audit?since=2999-01-01T00:00:00Z", ADMIN)
        .await;
    assert!(targets(&later).is_empty());
}
