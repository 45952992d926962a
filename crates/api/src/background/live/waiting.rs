//! Streams of runs awaiting approval (which may take a day) hold no Redis subscription
//! and read nothing on their own: one task asks the database, for all of them at once,
//! which runs were decided on, and wakes their streams. A queued run's stream follows
//! it as a running one's does: a worker takes it within moments, and the stream must
//! see its first line and its end as they come.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sage_model::ExecutionId;
use sage_store::Db;
use tokio::sync::{Notify, watch};

use super::lock;

/// How often the waiting runs are looked up, all in one query.
const POLL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct WaitingRuns {
    shared: Arc<Shared>,
}

struct Shared {
    /// Dropping a run's sender wakes every stream waiting for it.
    runs: Mutex<HashMap<ExecutionId, watch::Sender<()>>>,
    /// Rouses the poller when the first stream starts waiting.
    first: Notify,
}

impl WaitingRuns {
    pub fn start(db: Db) -> Self {
        let shared = Arc::new(Shared {
            runs: Mutex::default(),
            first: Notify::new(),
        });
        tokio::spawn(poll(shared.clone(), db));
        Self { shared }
    }

    /// Resolves once the run no longer awaits approval (it was queued, rejected or is
    /// gone), as seen by the next poll.
    pub async fn until_decided(&self, execution_id: ExecutionId) {
        let mut woken = lock(&self.shared.runs)
            .entry(execution_id)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        self.shared.first.notify_one();
        // Only the sender's drop changes anything.
        while woken.changed().await.is_ok() {}
    }
}

/// Lives as long as the process, like the app state it serves.
async fn poll(shared: Arc<Shared>, db: Db) {
    loop {
        let ids: HashSet<ExecutionId> = {
            let mut runs = lock(&shared.runs);
            runs.retain(|_, sender| sender.receiver_count() > 0);
            runs.keys().copied().collect()
        };
        if ids.is_empty() {
            shared.first.notified().await;
            continue;
        }
        tokio::time::sleep(POLL).await;
        let asked: Vec<ExecutionId> = ids.iter().copied().collect();
        match db.still_awaiting_approval(&asked).await {
            Ok(still) => {
                lock(&shared.runs).retain(|id, _| still.contains(id) || !ids.contains(id));
            }
            Err(error) => {
                tracing::warn!(%error, "cannot tell which runs were decided on; asking again");
            }
        }
    }
}
