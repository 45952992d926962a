//! Documents that evidence a framework's requirements, against real S3: versions per
//! file name, fresh links that serve the same bytes, who may add and read them, and
//! the requirements an admin marks not applicable. Refusals name the field.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::{ADMIN, ANALYST, TestApp, spawn_app_with, tools_env};

const DOCUMENTS: &str =
    "/api/v1/compliance/frameworks/kisa_isms_p_2023_aws/requirements/1.1.1/documents";

async fn upload(app: &TestApp, user: &str, query: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let response = app
        .client
        .post(format!("{}{DOCUMENTS}?{query}", app.address))
        .header("X-Demo-User", user)
        .header("content-type", "application/octet-stream")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn documents_are_kept_in_versions_and_served_as_uploaded() {
    // The frameworks are the tools' (Prowler's checks): installed, then reported.
    let app = spawn_app_with(tools_env()).await;
    app.report_scanner_image().await;
    app.user_with("auditor@example.com", &["auditor"], &[])
        .await;
    let minutes = b"%PDF-1.4 minutes of the security committee, 2026-11-30";
    let (status, first) = upload(
        &app,
        ADMIN,
        "file=committee-minutes.pdf&description=Security%20committee%20minutes",
        minutes,
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["version"], 1);
    assert_eq!(first["sha256"], sage_model::hex(&Sha256::digest(minutes)));
    assert_eq!(first["content_type"], "application/pdf");
    assert_eq!(first["uploaded_by"], ADMIN);
    let revised = b"%PDF-1.4 minutes, revised";
    let (status, second) = upload(
        &app,
        ADMIN,
        "file=committee-minutes.pdf&description=Revised",
        revised,
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["version"], 2);

    // Newest first, each link serving the bytes as uploaded; auditors read them too.
    let (status, listed) = app.get_as(DOCUMENTS, "auditor@example.com").await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["version"], 2);
    let served = reqwest::get(items[1]["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&served[..], minutes);

    // Who may: analysts neither add nor read.
    let (status, refused) = upload(&app, ANALYST, "file=a.pdf&description=x", minutes).await;
    assert_eq!(status, 403, "{refused}");
    let (status, _) = app.get_as(DOCUMENTS, ANALYST).await;
    assert_eq!(status, 403);

    let audits = app.audit_count().await;
    for (query, body, field) in [
        ("description=x", &minutes[..], "file"),
        ("file=..&description=x", &minutes[..], "file"),
        ("file=a%2Fb.pdf&description=x", &minutes[..], "file"),
        ("file=a.pdf", &minutes[..], "description"),
        ("file=a.pdf&description=%20", &minutes[..], "description"),
        ("file=a.pdf&description=x", &b""[..], "body"),
        ("file=a.pdf&description=x&owner=me", &minutes[..], "owner"),
    ] {
        let (status, refused) = upload(&app, ADMIN, query, body).await;
        assert_eq!(status, 400, "{query}: {refused}");
        assert!(refused.to_string().contains(field), "{query}: {refused}");
    }
    assert_eq!(app.audit_count().await, audits, "nothing recorded");
    for path in [
        "/api/v1/compliance/frameworks/kisa_isms_p_2099_aws/requirements/1.1.1/documents",
        "/api/v1/compliance/frameworks/kisa_isms_p_2023_aws/requirements/9.9.9/documents",
    ] {
        let (status, _) = app.get_as(path, ADMIN).await;
        assert_eq!(status, 404, "{path}");
    }

    // Not applicable: an admin's call, with a reason, audited; and taken back.
    let mark =
        "/api/v1/compliance/frameworks/kisa_isms_p_2023_aws/requirements/3.1.1/not-applicable";
    let (status, _) = app
        .put_as(mark, ANALYST, &json!({"reason": "no personal information"}))
        .await;
    assert_eq!(status, 403);
    let (status, refused) = app.put_as(mark, ADMIN, &json!({"reason": ""})).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("reason"), "{refused}");
    let (status, marked) = app
        .put_as(
            mark,
            ADMIN,
            &json!({"reason": "no personal information is processed"}),
        )
        .await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(
        marked["not_applicable"],
        "no personal information is processed"
    );
    let (status, cleared) = app
        .call(reqwest::Method::DELETE, mark, Some(ADMIN), None)
        .await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["not_applicable"], serde_json::Value::Null);
    let (_, audit) = app.get_as("/api/v1/audit?limit=20", ADMIN).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "evidence_document.upload",
        "requirement.not_applicable",
        "requirement.applicable",
    ] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }
}
