//! Importing an organisation's accounts: a worker assumes the management account's
//! role in the emulator and lists its 20 accounts with AWS Organizations; importing
//! again changes nothing; an account that runs no organisation ends the import failed,
//! saying why.

use std::time::Duration;

use serde_json::{Value, json};

use sage_testkit::{ADMIN, TestApp, emulator, spawn_app, spawn_worker_with};

async fn import(app: &TestApp, management: &str) -> Value {
    let (status, queued) = app
        .post_as(
            "/api/v1/accounts/import",
            ADMIN,
            &json!({"management_role_arn": format!("arn:aws:iam::{management}:role/OrgReader"),
                    "role": "SageAudit", "regions": ["us-east-1"]}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    let path = format!(
        "/api/v1/accounts/imports/{}",
        queued["id"].as_str().unwrap()
    );
    for _ in 0..300 {
        let (_, import) = app.get_as(&path, ADMIN).await;
        if import["status"] == "succeeded" || import["status"] == "failed" {
            return import;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the import did not end");
}

#[tokio::test]
async fn an_organisations_accounts_are_imported_once_each() {
    let app = spawn_app().await;
    let worker = spawn_worker_with(&app, emulator::use_it).await;
    let (management, ids) = emulator::organization(19).await;

    let done = import(&app, &management).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["found"].as_i64(), done["created"].as_i64()),
        (Some(20), Some(20)),
        "{done}"
    );
    let (_, accounts) = app.get_as("/api/v1/accounts", ADMIN).await;
    let items = accounts["items"].as_array().unwrap();
    let mut listed: Vec<&str> = items.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    listed.sort_unstable();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    let member = items.iter().find(|a| a["id"] == ids[1].as_str()).unwrap();
    assert_eq!(member["name"], "member-0");
    assert_eq!(member["source"], "organizations");
    assert_eq!(member["org_status"], "ACTIVE");
    assert_eq!(member["regions"], json!(["us-east-1"]));
    assert_eq!(
        member["role_arn"],
        format!("arn:aws:iam::{}:role/SageAudit", ids[1])
    );

    // Again: nothing new, nothing changed, no version added.
    let again = import(&app, &management).await;
    assert_eq!(
        (
            again["found"].as_i64(),
            again["created"].as_i64(),
            again["updated"].as_i64()
        ),
        (Some(20), Some(0), Some(0)),
        "{again}"
    );
    let (_, detail) = app
        .get_as(&format!("/api/v1/accounts/{}", ids[1]), ADMIN)
        .await;
    assert_eq!(detail["versions"].as_array().unwrap().len(), 1);

    // An account that runs no organisation: the import fails with AWS's reason.
    let lone = emulator::fresh_account();
    let failed = import(&app, &lone).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().ends_with(
            "runs no organisation it may read: AWSOrganizationsNotInUseException: \
             Your account is not a member of an organization."
        ),
        "{failed}"
    );
    let (_, audit) = app
        .get_as("/api/v1/audit?action=account.import.finish", ADMIN)
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "{audit}");
    worker.stop().await;
}
