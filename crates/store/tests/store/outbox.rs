use std::time::Duration;

use sage_model::names::Email;
use sage_store::testing::migrated_database;

use crate::base_settings;

#[tokio::test]
async fn a_committed_outbox_row_signals_the_relays_and_a_rolled_back_one_does_not() {
    let db = migrated_database(&base_settings()).await.unwrap();
    let maker = db
        .ensure_user(&Email::parse("maker@example.com").unwrap(), &[])
        .await
        .unwrap();
    // An evidence report's job: the shortest way to a valid outbox row.
    let job = format!(
        "WITH e AS (INSERT INTO evidence (id, title, lang, execution_ids, summary, created_by)
                    VALUES (gen_random_uuid(), 'report', 'en', '{{}}', NULL, '{maker}')
                    RETURNING id)
         INSERT INTO job_outbox (evidence_id) SELECT id FROM e"
    );
    let mut signals = db.job_signals().await.unwrap();
    db.batch_for_tests(&format!("BEGIN; {job}; ROLLBACK"))
        .await
        .unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), signals.next()).await;
    assert!(quiet.is_err(), "nothing committed, nothing signalled");
    db.batch_for_tests(&job).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(5), signals.next()).await;
    assert_eq!(heard, Ok(Some(())), "a committed row is signalled");
}
