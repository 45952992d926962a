//! What a sandbox container is: every hardening setting of DESIGN.md in one pure
//! function, so a test can read them all without a Docker engine.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, ResourcesUlimits};

/// The unprivileged user every sandbox runs as; the runner image owns nothing for it.
pub const SANDBOX_UID: u32 = 10001;
pub const LABEL_EXECUTION: &str = "sage.execution_id";
pub const LABEL_WORKER: &str = "sage.worker_id";
/// The deployment (its queue prefix): workers of one deployment only ever clean up
/// their own deployment's sandboxes on an engine that others share.
pub const LABEL_FLEET: &str = "sage.fleet";

#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub memory_bytes: i64,
    /// CPUs in billionths, as Docker counts them (1.5 CPUs = 1_500_000_000).
    pub nano_cpus: i64,
    pub pids: i64,
    pub open_files: i64,
    pub work_tmpfs_bytes: u64,
    pub tmp_tmpfs_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 * 1024 * 1024,
            nano_cpus: 1_000_000_000,
            pids: 64,
            open_files: 1024,
            work_tmpfs_bytes: 64 * 1024 * 1024,
            tmp_tmpfs_bytes: 16 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// No interface but loopback: the default for every module.
    None,
    /// The engine's default bridge, for scanners that must reach a cloud API. Only an
    /// admin can give a module this.
    Egress,
}

/// A file of the host bound read-only into the sandbox (the verified script copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnlyFile {
    pub host_path: String,
    pub container_path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSpec {
    pub image: String,
    /// The full command, interpreter first; never passed through a shell.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub files: Vec<ReadOnlyFile>,
    pub limits: Limits,
    pub network: Network,
    pub labels: HashMap<String, String>,
}

impl SandboxSpec {
    pub fn container_body(&self) -> ContainerCreateBody {
        let env = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        ContainerCreateBody {
            image: Some(self.image.clone()),
            // An empty entrypoint makes `cmd` the whole command, whatever the image says.
            entrypoint: Some(Vec::new()),
            cmd: Some(self.argv.clone()),
            env: Some(env),
            user: Some(format!("{SANDBOX_UID}:{SANDBOX_UID}")),
            working_dir: Some("/work".to_owned()),
            hostname: Some("sandbox".to_owned()),
            labels: Some(self.labels.clone()),
            network_disabled: Some(self.network == Network::None),
            attach_stdin: Some(false),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            open_stdin: Some(false),
            host_config: Some(self.host_config()),
            ..Default::default()
        }
    }

    fn host_config(&self) -> HostConfig {
        let limits = &self.limits;
        let tmpfs = HashMap::from([
            ("/work".to_owned(), tmpfs_options(limits.work_tmpfs_bytes)),
            ("/tmp".to_owned(), tmpfs_options(limits.tmp_tmpfs_bytes)),
        ]);
        let mounts = self
            .files
            .iter()
            .map(|file| Mount {
                target: Some(file.container_path.clone()),
                source: Some(file.host_path.clone()),
                typ: Some(MountType::BIND),
                read_only: Some(true),
                ..Default::default()
            })
            .collect();
        HostConfig {
            network_mode: Some(
                match self.network {
                    Network::None => "none",
                    Network::Egress => "bridge",
                }
                .to_owned(),
            ),
            readonly_rootfs: Some(true),
            cap_drop: Some(vec!["ALL".to_owned()]),
            security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
            privileged: Some(false),
            init: Some(true),
            ipc_mode: Some("private".to_owned()),
            memory: Some(limits.memory_bytes),
            // Equal to memory: no swap, so the memory limit is a real limit.
            memory_swap: Some(limits.memory_bytes),
            nano_cpus: Some(limits.nano_cpus),
            pids_limit: Some(limits.pids),
            ulimits: Some(vec![ResourcesUlimits {
                name: Some("nofile".to_owned()),
                soft: Some(limits.open_files),
                hard: Some(limits.open_files),
            }]),
            tmpfs: Some(tmpfs),
            mounts: Some(mounts),
            auto_remove: Some(false),
            ..Default::default()
        }
    }
}

fn tmpfs_options(bytes: u64) -> String {
    format!("rw,nosuid,nodev,noexec,size={bytes},mode=0700,uid={SANDBOX_UID},gid={SANDBOX_UID}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            image: "sage-runner:latest".to_owned(),
            argv: vec![
                "python3".into(),
                "/opt/scripts/x.py".into(),
                "; rm -rf /".into(),
            ],
            env: vec![("KEY".into(), "value".into())],
            files: vec![ReadOnlyFile {
                host_path: "/var/lib/sage/staging/e/x.py".into(),
                container_path: "/opt/scripts/x.py".into(),
            }],
            limits: Limits::default(),
            network: Network::None,
            labels: HashMap::from([(LABEL_EXECUTION.to_owned(), "e".to_owned())]),
        }
    }

    #[test]
    fn every_hardening_setting_is_present() {
        let body = spec().container_body();
        let host = body.host_config.clone().unwrap();
        assert_eq!(body.user.as_deref(), Some("10001:10001"));
        assert_eq!(body.network_disabled, Some(true));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges:true".to_owned()])
        );
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.memory, host.memory_swap);
        assert_eq!(host.pids_limit, Some(64));
        assert!(
            host.binds.is_none(),
            "no host paths besides the read-only script"
        );
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].read_only, Some(true));
        let tmpfs = host.tmpfs.unwrap();
        assert!(tmpfs["/work"].contains("size=67108864"));
        assert!(tmpfs["/tmp"].contains("nosuid"));
    }

    #[test]
    fn argv_is_passed_as_elements_without_a_shell() {
        let body = spec().container_body();
        assert_eq!(body.entrypoint, Some(Vec::new()));
        assert_eq!(body.cmd.unwrap()[2], "; rm -rf /");
    }

    #[test]
    fn egress_is_the_only_way_to_a_network() {
        let mut spec = spec();
        spec.network = Network::Egress;
        let body = spec.container_body();
        assert_eq!(body.network_disabled, Some(false));
        assert_eq!(
            body.host_config.unwrap().network_mode.as_deref(),
            Some("bridge")
        );
    }
}
