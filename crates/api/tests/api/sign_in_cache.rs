//! A signed-in caller's requests read; they do not write their user's row each time.

use crate::helpers::{ANALYST, spawn_app};

#[tokio::test]
async fn repeated_requests_of_one_caller_write_nothing() {
    let app = spawn_app().await;
    let row = || async {
        app.db()
            .rows_as_text_for_tests(&format!(
                "SELECT xmin::text || ' ' || last_seen_at::text FROM users WHERE email = '{ANALYST}'"
            ))
            .await
            .unwrap()
            .concat()
    };
    let (status, _) = app.get_as("/api/v1/me", ANALYST).await;
    assert_eq!(status, 200);
    let after_first = row().await;
    for _ in 0..20 {
        let (status, me) = app.get_as("/api/v1/me", ANALYST).await;
        assert_eq!(status, 200);
        assert_eq!(me["email"], ANALYST);
    }
    assert_eq!(row().await, after_first, "the user's row was written again");
}
