//! The accounts inventory: admins add and edit accounts (each change a version and an
//! audit event, external ids sealed and never shown), auditors read them, and every
//! bad field is refused by name with nothing recorded.

use serde_json::json;

use sage_testkit::{ADMIN, ANALYST, spawn_app};

const AUDITOR: &str = "auditor@example.com";

#[tokio::test]
async fn admins_keep_the_accounts_and_each_change_is_a_version() {
    let app = spawn_app().await;
    app.user_with(AUDITOR, &["auditor"], &[]).await;
    let (status, created) = app
        .post_as(
            "/api/v1/accounts",
            ADMIN,
            &json!({"id": "111122223333", "name": "prod", "role": "audit/SageReader",
                    "external_id": "tenant-42-external", "regions": ["ap-northeast-2", "us-east-1"],
                    "tags": {"env": "prod", "team": "payments"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["role_arn"],
        "arn:aws:iam::111122223333:role/audit/SageReader"
    );
    assert_eq!(created["external_id_set"], true);
    assert_eq!(created["source"], "manual");
    assert_eq!(created["version"], 1);
    assert!(!created.to_string().contains("tenant-42-external"));
    let sealed = app
        .db()
        .sealed_external_id(&"111122223333".parse_account())
        .await
        .unwrap()
        .unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("tenant-42"));

    let (status, _) = app
        .post_as(
            "/api/v1/accounts",
            ADMIN,
            &json!({"id": "444455556666", "name": "dev", "tags": {"env": "dev"}}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, again) = app
        .post_as(
            "/api/v1/accounts",
            ADMIN,
            &json!({"id": "111122223333", "name": "x"}),
        )
        .await;
    assert_eq!(status, 409, "{again}");

    // Read by tags; auditors read, analysts do not.
    let (status, prod) = app.get_as("/api/v1/accounts?tags=env=prod", AUDITOR).await;
    assert_eq!(status, 200, "{prod}");
    assert_eq!(prod["items"].as_array().unwrap().len(), 1);
    assert_eq!(prod["items"][0]["id"], "111122223333");
    let (status, _) = app.get_as("/api/v1/accounts", ANALYST).await;
    assert_eq!(status, 403);

    // An edit names the version it read; a stale one is refused and changes nothing.
    let edit = json!({"name": "production", "role": "arn:aws:iam::111122223333:role/Other",
                      "regions": ["ap-northeast-2"], "tags": {"env": "prod"}, "version": 1});
    let (status, edited) = app
        .put_as("/api/v1/accounts/111122223333", ADMIN, &edit)
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["role_arn"], "arn:aws:iam::111122223333:role/Other");
    assert_eq!(edited["external_id_set"], true, "kept when not given");
    let (status, stale) = app
        .put_as("/api/v1/accounts/111122223333", ADMIN, &edit)
        .await;
    assert_eq!(status, 409, "{stale}");
    let cleared = json!({"name": "production", "clear_external_id": true, "regions": ["ap-northeast-2"], "version": 2});
    let (status, edited) = app
        .put_as("/api/v1/accounts/111122223333", ADMIN, &cleared)
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["external_id_set"], false);

    let (status, detail) = app.get_as("/api/v1/accounts/111122223333", AUDITOR).await;
    assert_eq!(status, 200);
    let versions: Vec<(i64, String)> = detail["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            (3, "production".into()),
            (2, "production".into()),
            (1, "prod".into())
        ]
    );
    assert_eq!(detail["versions"][2]["changed_by"], ADMIN);
    let (status, _) = app.get_as("/api/v1/accounts/999999999999", AUDITOR).await;
    assert_eq!(status, 404);

    let (_, audit) = app
        .get_as("/api/v1/audit?target_id=111122223333", ADMIN)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "account.update").count(),
        2,
        "{actions:?}"
    );
    assert!(!audit.to_string().contains("tenant-42-external"));
}

#[tokio::test]
async fn bad_accounts_and_imports_are_refused_by_name_and_change_nothing() {
    let app = spawn_app().await;
    let before = app.audit_count().await;
    let cases = [
        (json!({"name": "x"}), "id"),
        (json!({"id": "12345", "name": "x"}), "id"),
        (json!({"id": "111122223333"}), "name"),
        (
            json!({"id": "111122223333", "name": "x", "role": "arn:aws:iam::444455556666:role/R"}),
            "role",
        ),
        (
            json!({"id": "111122223333", "name": "x", "role": "a role"}),
            "role",
        ),
        (
            json!({"id": "111122223333", "name": "x", "external_id": "!"}),
            "external_id",
        ),
        (
            json!({"id": "111122223333", "name": "x", "regions": ["Seoul"]}),
            "regions",
        ),
        (
            json!({"id": "111122223333", "name": "x", "tags": {"": "v"}}),
            "tags.",
        ),
        (
            json!({"id": "111122223333", "name": "x", "version": 1}),
            "version",
        ),
        (
            json!({"id": "111122223333", "name": "x", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let (status, refused) = app.post_as("/api/v1/accounts", ADMIN, &body).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert!(
            refused["error"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["field"] == field),
            "{body}: {refused}"
        );
    }
    let (status, _) = app
        .post_as(
            "/api/v1/accounts",
            ANALYST,
            &json!({"id": "111122223333", "name": "x"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, refused) = app
        .put_as(
            "/api/v1/accounts/111122223333",
            ADMIN,
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["fields"][0]["field"], "version");

    for (body, field) in [
        (json!({}), "management_role_arn"),
        (
            json!({"management_role_arn": "arn:aws:iam::1:role/x"}),
            "management_role_arn",
        ),
        (
            json!({"management_role_arn": "arn:aws:iam::123456789012:role/Org", "role": "arn:aws:iam::123456789012:role/Org"}),
            "role",
        ),
        (
            json!({"management_role_arn": "arn:aws:iam::123456789012:role/Org", "regions": ["nowhere"]}),
            "regions",
        ),
    ] {
        let (status, refused) = app.post_as("/api/v1/accounts/import", ADMIN, &body).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert_eq!(refused["error"]["fields"][0]["field"], field, "{refused}");
    }
    let (status, _) = app
        .post_as(
            "/api/v1/accounts/import",
            ANALYST,
            &json!({"management_role_arn": "arn:aws:iam::123456789012:role/Org"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(app.audit_count().await, before, "refusals record nothing");
    let (_, list) = app.get_as("/api/v1/accounts", ADMIN).await;
    assert_eq!(list["items"], json!([]));
}

trait ParseAccount {
    fn parse_account(&self) -> sage_model::accounts::AccountId;
}

impl ParseAccount for &str {
    fn parse_account(&self) -> sage_model::accounts::AccountId {
        sage_model::accounts::AccountId::parse(self).unwrap()
    }
}
