//! The state rules of findings across runs, against real PostgreSQL: each run's
//! findings go through `record_tool_run` as the worker stores them.

use sage_model::ExecutionId;
use sage_model::acceptance::{AcceptanceScope, NewAcceptance};
use sage_model::names::Email;
use sage_model::tools::Tool;
use sage_store::Db;
use sage_store::audit::AuditContext;
use sage_store::executions::Viewer;
use sage_store::finding_states::Coverage;
use sage_store::findings::{NewToolRun, StoredFinding};
use sage_store::risk_acceptances::AcceptanceDecision;
use sage_store::testing::migrated_database;
use sha2::{Digest, Sha256};

use crate::base_settings;

const SYSTEM: &str = "00000000-0000-0000-0000-000000000001";
const MODULE: &str = "00000000-0000-4000-8000-00000000000b";

/// Prowler's module and tool, the least the rows of its runs need.
async fn with_prowler() -> Db {
    let db = migrated_database(&base_settings()).await.unwrap();
    db.batch_for_tests(&format!(
        "INSERT INTO scripts (id, path, interpreter, sha256, created_by)
         VALUES ('00000000-0000-4000-8000-00000000000a', 'sage-tools/prowler.py', 'python3',
                 repeat('0', 64), '{SYSTEM}');
         INSERT INTO modules (id, name, latest_version, created_by)
         VALUES ('{MODULE}', 'prowler', 1, '{SYSTEM}');
         INSERT INTO module_versions (module_id, version, script_id, definition, created_by)
         VALUES ('{MODULE}', 1, '00000000-0000-4000-8000-00000000000a', '{{}}', '{SYSTEM}');
         INSERT INTO tools (name, module_id, available) VALUES ('prowler', '{MODULE}', true);"
    ))
    .await
    .unwrap();
    db
}

/// (resource, region, check, status, severity)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn fingerprint(resource: &str, region: &str, check: &str) -> String {
    let digest = Sha256::digest(format!("prowler\0acct\0{region}\0{resource}\0{check}\0"));
    sage_model::hex(&digest)
}

/// Stores one run of `rows`, as a worker would; returns its id.
async fn run(db: &Db, rows: &[Row], regions: &[&str], coverage: Coverage) -> ExecutionId {
    let id = ExecutionId::new();
    db.batch_for_tests(&format!(
        "INSERT INTO executions (id, module_id, module_version, requested_by, params, status)
         VALUES ('{id}', '{MODULE}', 1, '{SYSTEM}', '{{}}', 'running')"
    ))
    .await
    .unwrap();
    let findings: Vec<StoredFinding> = rows
        .iter()
        .map(
            |(resource, region, check, status, severity)| StoredFinding {
                tool: Tool::Prowler,
                check_id: (*check).to_owned(),
                title: format!("{check} title"),
                severity: (*severity).to_owned(),
                status: (*status).to_owned(),
                resource_id: (*resource).to_owned(),
                resource_type: String::new(),
                region: (*region).to_owned(),
                account: "acct".to_owned(),
                fingerprint: fingerprint(resource, region, check),
            },
        )
        .collect();
    let run = NewToolRun {
        execution_id: id,
        tool: Tool::Prowler,
        tool_version: Some("5.0.0".to_owned()),
        result_key: format!("runs/test/{id}/result.json"),
        regions: Some(regions.iter().map(|r| (*r).to_owned()).collect()),
    };
    db.record_tool_run(
        &run,
        futures_util::stream::iter(findings),
        std::future::ready(coverage),
    )
    .await
    .unwrap();
    id
}

async fn state(db: &Db, resource: &str, region: &str, check: &str) -> String {
    let fingerprint = fingerprint(resource, region, check);
    let rows = db
        .rows_as_text_for_tests(&format!(
            "SELECT state FROM finding_states WHERE fingerprint = '{fingerprint}'"
        ))
        .await
        .unwrap();
    rows.into_iter().next().unwrap_or_else(|| "none".to_owned())
}

/// `from>to` of each event of a finding, oldest first, with the run's index in `runs`.
async fn history(db: &Db, runs: &[ExecutionId], resource: &str, check: &str) -> Vec<String> {
    let fingerprint = fingerprint(resource, "us-east-1", check);
    let rows = db
        .rows_as_text_for_tests(&format!(
            "SELECT coalesce(from_state, '-') || '>' || to_state || '@' || execution_id
             FROM finding_events WHERE fingerprint = '{fingerprint}' ORDER BY id"
        ))
        .await
        .unwrap();
    rows.into_iter()
        .map(|row| {
            let (change, run) = row.split_once('@').unwrap();
            let index = runs.iter().position(|r| r.to_string() == run).unwrap();
            format!("{change}@{}", index + 1)
        })
        .collect()
}

const ENC: &str = "s3_bucket_default_encryption";
const MFA: &str = "iam_root_mfa_enabled";
const BOTH: &[&str] = &["us-east-1", "eu-west-1"];

#[tokio::test]
async fn states_follow_what_each_run_covered_and_nothing_else() {
    let db = with_prowler().await;
    let r1 = run(
        &db,
        &[
            ("a", "us-east-1", ENC, "fail", "high"),
            ("b", "us-east-1", ENC, "fail", "high"),
            ("c", "eu-west-1", ENC, "fail", "high"),
            ("d", "us-east-1", ENC, "pass", "high"),
            ("root", "us-east-1", MFA, "fail", "critical"),
        ],
        BOTH,
        Coverage::Whole,
    )
    .await;
    for (resource, region, check) in [
        ("a", "us-east-1", ENC),
        ("b", "us-east-1", ENC),
        ("c", "eu-west-1", ENC),
        ("root", "us-east-1", MFA),
    ] {
        assert_eq!(
            state(&db, resource, region, check).await,
            "new",
            "{resource}"
        );
    }
    assert_eq!(
        state(&db, "d", "us-east-1", ENC).await,
        "none",
        "a pass is no finding"
    );

    // Only us-east-1, and the MFA check not run: b passes now, a is graded up.
    let r2 = run(
        &db,
        &[
            ("a", "us-east-1", ENC, "fail", "critical"),
            ("b", "us-east-1", ENC, "pass", "high"),
        ],
        &["us-east-1"],
        Coverage::Whole,
    )
    .await;
    assert_eq!(state(&db, "a", "us-east-1", ENC).await, "open");
    assert_eq!(state(&db, "b", "us-east-1", ENC).await, "fixed");
    assert_eq!(
        state(&db, "c", "eu-west-1", ENC).await,
        "new",
        "its region was not scanned"
    );
    assert_eq!(
        state(&db, "root", "us-east-1", MFA).await,
        "new",
        "its check did not run"
    );

    // A run cut short says what fails and fixes nothing.
    let r3 = run(
        &db,
        &[("b", "us-east-1", ENC, "fail", "high")],
        BOTH,
        Coverage::Partial,
    )
    .await;
    assert_eq!(state(&db, "b", "us-east-1", ENC).await, "reopened");
    assert_eq!(state(&db, "a", "us-east-1", ENC).await, "open");
    assert_eq!(state(&db, "c", "eu-west-1", ENC).await, "new");

    // A whole run where the check ran: a and c are gone (resources deleted or fixed).
    // The root account's MFA: a risk accepted by a second person.
    let requester = db
        .ensure_user(&Email::parse("analyst@example.com").unwrap(), &[])
        .await
        .unwrap();
    let approver = db
        .ensure_user(&Email::parse("admin@example.com").unwrap(), &["admin"])
        .await
        .unwrap();
    let accepted = NewAcceptance {
        tool: Tool::Prowler,
        scope: AcceptanceScope::Finding {
            fingerprint: fingerprint("root", "us-east-1", MFA),
        },
        reason: "break-glass account, kept in a safe".to_owned(),
        expires_at: chrono::Utc::now() + chrono::Duration::days(30),
    };
    let asked = db
        .request_acceptance(&accepted, requester, &AuditContext::system())
        .await
        .unwrap();
    db.decide_acceptance(
        asked.id,
        approver,
        AcceptanceDecision::Approve,
        "agreed",
        &AuditContext::system(),
    )
    .await
    .unwrap();
    assert_eq!(state(&db, "root", "us-east-1", MFA).await, "accepted");
    let r4 = run(
        &db,
        &[
            ("b", "us-east-1", ENC, "fail", "high"),
            ("root", "us-east-1", MFA, "fail", "critical"),
        ],
        BOTH,
        Coverage::Whole,
    )
    .await;
    assert_eq!(state(&db, "a", "us-east-1", ENC).await, "fixed");
    assert_eq!(state(&db, "c", "eu-west-1", ENC).await, "fixed");
    assert_eq!(state(&db, "b", "us-east-1", ENC).await, "open");
    assert_eq!(
        state(&db, "root", "us-east-1", MFA).await,
        "accepted",
        "still failing, accepted"
    );

    let runs = [r1, r2, r3, r4];
    assert_eq!(
        history(&db, &runs, "b", ENC).await,
        [
            "->new@1",
            "new>fixed@2",
            "fixed>reopened@3",
            "reopened>open@4"
        ]
    );
    assert_eq!(
        history(&db, &runs, "a", ENC).await,
        ["->new@1", "new>open@2", "open>fixed@4"]
    );
    let changes = db
        .rows_as_text_for_tests(&format!(
            "SELECT changes::text FROM finding_events
             WHERE fingerprint = '{}' AND changes IS NOT NULL",
            fingerprint("a", "us-east-1", ENC)
        ))
        .await
        .unwrap();
    assert_eq!(
        changes,
        [r#"{"severity": {"to": "critical", "from": "high"}}"#]
    );
    let scope = db
        .rows_as_text_for_tests(&format!(
            "SELECT coverage || ' ' || array_to_string(scope_regions, ',') || ' '
                    || array_to_string(scope_checks, ',')
             FROM tool_runs WHERE execution_id = '{r2}'"
        ))
        .await
        .unwrap();
    assert_eq!(scope, [format!("whole global,us-east-1 {ENC}")]);

    // Today's counts, kept as each run settled, are what replaying the changes says.
    let everything = today(&db, &Viewer::Everything, None).await;
    assert_eq!(
        everything,
        [
            ("accepted", "critical", 1),
            ("fixed", "critical", 1),
            ("fixed", "high", 1),
            ("open", "high", 1)
        ]
    );
    let requester = Viewer::User {
        id: SYSTEM.parse().unwrap(),
        email: None,
        groups: Vec::new(),
    };
    assert_eq!(today(&db, &requester, None).await, everything);
    assert_eq!(
        today(&db, &Viewer::Everything, Some("acct")).await,
        everything
    );
    assert_eq!(today(&db, &Viewer::Everything, Some("other")).await, []);
}

/// Today's counts of Prowler's findings as `viewer` sees them, by state and severity.
async fn today(
    db: &Db,
    viewer: &Viewer,
    account: Option<&str>,
) -> Vec<(&'static str, &'static str, u64)> {
    let days = db
        .finding_trends(viewer, Tool::Prowler, account, 2)
        .await
        .unwrap();
    assert_eq!(days.len(), 2);
    assert!(days[1].scanned, "runs ended today");
    days[1]
        .counts
        .iter()
        .map(|(state, severity, n)| (state.as_str(), severity.as_str(), *n))
        .collect()
}
