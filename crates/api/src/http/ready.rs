//! `/ready`'s cache: one round of dependency checks answers every caller for two
//! seconds, so probes and anonymous callers cannot open connections at will.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// How long one round of checks answers `/ready`: every caller within it shares the
/// round, so probes and anonymous callers cannot open connections at will.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// Each dependency's error, `None` when it answered.
pub type Checks = BTreeMap<&'static str, Option<String>>;

/// The last round of checks; one round runs at a time and the callers meanwhile wait
/// for its answer.
#[derive(Default)]
pub struct ReadyCache(tokio::sync::Mutex<Option<(Instant, Arc<Checks>)>>);

impl ReadyCache {
    /// The last round's answer while fresh, else the answer of a new round `check`
    /// runs.
    pub async fn checks<F: Future<Output = Checks>>(
        &self,
        check: impl FnOnce() -> F,
    ) -> Arc<Checks> {
        let mut last = self.0.lock().await;
        if let Some((at, checks)) = &*last
            && at.elapsed() < FRESH_FOR
        {
            return checks.clone();
        }
        let fresh = Arc::new(Box::pin(check()).await);
        *last = Some((Instant::now(), fresh.clone()));
        fresh
    }
}
