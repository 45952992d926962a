//! What every request handler can reach.

use std::sync::Arc;

use std::path::PathBuf;
use std::time::Duration;

use sage_infra::amqp::Broker;
use sage_model::catalog::module::Limits;
use sage_store::Db;

use crate::identity::auth::Authenticator;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub broker: Arc<Broker>,
    /// Readiness checks Redis through it.
    pub redis: redis::Client,
    /// The last round of readiness checks, shared by every `/ready` caller.
    pub readiness: Arc<crate::http::ready::ReadyCache>,
    /// What the log streams of this process share.
    pub live: crate::background::live::Live,
    pub artifacts: ArtifactLinks,
    pub runs: RunRules,
    pub catalog: CatalogRules,
    pub auth: Authenticator,
    /// Callers seen lately (see [`crate::identity::signed_in`]).
    pub signed_in: Arc<crate::identity::signed_in::SignedIn>,
    /// What `/metrics` reports.
    pub metrics: Arc<crate::http::metrics::ApiMetrics>,
    /// Where notification channels may send.
    pub notify: crate::background::notifications::NotifySettings,
}

/// Where the artifacts are and how their download links are signed.
#[derive(Clone)]
pub struct ArtifactLinks {
    pub s3: aws_sdk_s3::Client,
    /// Signs download URLs for the address clients reach S3 at.
    pub presigner: aws_sdk_s3::Client,
    pub bucket: String,
    /// How long a download link lasts.
    pub ttl: Duration,
}

/// The deployment's rules of a run, as the submission service applies them.
#[derive(Clone)]
pub struct RunRules {
    /// How long a run may wait for its approvals.
    pub approval_ttl: Duration,
    /// How many runs one user, and one module, may have queued or running at once.
    pub in_flight: sage_store::executions::InFlightLimits,
    /// The furthest a risk acceptance may expire, in days from its request.
    pub acceptance_max_days: u32,
    /// The closest two fires of one schedule may be, in seconds.
    pub schedule_min_seconds: u32,
    /// Seals a run's secrets until its worker opens them.
    pub secrets: sage_infra::secrets::SecretBox,
    /// The AWS roles runs may name.
    pub assume_roles: sage_model::catalog::cloud::RoleAllowlist,
    /// The worker's AWS config profiles runs may name (local development).
    pub aws_profiles: sage_model::catalog::cloud::ProfileAllowlist,
}

/// The deployment's rules of the catalog.
#[derive(Clone)]
pub struct CatalogRules {
    /// The script library scripts are registered from.
    pub scripts_dir: PathBuf,
    /// The highest limits a module version may ask for.
    pub limit_ceiling: Limits,
    /// Days runs keep their logs, artifacts and finding history when their module does
    /// not say.
    pub retention_days: i32,
}
