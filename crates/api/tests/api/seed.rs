//! The sample catalog of `sage-api seed`: made once, audited as the system, visible to
//! the analyst at once, and never forced over an admin's change.

use serde_json::json;

use crate::helpers::{ADMIN, ANALYST, TestApp, spawn_app};
use sage_store::seed::Seeded;

async fn seed(app: &TestApp) -> Vec<(&'static str, Seeded)> {
    let library = std::path::PathBuf::from(app.env.raw("SCRIPTS_DIR").unwrap());
    let ceiling = app.application_state.catalog.limit_ceiling;
    sage_api::catalog::seed::seed(app.db(), &library, &ceiling)
        .await
        .unwrap()
}

#[tokio::test]
async fn seeding_makes_the_samples_once_as_the_system_and_leaves_an_admins_change_alone() {
    let app = spawn_app().await;
    assert_eq!(
        seed(&app).await,
        [
            ("backup-db", Seeded::Created),
            ("backup-db-approved", Seeded::Created)
        ]
    );

    // The analyst may run both without anyone doing anything by hand.
    let (status, modules) = app.get_as("/api/v1/modules", ANALYST).await;
    assert_eq!(status, 200, "{modules}");
    let names: Vec<&str> = modules["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"backup-db") && names.contains(&"backup-db-approved"),
        "{names:?}"
    );
    let id_of = |name: &str| {
        modules["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let params = json!({"db_name": "orders", "backup_key": "k3y-of-the-seed-test"});
    let (status, run) = app
        .post_as(
            &format!("/api/v1/modules/{}/executions", id_of("backup-db-approved")),
            ANALYST,
            &json!({ "params": params }),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["status"], "awaiting_approval");

    // Audited as the system: the script, both modules and their assignments.
    let (status, audit) = app
        .get_as("/api/v1/audit?actor=system&limit=100", ADMIN)
        .await;
    assert_eq!(status, 200, "{audit}");
    let events = audit["items"].as_array().unwrap();
    let about = |action: &str, field: &str| -> Vec<String> {
        events
            .iter()
            .filter(|event| event["action"] == action)
            .filter_map(|event| event["after"][field].as_str().map(str::to_owned))
            .collect()
    };
    let modules_made = about("module.create", "name");
    assert!(
        modules_made.contains(&"backup-db".to_owned())
            && modules_made.contains(&"backup-db-approved".to_owned()),
        "{modules_made:?}"
    );
    assert!(about("script.create", "path").contains(&"backup_db.py".to_owned()));
    let assigned = events
        .iter()
        .filter(|event| event["action"] == "module.assignments.replace")
        .count();
    assert_eq!(assigned, 2, "{audit}");

    // Seeding again changes nothing.
    let events = app.audit_count().await;
    assert_eq!(
        seed(&app).await,
        [
            ("backup-db", Seeded::AlreadyThere),
            ("backup-db-approved", Seeded::AlreadyThere)
        ]
    );
    assert_eq!(app.audit_count().await, events);

    // An admin's change stands through another seed.
    let backup_db = id_of("backup-db");
    app.assign(
        &backup_db,
        json!([{"user": "other-analyst@example.com", "permissions": ["view"]}]),
    )
    .await;
    seed(&app).await;
    let (_, assignments) = app
        .get_as(&format!("/api/v1/modules/{backup_db}/assignments"), ADMIN)
        .await;
    assert_eq!(
        assignments["assignments"],
        json!([{"user": "other-analyst@example.com", "permissions": ["view"]}])
    );
    let (_, mine) = app.get_as("/api/v1/modules", ANALYST).await;
    assert!(!mine.to_string().contains(&backup_db), "{mine}");
}
