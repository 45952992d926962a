//! The one Docker client of a worker process.

use bollard::{API_DEFAULT_VERSION, Docker};
use sage_model::catalog::cloud::SandboxImage;

use crate::sandbox::Runtime;
use crate::settings::RuntimeNames;

/// Seconds a single Docker API call may take before it is abandoned.
const DOCKER_TIMEOUT_SECS: u64 = 120;

/// Connects to `unix://…` or `tcp://…`/`http://…` and settles on the API version the
/// engine speaks (Debian's docker.io 20.10 speaks 1.41), so any Docker-compatible
/// engine works.
pub async fn connect(host: &str) -> Result<Docker, bollard::errors::Error> {
    let docker = if host.starts_with("unix://") {
        Docker::connect_with_unix(host, DOCKER_TIMEOUT_SECS, API_DEFAULT_VERSION)?
    } else {
        Docker::connect_with_http(host, DOCKER_TIMEOUT_SECS, API_DEFAULT_VERSION)?
    };
    let docker = docker.negotiate_version().await?;
    docker.ping().await?;
    Ok(docker)
}

/// Docker's option names for a bridge network.
const ICC_OPTION: &str = "com.docker.network.bridge.enable_icc";
const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

/// Makes the egress network when it is missing, and refuses one that lets sandboxes
/// reach each other or whose bridge the firewall rules would not find.
pub async fn ensure_egress_network(
    docker: &Docker,
    egress: &crate::settings::EgressNetwork,
) -> Result<(), String> {
    use bollard::models::NetworkCreateRequest;
    let inspected = match docker.inspect_network(&egress.name, None).await {
        Ok(network) => network,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            let request = NetworkCreateRequest {
                name: egress.name.clone(),
                driver: Some("bridge".to_owned()),
                // IPv4 only: the firewall rules are written for IPv4.
                enable_ipv6: Some(false),
                options: Some(
                    [
                        (ICC_OPTION.to_owned(), "false".to_owned()),
                        (BRIDGE_NAME_OPTION.to_owned(), egress.bridge.clone()),
                    ]
                    .into(),
                ),
                // Shared by every worker on the engine, whatever its fleet.
                labels: Some([("sage.network".to_owned(), "egress".to_owned())].into()),
                ..Default::default()
            };
            // Another worker may make it at the same moment: what counts is what exists.
            let made = docker.create_network(request).await;
            match docker.inspect_network(&egress.name, None).await {
                Ok(network) => network,
                Err(error) => {
                    let why = made.err().map_or(error.to_string(), |e| e.to_string());
                    return Err(format!("network {} cannot be made: {why}", egress.name));
                }
            }
        }
        Err(error) => return Err(format!("network {}: {error}", egress.name)),
    };
    if inspected.driver.as_deref() != Some("bridge") || !keeps_containers_apart(&inspected) {
        return Err(format!(
            "network {} lets sandboxes reach each other (it must be a bridge with {ICC_OPTION}=false); remove it and the worker makes it right",
            egress.name
        ));
    }
    if inspected.enable_ipv6 == Some(true) {
        return Err(format!(
            "network {} has IPv6, which the firewall rules (IPv4) do not fence; remove it and the worker makes it right",
            egress.name
        ));
    }
    let bridge = inspected
        .options
        .as_ref()
        .and_then(|options| options.get(BRIDGE_NAME_OPTION));
    if bridge != Some(&egress.bridge) {
        return Err(format!(
            "network {} is not on bridge {} (EGRESS_BRIDGE), which the firewall rules name; remove it and the worker makes it right",
            egress.name, egress.bridge
        ));
    }
    Ok(())
}

/// Whether the network has inter-container traffic off.
fn keeps_containers_apart(network: &bollard::models::NetworkInspect) -> bool {
    network
        .options
        .as_ref()
        .and_then(|options| options.get(ICC_OPTION))
        .is_some_and(|icc| icc == "false")
}

/// Checks the emulator network that replaces the egress network in development and
/// tests: it must exist and be `--internal`, so nothing on it leaves the machine, and
/// keep sandboxes apart as the egress network does (the emulator itself is let through
/// by a firewall rule of `dev/emulator.sh`).
pub async fn check_emulator_network(docker: &Docker, name: &str) -> Result<(), String> {
    let network = docker
        .inspect_network(name, None)
        .await
        .map_err(|error| format!("network {name}: {error} (dev/emulator.sh up makes it)"))?;
    if network.internal != Some(true) {
        return Err(format!(
            "network {name} is not --internal: egress runs on it could leave the machine"
        ));
    }
    if !keeps_containers_apart(&network) {
        return Err(format!(
            "network {name} lets sandboxes reach each other (it must have {ICC_OPTION}=false); dev/emulator.sh up makes it again"
        ));
    }
    tracing::warn!(
        network = name,
        "EMULATOR_NETWORK is set: egress runs reach only the local emulator's network (development and tests)"
    );
    Ok(())
}

/// The runtime of each kind of sandbox, as the engine has it registered.
#[derive(Debug, Clone)]
pub struct SandboxRuntimes {
    pub runner: Runtime,
    pub scanner: Runtime,
}

impl SandboxRuntimes {
    pub fn for_image(&self, image: SandboxImage) -> &Runtime {
        match image {
            SandboxImage::Runner => &self.runner,
            SandboxImage::Scanner => &self.scanner,
        }
    }
}

/// Finds each named runtime among the engine's, and whether containers under it can
/// have a network; a name the engine lacks is refused under its variable.
pub async fn sandbox_runtimes(
    docker: &Docker,
    names: &RuntimeNames,
) -> Result<SandboxRuntimes, Vec<(&'static str, String)>> {
    let registered = docker
        .info()
        .await
        .map_err(|error| vec![("docker", format!("the engine's runtimes: {error}"))])?
        .runtimes
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut resolve = |variable: &'static str, name: &str| {
        // runc is the engine's own, listed or not.
        match registered.get(name) {
            Some(runtime)
                if runtime
                    .path
                    .as_deref()
                    .is_some_and(|path| path.ends_with("runsc")) =>
            {
                Runtime::gvisor(name, runtime.runtime_args.as_deref().unwrap_or_default())
            }
            Some(_) => Runtime {
                name: name.to_owned(),
                ..Runtime::runc()
            },
            None if name == "runc" => Runtime::runc(),
            None => {
                let mut known: Vec<&str> = registered.keys().map(String::as_str).collect();
                known.sort_unstable();
                problems.push((
                    variable,
                    format!(
                        "the engine has no runtime {name} (it has {}); dev/stack.sh registers runsc",
                        known.join(", ")
                    ),
                ));
                Runtime::runc()
            }
        }
    };
    let runtimes = SandboxRuntimes {
        runner: resolve(RuntimeNames::RUNNER, &names.runner),
        scanner: resolve(RuntimeNames::SCANNER, &names.scanner),
    };
    if problems.is_empty() {
        Ok(runtimes)
    } else {
        Err(problems)
    }
}
