//! What every job shares: the clients, the settings and the state of this worker.

use std::sync::Arc;

use bollard::Docker;
use sage_infra::secrets::SecretBox;
use sage_store::Db;

use crate::control::Running;
use crate::logs::Publisher;
use crate::metrics::WorkerMetrics;
use crate::scanner_image::ToolVersions;
use crate::settings::Settings;
use crate::sts::Sts;

/// What every job needs; shared by the consumer's tasks.
pub struct Context {
    pub db: Db,
    pub docker: Docker,
    pub s3: aws_sdk_s3::Client,
    pub sts: Sts,
    /// The engine's runtime for each kind of sandbox.
    pub runtimes: crate::docker::SandboxRuntimes,
    pub secrets: SecretBox,
    pub settings: Arc<Settings>,
    pub running: Running,
    pub publisher: Publisher,
    /// The scanner image's tool versions, for the records of tool runs.
    pub tool_versions: ToolVersions,
    /// Evidence reports built at once.
    pub evidence_slots: Arc<tokio::sync::Semaphore>,
    pub evidence_fonts: sage_findings::report::FontFiles,
    pub metrics: Arc<WorkerMetrics>,
}
