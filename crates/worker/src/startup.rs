//! Start-up: connect to every dependency, and say exactly which one is missing.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use sage_infra::STARTUP_TIMEOUT;
use sage_infra::amqp::Broker;
use sage_store::Db;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::control::{Reaper, Running, listen_for_stops};
use crate::logs::Publisher;
use crate::metrics::WorkerMetrics;
use crate::settings::Settings;

/// The connections a worker holds for its lifetime.
pub struct Dependencies {
    pub db: Db,
    pub broker: Broker,
    /// Reconnects by itself after a Redis outage.
    pub redis: redis::aio::ConnectionManager,
    pub s3: aws_sdk_s3::Client,
    pub docker: Docker,
    /// The engine's runtime for each kind of sandbox.
    pub runtimes: crate::docker::SandboxRuntimes,
    /// Bound at start, so a port in use is reported with the rest.
    pub metrics_listener: Option<std::net::TcpListener>,
}

impl Dependencies {
    /// The port `/metrics` is served on, when it is.
    pub fn metrics_port(&self) -> Option<u16> {
        let listener = self.metrics_listener.as_ref()?;
        listener.local_addr().ok().map(|address| address.port())
    }
}

/// The dependencies that did not answer at start, each with its error.
#[derive(Debug, thiserror::Error)]
pub struct Unreachable(pub Vec<(&'static str, String)>);

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot reach ")?;
        for (i, (name, error)) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { "; " };
            write!(f, "{separator}{name} ({error})")?;
        }
        Ok(())
    }
}

/// Connects to PostgreSQL, RabbitMQ, Redis, S3 and Docker concurrently, and checks the
/// runner image and the egress network are right; all failures are reported together.
/// Each dependency has [`STARTUP_TIMEOUT`] to answer.
pub async fn connect(settings: &Settings) -> Result<Dependencies, Unreachable> {
    let common = &settings.common;
    let broker = Broker::new(common.amqp.clone());
    let s3 = common.s3.client().await;
    let db = Db::connect(&settings.database).map_err(|e| text(&e));
    let redis = common.redis.client().map_err(|e| text(&e));
    let (postgres, rabbitmq, redis_check, s3_check, docker) = tokio::join!(
        async {
            match &db {
                Ok(db) => sage_infra::probe_within(STARTUP_TIMEOUT, db.check()).await,
                Err(e) => Err(e.clone()),
            }
        },
        broker.check_within(STARTUP_TIMEOUT),
        async {
            match &redis {
                Ok(client) => sage_infra::redis::check_within(client, STARTUP_TIMEOUT).await,
                Err(e) => Err(e.clone()),
            }
        },
        // Boxed: the S3 client's futures are large, and this one runs once.
        Box::pin(sage_infra::s3::ensure_bucket(&s3, &common.s3.bucket)),
        connect_docker(settings),
    );
    let metrics_listener = settings
        .metrics_bind
        .map(|address| {
            std::net::TcpListener::bind(address)
                .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
                .map_err(|e| format!("cannot listen on {address}: {e}"))
        })
        .transpose();
    let (egress_variable, egress) = match (&docker, &settings.emulator_network) {
        (Ok(docker), Some(emulator)) => (
            "EMULATOR_NETWORK",
            crate::docker::check_emulator_network(docker, emulator).await,
        ),
        (Ok(docker), None) => (
            "EGRESS_NETWORK",
            crate::docker::ensure_egress_network(docker, &settings.egress).await,
        ),
        // Already reported as `docker`.
        (Err(_), _) => ("EGRESS_NETWORK", Ok(())),
    };
    let runtimes = match &docker {
        Ok(docker) => crate::docker::sandbox_runtimes(docker, &settings.runtimes).await,
        // Already reported as `docker`.
        Err(_) => Err(Vec::new()),
    };
    let mut failures: Vec<(&'static str, String)> = [
        ("postgres", postgres.err()),
        ("rabbitmq", rabbitmq.err()),
        ("redis", redis_check.err()),
        ("s3", s3_check.err()),
        ("docker", docker.as_ref().err().cloned()),
        (egress_variable, egress.err()),
        ("STAGING_DIR", private_folder(&settings.staging_dir).err()),
        ("SECRETS_DIR", private_folder(&settings.secrets_dir).err()),
        (
            "WORKER_METRICS_BIND",
            metrics_listener.as_ref().err().cloned(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, error)| error.map(|e| (name, e)))
    .collect();
    if let Err(problems) = &runtimes {
        failures.extend(problems.iter().cloned());
    }
    let (Ok(db), Ok(redis), Ok(docker), Ok(metrics_listener), Ok(runtimes)) =
        (db, redis, docker, metrics_listener, runtimes)
    else {
        return Err(Unreachable(failures));
    };
    if !failures.is_empty() {
        return Err(Unreachable(failures));
    }
    let redis = redis::aio::ConnectionManager::new(redis)
        .await
        .map_err(|e| Unreachable(vec![("redis", text(&e))]))?;
    Ok(Dependencies {
        db,
        broker,
        redis,
        s3,
        docker,
        runtimes,
        metrics_listener,
    })
}

async fn connect_docker(settings: &Settings) -> Result<Docker, String> {
    let docker = crate::docker::connect(&settings.docker_host)
        .await
        .map_err(|e| format!("{} at {}", text(&e), settings.docker_host))?;
    docker
        .inspect_image(&settings.runner_image)
        .await
        .map_err(|_| {
            format!(
                "runner image {} is missing (build it with runner-image/build.sh)",
                settings.runner_image
            )
        })?;
    Ok(docker)
}

/// Makes sure `path` is a folder of this worker's own that nobody else may enter: made
/// 0700 when missing, tightened to 0700 when it is ours, refused when it is a symlink or
/// belongs to someone else (a local user who made it first could swap the script
/// copies or secret files in it).
fn private_folder(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let shown = path.display();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| format!("{shown} cannot be made: {e}"))?;
    let folder = std::fs::symlink_metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if !folder.is_dir() {
        return Err(format!("{shown} is not a folder (a symlink?)"));
    }
    // Whoever we are: a file made here now is ours.
    let probe = path.join(format!(".owner-{}", uuid::Uuid::new_v4().simple()));
    let ours = std::fs::File::create(&probe)
        .and_then(|file| file.metadata())
        .map(|meta| meta.uid())
        .map_err(|e| format!("{shown} is not writable by this worker: {e}"));
    let _ = std::fs::remove_file(&probe);
    if folder.uid() != ours? {
        return Err(format!(
            "{shown} belongs to uid {}, not to this worker",
            folder.uid()
        ));
    }
    // Open to others even once, it may hold files they placed or swapped: a person
    // looks before it is trusted, rather than the worker quietly closing it.
    if folder.mode() & 0o077 != 0 {
        return Err(format!(
            "{shown} is mode {:04o}, open to other users: check what it holds, then make it 0700 or remove it",
            folder.mode() & 0o7777
        ));
    }
    Ok(())
}

fn text(error: &(dyn std::error::Error + 'static)) -> String {
    sage_infra::error_text(error)
}

/// How often a worker looks at its scanner image again.
const TOOL_REPORT_EVERY: Duration = Duration::from_secs(30);

/// Consumes jobs until the stop signal, then finishes running executions within the
/// grace period.
pub async fn run_until_stopped(
    settings: Settings,
    dependencies: Dependencies,
    shutdown: CancellationToken,
) {
    tracing::info!(worker_id = %settings.worker_id, concurrency = settings.concurrency, "worker ready");
    let Dependencies {
        db,
        broker,
        docker,
        redis,
        s3,
        runtimes,
        metrics_listener,
    } = dependencies;
    let metrics = Arc::new(WorkerMetrics::new(settings.concurrency));
    // The helpers outlive the consumer's graceful stop: runs finishing in the grace
    // period must still be stoppable (and scraped), so they have their own token.
    let helpers = CancellationToken::new();
    let scrapes = match metrics_listener.map(tokio::net::TcpListener::from_std) {
        Some(Ok(listener)) => {
            tracing::info!(address = ?listener.local_addr().ok(), "serving /metrics");
            Some(tokio::spawn(sage_infra::metrics::serve(
                listener,
                metrics.registry(),
                helpers.clone(),
            )))
        }
        Some(Err(error)) => {
            tracing::error!(%error, "cannot serve /metrics");
            None
        }
        None => None,
    };
    let running = Running::default();
    let reaper = Reaper {
        db: db.clone(),
        docker: docker.clone(),
        running: running.clone(),
        worker_id: settings.worker_id.clone(),
        fleet: settings.common.amqp.queue_prefix.clone(),
        execution_folders: settings.execution_folders(),
        every: (settings.lease / 2).min(Duration::from_secs(10)),
        runs: metrics.runs.clone(),
    };
    let listener = tokio::spawn(listen_for_stops(
        db.clone(),
        running.clone(),
        helpers.clone(),
    ));
    let reaping = tokio::spawn(reaper.run(helpers.clone()));
    let worker_id = settings.worker_id.clone();
    tracing::info!(source = %settings.sts.identity, "the worker's identity for STS");
    for (kind, runtime) in [("runner", &runtimes.runner), ("scanner", &runtimes.scanner)] {
        tracing::info!(
            kind,
            runtime = %runtime.name,
            networks = runtime.networks,
            "sandbox runtime"
        );
    }
    let sts = Box::pin(crate::sts::Sts::new(&settings.sts)).await;
    let tool_versions = crate::scanner_image::ToolVersions::default();
    let reporter = crate::scanner_image::Reporter::new(
        db.clone(),
        docker.clone(),
        settings.scanner_image.clone(),
        tool_versions.clone(),
    );
    // Reported once before the first job, then again now and then: a scanner image built
    // or replaced after the worker started is picked up without a restart.
    Box::pin(reporter.report()).await;
    let reporting = tokio::spawn(reporter.run(TOOL_REPORT_EVERY, helpers.clone()));
    let evidence_slots = Arc::new(tokio::sync::Semaphore::new(settings.evidence.concurrency));
    let evidence_fonts = sage_findings::report::FontFiles::nanum(&settings.evidence.font_dir);
    let ctx = Arc::new(Context {
        db,
        docker,
        s3,
        sts,
        runtimes,
        secrets: settings.common.secrets.clone(),
        settings: Arc::new(settings),
        running,
        publisher: Publisher { redis },
        tool_versions,
        evidence_slots,
        evidence_fonts,
        metrics,
    });
    crate::consumer::run(ctx, &broker, shutdown).await;
    helpers.cancel();
    let _ = tokio::join!(listener, reaping, reporting);
    if let Some(scrapes) = scrapes {
        let _ = scrapes.await;
    }
    tracing::info!(%worker_id, "worker stopped");
}
