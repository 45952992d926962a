//! What the worker's scanner image holds: its labels name each tool with its version
//! (or why it is missing) and the names Prowler holds, and point to the file of the
//! compliance frameworks; the worker reports them to the api at start and every so
//! often, and keeps the versions for the records of tool runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::StreamExt as _;
use sage_model::compliance::Controls;
use sage_model::tools::Tool;
use sage_store::Db;
use sage_store::tools::Availability;
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;

/// The versions of the tools the scanner image holds, as last inspected.
#[derive(Debug, Clone, Default)]
pub struct ToolVersions(Arc<RwLock<BTreeMap<Tool, String>>>);

impl ToolVersions {
    pub fn get(&self, tool: Tool) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tool)
            .cloned()
    }

    /// Stores what an inspection found; true when it changed.
    fn set(&self, versions: BTreeMap<Tool, String>) -> bool {
        let mut held = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = *held != versions;
        *held = versions;
        changed
    }
}

/// Tells the api which tools the worker's scanner image holds.
pub struct Reporter {
    pub db: Db,
    pub docker: Docker,
    pub image: String,
    pub versions: ToolVersions,
    /// The digest of the frameworks' file last reported: read again only when it changes.
    pub reported_controls: Mutex<Option<String>>,
}

impl Reporter {
    pub fn new(db: Db, docker: Docker, image: String, versions: ToolVersions) -> Self {
        Self {
            db,
            docker,
            image,
            versions,
            reported_controls: Mutex::new(None),
        }
    }

    pub async fn report(&self) {
        let labels = image_labels(&self.docker, &self.image).await;
        let report = tools_of(&self.image, labels.as_ref());
        if let Err(error) = self.db.report_tools(&report).await {
            tracing::warn!(error = %sage_infra::error_text(&error), "the scanner tools were not reported");
        }
        let available = report
            .iter()
            .filter_map(|(tool, availability)| match availability {
                Availability::Available { version, .. } => Some((*tool, version.clone())),
                Availability::Unavailable { .. } => None,
            })
            .collect();
        if self.versions.set(available) {
            for (tool, availability) in &report {
                tracing::info!(%tool, ?availability, "scanner tool");
            }
        }
        if let Some(file) = labels.as_ref().and_then(ControlsFile::of) {
            self.report_controls(file).await;
        }
    }

    async fn report_controls(&self, file: ControlsFile) {
        let reported = |digest: &str| {
            self.reported_controls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_deref()
                == Some(digest)
        };
        if reported(&file.sha256) {
            return;
        }
        let controls = match read_controls(&self.docker, &self.image, &file).await {
            Ok(controls) => controls,
            Err(reason) => {
                tracing::warn!(%reason, path = %file.path, "the compliance frameworks were not read from the scanner image");
                return;
            }
        };
        match self.db.report_frameworks(&controls).await {
            Ok(()) => {
                tracing::info!(frameworks = controls.frameworks.len(), tool = %controls.tool, version = %controls.version, "compliance frameworks");
                *self
                    .reported_controls
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(file.sha256);
            }
            Err(error) => {
                tracing::warn!(error = %sage_infra::error_text(&error), "the compliance frameworks were not reported");
            }
        }
    }

    /// Reports again every `every` until `stop`.
    pub async fn run(self, every: std::time::Duration, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => self.report().await,
            }
        }
    }
}

/// The scanner image's labels (build.sh writes them); none when the image is missing.
async fn image_labels(docker: &Docker, image: &str) -> Option<HashMap<String, String>> {
    let inspected = docker.inspect_image(image).await.ok()?;
    Some(
        inspected
            .config
            .and_then(|config| config.labels)
            .unwrap_or_default(),
    )
}

/// What the scanner image's labels say about each tool.
pub async fn inspect_scanner_image(docker: &Docker, image: &str) -> BTreeMap<Tool, Availability> {
    tools_of(image, image_labels(docker, image).await.as_ref())
}

fn tools_of(image: &str, labels: Option<&HashMap<String, String>>) -> BTreeMap<Tool, Availability> {
    let labels = match labels {
        Some(labels) => labels,
        None => {
            let reason = format!(
                "the scanner image {image} is not on the worker's container engine (runner-image/scanner/build.sh builds it)"
            );
            return Tool::ALL
                .into_iter()
                .map(|tool| {
                    (
                        tool,
                        Availability::Unavailable {
                            reason: reason.clone(),
                        },
                    )
                })
                .collect();
        }
    };
    Tool::ALL
        .into_iter()
        .map(|tool| {
            let label = |what: &str| labels.get(&format!("sage.tool.{tool}.{what}")).cloned();
            let availability = match (label("version"), label("unavailable")) {
                (Some(version), _) => Availability::Available {
                    version,
                    // An image built before the names were labelled, or a label that
                    // does not read: nothing is refused at submission, the driver
                    // still checks inside the sandbox.
                    names: label("names")
                        .and_then(|names| serde_json::from_str(&names).ok())
                        .unwrap_or_default(),
                },
                (None, Some(reason)) => Availability::Unavailable { reason },
                (None, None) => Availability::Unavailable {
                    reason: format!("the scanner image {image} does not hold {tool}"),
                },
            };
            (tool, availability)
        })
        .collect()
}

/// Where the image holds its compliance frameworks (labels `sage.tool.prowler.controls`
/// and `….sha256`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ControlsFile {
    path: String,
    sha256: String,
}

impl ControlsFile {
    fn of(labels: &HashMap<String, String>) -> Option<Self> {
        Some(Self {
            path: labels.get("sage.tool.prowler.controls")?.clone(),
            sha256: labels.get("sage.tool.prowler.controls.sha256")?.clone(),
        })
    }
}

/// The largest frameworks file read (Prowler 5's is under 1 MiB).
const CONTROLS_MAX_BYTES: usize = 16 << 20;

/// Reads the frameworks file out of the image without running anything: a container is
/// created, never started, the file copied out of it, and the container removed.
async fn read_controls(
    docker: &Docker,
    image: &str,
    file: &ControlsFile,
) -> Result<Controls, String> {
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        // Never run: the engine wants a command all the same.
        cmd: Some(vec!["true".to_owned()]),
        network_disabled: Some(true),
        ..ContainerCreateBody::default()
    };
    let created = docker
        .create_container(None, body)
        .await
        .map_err(|error| format!("cannot create a container of {image}: {error}"))?;
    let copied = copy_file_out(docker, &created.id, &file.path).await;
    crate::sandbox::remove(docker, &created.id).await;
    let bytes = copied?;
    let digest = sage_model::hex(&Sha256::digest(&bytes));
    if digest != file.sha256 {
        return Err(format!(
            "{} has sha256 {digest}, its label says {}",
            file.path, file.sha256
        ));
    }
    serde_json::from_slice(&bytes).map_err(|error| format!("{} does not read: {error}", file.path))
}

/// One file of a container, out of the tar archive the engine sends.
async fn copy_file_out(docker: &Docker, id: &str, path: &str) -> Result<Vec<u8>, String> {
    let options = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut archive = Vec::new();
    let mut chunks = docker.download_from_container(id, Some(options));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| format!("cannot copy {path} out: {error}"))?;
        if archive.len() + chunk.len() > CONTROLS_MAX_BYTES + 64 * 1024 {
            return Err(format!("{path} is larger than {CONTROLS_MAX_BYTES} bytes"));
        }
        archive.extend_from_slice(&chunk);
    }
    let mut entries = tar::Archive::new(archive.as_slice());
    let mut entry = entries
        .entries()
        .and_then(|mut entries| entries.next().transpose())
        .map_err(|error| format!("the copy of {path} does not read: {error}"))?
        .ok_or_else(|| format!("the copy of {path} is empty"))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut bytes)
        .map_err(|error| format!("the copy of {path} does not read: {error}"))?;
    Ok(bytes)
}
