//! Retention: a module's days (or RETENTION_DAYS) after a run ended, its log, its
//! artifacts (in S3 too) and its findings' history go, in audited batches; a run a
//! report cites stays, and so does each tool's latest run.

use aws_sdk_s3::primitives::ByteStream;
use sage_api::background::retention::{RetentionSettings, purge_once};
use sage_model::ExecutionId;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, ANALYST, TestApp, spawn_app_with, tools_env};
use crate::notifications::scan;

const DEFAULT_DAYS: i32 = 30;

/// A backup-db run that ended `days_ago`, with two log chunks and one artifact in S3.
async fn old_run(app: &TestApp, module: &str, days_ago: i32) -> (ExecutionId, String) {
    let id = app.finished_execution(module).await;
    let key = format!("runs/test/{id}/backup.log");
    let artifacts = &app.application_state.artifacts;
    artifacts
        .s3
        .put_object()
        .bucket(&artifacts.bucket)
        .key(&key)
        .body(ByteStream::from_static(b"dumped 42 rows\n"))
        .send()
        .await
        .unwrap();
    app.db()
        .batch_for_tests(&format!(
            "UPDATE executions SET finished_at = now() - interval '{days_ago} days' WHERE id = '{id}';
             INSERT INTO execution_log_chunks (execution_id, first_seq, last_seq, lines)
             VALUES ('{id}', 1, 1, 'one'), ('{id}', 2, 2, 'two');
             INSERT INTO execution_artifacts (execution_id, name, size, sha256, content_type, s3_key)
             VALUES ('{id}', 'backup.log', 15, repeat('a', 64), 'text/plain', '{key}')"
        ))
        .await
        .unwrap();
    (id, key)
}

async fn in_s3(app: &TestApp, key: &str) -> bool {
    let artifacts = &app.application_state.artifacts;
    artifacts
        .s3
        .head_object()
        .bucket(&artifacts.bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

async fn counts(app: &TestApp, id: ExecutionId) -> (i64, i64, i64, i64) {
    let query = format!(
        "SELECT concat_ws(' ',
             (SELECT count(*) FROM execution_log_chunks WHERE execution_id = '{id}'),
             (SELECT count(*) FROM execution_artifacts WHERE execution_id = '{id}'),
             (SELECT count(*) FROM findings WHERE execution_id = '{id}'),
             (SELECT count(*) FROM finding_events WHERE execution_id = '{id}'))"
    );
    let text = app.db().rows_as_text_for_tests(&query).await.unwrap();
    let n: Vec<i64> = text[0].split(' ').map(|n| n.parse().unwrap()).collect();
    (n[0], n[1], n[2], n[3])
}

#[tokio::test]
async fn a_purge_removes_what_is_past_retention_keeps_what_a_report_cites_and_is_audited() {
    let mut env = tools_env();
    env.set("RETENTION_DAYS", DEFAULT_DAYS.to_string());
    let app = spawn_app_with(env).await;
    let backup = app.backup_db_module().await;
    let prowler = app.tool_module("prowler").await;

    // An admin sets a module's days; refusals name the field and change nothing.
    let path = format!("/api/v1/modules/{prowler}/retention");
    let before = app.audit_count().await;
    for (body, status) in [
        (json!({"days": 0}), 400),
        (json!({"days": 40000}), 400),
        (json!({"days": 10, "keep": "logs"}), 400),
    ] {
        let (got, answer) = app.put_as(&path, ADMIN, &body).await;
        assert_eq!(got, status, "{body} → {answer}");
    }
    let (status, _) = app.put_as(&path, ANALYST, &json!({"days": 10})).await;
    assert_eq!(status, 403);
    assert_eq!(app.audit_count().await, before);
    let (status, module) = app.put_as(&path, ADMIN, &json!({"days": 10})).await;
    assert_eq!(status, 200, "{module}");
    assert_eq!(
        module["retention"],
        json!({"days": 10, "effective_days": 10})
    );
    let (_, listed) = app.get_as("/api/v1/modules", ADMIN).await;
    let backup_listed = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(backup))
        .unwrap();
    assert_eq!(
        backup_listed["retention"],
        json!({"days": null, "effective_days": DEFAULT_DAYS})
    );

    // backup-db keeps 30 days (the default): one run 40 days old goes, one a report
    // cites stays, one 5 days old stays.
    let (gone, gone_key) = old_run(&app, &backup, 40).await;
    let (cited, cited_key) = old_run(&app, &backup, 40).await;
    let (recent, recent_key) = old_run(&app, &backup, 5).await;
    app.db()
        .batch_for_tests(&format!(
            "INSERT INTO evidence (id, title, lang, execution_ids, summary, status, created_by)
             SELECT gen_random_uuid(), 'kept report', 'en', ARRAY['{cited}'::uuid], '{{}}',
                    'ready', id
             FROM users WHERE email = '{ADMIN}'"
        ))
        .await
        .unwrap();
    // Prowler keeps 10 days: of two runs 20 days old, the older goes with its findings'
    // history; the latest stays (the tool's page and new reports read it).
    let rows = [("www", "s3_bucket_public_access", "fail", "critical")];
    let older = scan(&app, &prowler, &rows).await;
    let latest = scan(&app, &prowler, &rows).await;
    app.db()
        .batch_for_tests(&format!(
            "UPDATE executions SET finished_at = now() - interval '20 days'
             WHERE id IN ('{older}', '{latest}');
             UPDATE tool_runs SET finished_at = now() - interval '21 days' WHERE execution_id = '{older}';
             UPDATE tool_runs SET finished_at = now() - interval '20 days' WHERE execution_id = '{latest}'"
        ))
        .await
        .unwrap();
    assert_eq!(counts(&app, older).await, (0, 0, 1, 1));

    let audit_before = app.audit_count().await;
    let settings = RetentionSettings {
        default_days: DEFAULT_DAYS,
        every: std::time::Duration::from_secs(3600),
    };
    let purged = purge_once(app.db(), &app.application_state.artifacts, settings)
        .await
        .unwrap();
    assert_eq!(
        (
            purged.runs,
            purged.log_chunks,
            purged.artifacts,
            purged.artifact_bytes
        ),
        (2, 2, 1, 15),
        "{purged:?}"
    );
    assert_eq!((purged.findings, purged.finding_events), (1, 1));

    assert_eq!(counts(&app, gone).await, (0, 0, 0, 0));
    assert!(!in_s3(&app, &gone_key).await, "the object went too");
    assert_eq!(counts(&app, older).await, (0, 0, 0, 0));
    for kept in [cited, recent] {
        assert_eq!(counts(&app, kept).await, (2, 1, 0, 0));
    }
    assert!(in_s3(&app, &cited_key).await && in_s3(&app, &recent_key).await);
    assert_eq!(counts(&app, latest).await, (0, 0, 1, 1));

    // The run itself stays, saying when its contents went; the finding's state stays.
    let (_, run) = app
        .get_as(&format!("/api/v1/executions/{gone}"), ADMIN)
        .await;
    assert!(run["purged_at"].is_string(), "{run}");
    let (_, run) = app
        .get_as(&format!("/api/v1/executions/{cited}"), ADMIN)
        .await;
    assert_eq!(run["purged_at"], Value::Null);
    let (_, findings) = app.get_as("/api/v1/findings?tool=prowler", ADMIN).await;
    assert_eq!(findings["items"].as_array().unwrap().len(), 1, "{findings}");

    // One audit event for the batch, with its counts.
    assert_eq!(app.audit_count().await, audit_before + 1);
    let (_, audit) = app
        .get_as("/api/v1/audit?action=retention.purge", ADMIN)
        .await;
    let event = &audit["items"][0];
    assert_eq!(event["actor"], "system");
    assert_eq!(event["after"]["runs"], 2, "{event}");
    assert_eq!(event["after"]["artifact_bytes"], 15, "{event}");
    let mut ids: Vec<String> =
        serde_json::from_value(event["after"]["execution_ids"].clone()).unwrap();
    ids.sort();
    let mut expected = vec![gone.to_string(), older.to_string()];
    expected.sort();
    assert_eq!(ids, expected);

    // Nothing more is due: a second round removes nothing and audits nothing.
    let again = purge_once(app.db(), &app.application_state.artifacts, settings)
        .await
        .unwrap();
    assert_eq!(again.runs, 0);
    assert_eq!(app.audit_count().await, audit_before + 1);
}
