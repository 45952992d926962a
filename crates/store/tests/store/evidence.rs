use std::time::Duration;

use sage_model::EvidenceId;
use sage_model::names::Email;
use sage_model::names::WorkerId;
use sage_store::audit::{AuditContext, AuditFilter};
use sage_store::evidence::{BUILD_ATTEMPTS, EvidenceRequest, EvidenceStatus};
use sage_store::testing::migrated_database;

use crate::base_settings;

#[tokio::test]
async fn a_build_whose_worker_keeps_going_away_fails_for_good_after_its_last_attempt() {
    let db = migrated_database(&base_settings()).await.unwrap();
    let maker = db
        .ensure_user(&Email::parse("maker@example.com").unwrap(), &[])
        .await
        .unwrap();
    let id = EvidenceId::new();
    let worker = WorkerId::parse("worker-a").unwrap();
    let request = EvidenceRequest {
        id,
        title: "report".to_owned(),
        lang: "en".to_owned(),
        execution_ids: Vec::new(),
        tools: None,
        max_findings_per_check: None,
        compliance: None,
        created_by: maker,
    };
    db.request_evidence(&request, &AuditContext::system())
        .await
        .unwrap();
    // Each attempt's worker goes away mid-build: the build is stale at once.
    for attempt in 1..=BUILD_ATTEMPTS {
        assert!(
            db.claim_evidence(id).await.unwrap().is_some(),
            "attempt {attempt}"
        );
        let stale = db
            .requeue_stale_evidence(Duration::ZERO, &worker)
            .await
            .unwrap();
        let evidence = db.evidence(id).await.unwrap().unwrap();
        if attempt < BUILD_ATTEMPTS {
            assert_eq!(stale.again, [id], "attempt {attempt}");
            assert_eq!(evidence.status, EvidenceStatus::Pending);
        } else {
            assert_eq!((stale.again.len(), stale.failed.as_slice()), (0, &[id][..]));
            assert_eq!(evidence.status, EvidenceStatus::Failed);
            let error = evidence.error.unwrap();
            assert!(error.contains("each of its 3 attempts"), "{error}");
        }
    }
    assert!(
        db.claim_evidence(id).await.unwrap().is_none(),
        "not tried again"
    );
    let failures = db
        .audit_events(&AuditFilter {
            action: Some("evidence.fail".to_owned()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].target_id, id.to_string());
    assert_eq!(failures[0].actor, "worker:worker-a");
}
