//! What stops running executions from outside, and what cleans up after workers that
//! died: the registry of this worker's runs, the listener for stop requests
//! (cancel, lost), and the reaper that declares expired leases lost and removes the
//! containers and folders of executions that ended.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use sage_model::ExecutionId;
use sage_model::names::WorkerId;
use sage_store::Db;
use tokio_util::sync::CancellationToken;

use crate::sandbox::remove;
use crate::sandbox::spec::{LABEL_EXECUTION, LABEL_FLEET};

/// The executions this worker runs now, each with the token that stops it.
#[derive(Clone, Default)]
pub struct Running {
    runs: Arc<Mutex<HashMap<ExecutionId, CancellationToken>>>,
}

/// Keeps an execution in the registry while it lives.
pub struct Registered {
    running: Running,
    id: ExecutionId,
    pub stop: CancellationToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.running.lock().remove(&self.id);
    }
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ExecutionId, CancellationToken>> {
        // The map stays consistent even if a holder panicked: each operation is one call.
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn register(&self, id: ExecutionId) -> Registered {
        let stop = CancellationToken::new();
        self.lock().insert(id, stop.clone());
        Registered {
            running: self.clone(),
            id,
            stop,
        }
    }

    /// Stops the execution if it runs here; true if it did.
    pub fn stop(&self, id: ExecutionId) -> bool {
        match self.lock().get(&id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    pub fn ids(&self) -> Vec<ExecutionId> {
        self.lock().keys().copied().collect()
    }
}

/// Listens for stop requests until `shutdown`, reconnecting when the connection drops;
/// after each (re)connect it checks the runs it holds, in case a request came while it
/// was not listening.
pub async fn listen_for_stops(db: Db, running: Running, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match db.stop_requests().await {
            Ok(mut requests) => {
                stop_ended(&db, &running).await;
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        next = requests.next() => match next {
                            Some(id) => {
                                if running.stop(id) {
                                    tracing::info!(execution_id = %id, "stop requested; killing the sandbox");
                                }
                            }
                            None => break,
                        },
                    }
                }
                tracing::warn!("stop-request connection closed; reconnecting");
            }
            Err(error) => tracing::warn!(?error, "cannot listen for stop requests; retrying"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Stops every registered run whose execution is no longer running.
async fn stop_ended(db: &Db, running: &Running) {
    let ids = running.ids();
    if ids.is_empty() {
        return;
    }
    match db.statuses(&ids).await {
        Ok(statuses) => {
            for id in ids {
                if statuses.get(&id).is_none_or(|status| status.is_terminal()) {
                    running.stop(id);
                }
            }
        }
        Err(error) => tracing::warn!(?error, "cannot check the status of running executions"),
    }
}

/// An evidence build that has not finished in this long lost its worker: the reaper
/// queues it again.
const STALE_BUILD: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What the reaper needs.
pub struct Reaper {
    pub db: Db,
    pub docker: Docker,
    pub running: Running,
    pub worker_id: WorkerId,
    /// The value of this deployment's `sage.fleet` label.
    pub fleet: String,
    /// Folders holding one sub-folder per execution (staging, secret files).
    pub execution_folders: Vec<PathBuf>,
    pub every: Duration,
    pub runs: sage_infra::metrics::RunMetrics,
}

impl Reaper {
    /// Runs one pass at start (a restarted worker cleans up first), then every
    /// `every` until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            self.pass().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }

    pub async fn pass(&self) {
        match self.db.reap_expired_leases(&self.worker_id).await {
            Ok(lost) if !lost.is_empty() => {
                tracing::warn!(
                    ?lost,
                    "declared executions lost: their worker's lease expired"
                );
                for run in &lost {
                    let reason = sage_model::EndReason::WorkerLost;
                    self.runs.ended(&run.module_name, reason, run.ran);
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(?error, "could not reap expired leases"),
        }
        match self
            .db
            .requeue_stale_evidence(STALE_BUILD, &self.worker_id)
            .await
        {
            Ok(stale) => {
                if !stale.again.is_empty() {
                    let ids = &stale.again;
                    tracing::warn!(?ids, "queued again evidence builds whose worker went away");
                }
                if !stale.failed.is_empty() {
                    let ids = &stale.failed;
                    tracing::warn!(
                        ?ids,
                        "evidence builds failed for good after their last attempt"
                    );
                }
            }
            Err(error) => tracing::warn!(?error, "could not look for stale evidence builds"),
        }
        if let Err(error) = self.sweep().await {
            tracing::warn!(%error, "could not sweep leftover sandboxes");
        }
    }

    /// Removes the sandboxes and staging folders of this deployment's executions that
    /// ended (or that its database does not know), on this worker's Docker engine.
    /// Running executions are left alone, whichever worker runs them.
    async fn sweep(&self) -> Result<(), bollard::errors::Error> {
        let filters = HashMap::from([(
            "label",
            vec![
                LABEL_EXECUTION.to_owned(),
                format!("{LABEL_FLEET}={}", self.fleet),
            ],
        )]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self.docker.list_containers(Some(options)).await?;
        let mut found: Vec<(String, ExecutionId)> = containers
            .into_iter()
            .filter_map(|c| {
                let execution = c.labels?.get(LABEL_EXECUTION)?.parse().ok()?;
                Some((c.id?, execution))
            })
            .collect();
        let mut staged: Vec<ExecutionId> = self
            .execution_folders
            .iter()
            .filter_map(|folder| std::fs::read_dir(folder).ok())
            .flat_map(|entries| entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()))
            .collect();
        staged.sort_unstable();
        staged.dedup();
        let mine: HashSet<ExecutionId> = self.running.ids().into_iter().collect();
        found.retain(|(_, id)| !mine.contains(id));
        let mut ids: Vec<ExecutionId> = found.iter().map(|(_, id)| *id).collect();
        ids.extend(staged.iter().filter(|id| !mine.contains(id)));
        if ids.is_empty() {
            return Ok(());
        }
        let statuses = match self.db.statuses(&ids).await {
            Ok(statuses) => statuses,
            Err(error) => {
                tracing::warn!(
                    ?error,
                    "cannot check leftover sandboxes against the database"
                );
                return Ok(());
            }
        };
        let ended = |id: &ExecutionId| statuses.get(id).is_none_or(|status| status.is_terminal());
        for (container, id) in found.iter().filter(|(_, id)| ended(id)) {
            tracing::info!(execution_id = %id, container, "removing a leftover sandbox");
            remove(&self.docker, container).await;
        }
        for id in staged.iter().filter(|id| !mine.contains(id) && ended(id)) {
            remove_execution_folders(&self.execution_folders, *id).await;
        }
        Ok(())
    }
}

/// Removes an execution's sub-folder of each of `folders`; missing ones are fine.
pub async fn remove_execution_folders(folders: &[PathBuf], id: ExecutionId) {
    for folder in folders {
        let path = folder.join(id.to_string());
        if let Err(error) = tokio::fs::remove_dir_all(&path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %path.display(), "could not remove an execution's folder");
        }
    }
}
