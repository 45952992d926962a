//! What a sandbox container is: every hardening setting of DESIGN.md in one pure
//! function, so a test can read them all without a Docker engine.
//!
//! The container's own process only holds the sandbox open; the script runs in it as
//! an exec. Its `/work` is a tmpfs, which dies with the container's last process and
//! which the engine's archive API cannot read: holding the container open past the
//! script's end is what lets the worker copy `/work/out` out of it.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, ExecConfig, HostConfig, Mount, MountType, ResourcesUlimits,
};
use sage_model::catalog::module::{Limits as ModuleLimits, NetworkPolicy};

/// The unprivileged user the script runs as; the runner image owns nothing for it.
pub const SANDBOX_UID: u32 = 10001;
/// The user of the process holding the container open: another unprivileged user, so
/// nothing the script starts can signal it and end the sandbox before its outputs are
/// collected. It needs no entry in the image's passwd.
pub const HOLDER_UID: u32 = 10002;
/// What holds the container open until the worker removes it (GNU coreutils' `sleep`).
pub const HOLD_COMMAND: [&str; 2] = ["sleep", "infinity"];
/// Where the script leaves its artifacts, and the folder that holds it.
pub const WORK_DIR: &str = "/work";
pub const OUTPUTS_FOLDER: &str = "out";
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

impl Limits {
    /// The engine's limits for a module's (memory counts swap too); the tmpfs sizes
    /// are the worker's.
    pub fn for_module(limits: &ModuleLimits) -> Self {
        let whole = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Self {
            memory_bytes: whole(limits.memory_mb.saturating_mul(1024 * 1024)),
            nano_cpus: (limits.cpus * 1e9) as i64,
            pids: whole(limits.pids),
            open_files: whole(limits.open_files),
            ..Self::default()
        }
    }
}

impl Limits {
    /// The largest file a sandbox may write, in bytes (`RLIMIT_FSIZE`).
    pub fn largest_file(&self) -> i64 {
        let largest = self.work_tmpfs_bytes.max(self.tmp_tmpfs_bytes);
        i64::try_from(largest).unwrap_or(i64::MAX)
    }
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// No interface but loopback: the default for every module.
    None,
    /// The worker's egress network (named here), for scanners that must reach a cloud
    /// API: sandboxes on it cannot reach each other, and the project's firewall rules
    /// keep them from the host and the link-local metadata addresses. Only an admin can
    /// give a module this.
    Egress(String),
}

impl Network {
    pub fn for_module(policy: NetworkPolicy, egress_network: &str) -> Self {
        match policy {
            NetworkPolicy::None => Self::None,
            NetworkPolicy::Egress => Self::Egress(egress_network.to_owned()),
        }
    }
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
    /// The container: hardened, limited, holding itself open. The script's command and
    /// environment (its secrets included) are not in it: they go in [`Self::script`].
    pub fn container_body(&self) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(self.image.clone()),
            // An empty entrypoint makes `cmd` the whole command, whatever the image says.
            entrypoint: Some(Vec::new()),
            cmd: Some(HOLD_COMMAND.map(str::to_owned).to_vec()),
            env: Some(Vec::new()),
            user: Some(format!("{HOLDER_UID}:{HOLDER_UID}")),
            working_dir: Some("/".to_owned()),
            hostname: Some("sandbox".to_owned()),
            labels: Some(self.labels.clone()),
            network_disabled: Some(self.network == Network::None),
            attach_stdin: Some(false),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            tty: Some(false),
            open_stdin: Some(false),
            host_config: Some(self.host_config()),
            ..Default::default()
        }
    }

    /// The script, run in the container as the sandbox user: it keeps the container's
    /// capabilities (none), seccomp profile, no-new-privileges, limits and namespaces.
    pub fn script(&self) -> ExecConfig {
        let env = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        sandbox_exec(self.argv.clone(), env)
    }
}

/// Copies `/work/out` out as a tar stream on stdout. Symlinks stay symlinks (tar does
/// not follow them, `out` itself included), so nothing outside the folder is read.
pub fn copy_outputs() -> ExecConfig {
    let argv = ["tar", "-C", WORK_DIR, "-cf", "-", OUTPUTS_FOLDER];
    sandbox_exec(argv.map(str::to_owned).to_vec(), Vec::new())
}

fn sandbox_exec(cmd: Vec<String>, env: Vec<String>) -> ExecConfig {
    ExecConfig {
        cmd: Some(cmd),
        env: Some(env),
        user: Some(format!("{SANDBOX_UID}:{SANDBOX_UID}")),
        working_dir: Some(WORK_DIR.to_owned()),
        privileged: Some(false),
        tty: Some(false),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    }
}

impl SandboxSpec {
    fn host_config(&self) -> HostConfig {
        let limits = &self.limits;
        let tmpfs = HashMap::from([
            (WORK_DIR.to_owned(), tmpfs_options(limits.work_tmpfs_bytes)),
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
            network_mode: Some(match &self.network {
                Network::None => "none".to_owned(),
                Network::Egress(name) => name.clone(),
            }),
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
            ulimits: Some(vec![
                ulimit("nofile", limits.open_files),
                // No core dumps: a crash must not run the host's core handler.
                ulimit("core", 0),
                // No file larger than the biggest tmpfs could hold anyway, so a write
                // never goes unbounded wherever it lands.
                ulimit("fsize", limits.largest_file()),
            ]),
            tmpfs: Some(tmpfs),
            mounts: Some(mounts),
            auto_remove: Some(false),
            ..Default::default()
        }
    }
}

fn ulimit(name: &str, value: i64) -> ResourcesUlimits {
    ResourcesUlimits {
        name: Some(name.to_owned()),
        soft: Some(value),
        hard: Some(value),
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
        assert_eq!(body.user.as_deref(), Some("10002:10002"));
        assert_eq!(spec().script().user.as_deref(), Some("10001:10001"));
        assert_eq!(spec().script().privileged, Some(false));
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
        assert_eq!(body.cmd.unwrap(), ["sleep", "infinity"]);
        let script = spec().script();
        assert_eq!(script.cmd.unwrap()[2], "; rm -rf /");
    }

    #[test]
    fn the_script_environment_stays_out_of_the_container() {
        assert_eq!(spec().container_body().env, Some(Vec::new()));
        assert_eq!(spec().script().env, Some(vec!["KEY=value".to_owned()]));
    }

    #[test]
    fn egress_is_the_only_way_to_a_network() {
        let mut spec = spec();
        spec.network = Network::for_module(NetworkPolicy::Egress, "sage-egress");
        let body = spec.container_body();
        assert_eq!(body.network_disabled, Some(false));
        assert_eq!(
            body.host_config.unwrap().network_mode.as_deref(),
            Some("sage-egress"),
            "the worker's own network, never the engine's default bridge"
        );
    }
}
