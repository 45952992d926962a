//! What the worker's scanner image holds: its labels name each tool with its version
//! (or why it is missing) and the names Prowler holds; the worker reports them to the
//! api at start and every so often, and keeps the versions for the records of tool
//! runs.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use bollard::Docker;
use sage_model::tools::Tool;
use sage_store::Db;
use sage_store::tools::Availability;
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
}

impl Reporter {
    pub async fn report(&self) {
        let report = inspect_scanner_image(&self.docker, &self.image).await;
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

/// What the scanner image's labels say about each tool (build.sh writes them).
pub async fn inspect_scanner_image(docker: &Docker, image: &str) -> BTreeMap<Tool, Availability> {
    let labels = match docker.inspect_image(image).await {
        Ok(inspected) => inspected
            .config
            .and_then(|config| config.labels)
            .unwrap_or_default(),
        Err(_) => {
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
