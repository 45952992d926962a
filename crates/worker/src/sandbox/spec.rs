//! What a sandbox container is: every hardening setting (docs/security.md) in one pure
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

/// Where the users of runs start: far above any account of a host or an image.
const RUN_UIDS_FROM: u32 = 1 << 20;
/// How many users runs are spread over.
const RUN_UIDS: u32 = 1 << 30;

/// The unprivileged user (and group) one execution's script runs as: drawn from its id,
/// so runs at the same time, on any worker of the engine, are different users. The
/// kernel counts some limits per user (inotify instances and watches, processes,
/// message queues): shared, one run could exhaust them for all. The runner image owns
/// nothing for any of them, and none has a passwd entry (`HOME` is `/work`).
pub fn run_uid(execution_id: &str) -> u32 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(execution_id.as_bytes());
    let drawn = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    RUN_UIDS_FROM + drawn % RUN_UIDS
}
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

/// The engine's OCI runtime a sandbox runs under: `runc` (namespaces and seccomp on the
/// host's kernel) or `runsc` (gVisor: a user-space kernel between the script and the
/// host's), registered with the engine under that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    pub name: String,
    /// Whether a container under it can have a network here: Debian's runsc is
    /// registered with `--network=none`, the only way it starts on these hosts, and
    /// then gives every container loopback alone, whatever network the engine attaches.
    pub networks: bool,
    /// Host threads the runtime itself runs in the container's cgroup, on top of the
    /// script's processes: gVisor's kernel needs about 40 before the script starts,
    /// and would not start at all under a module's small `pids` limit.
    pub own_pids: i64,
}

/// Headroom for gVisor's own threads in a sandbox's pids limit (measured: it starts
/// with 40, not with 36).
pub const GVISOR_OWN_PIDS: i64 = 64;

impl Runtime {
    /// The engine's own runtime, which every engine has and which networks.
    pub fn runc() -> Self {
        Self {
            name: "runc".to_owned(),
            networks: true,
            own_pids: 0,
        }
    }

    /// gVisor's runsc, registered with these arguments.
    pub fn gvisor(name: &str, args: &[String]) -> Self {
        let without_network = args.iter().any(|arg| arg == "--network=none")
            || args
                .windows(2)
                .any(|pair| pair[0] == "--network" && pair[1] == "none");
        Self {
            name: name.to_owned(),
            networks: !without_network,
            own_pids: GVISOR_OWN_PIDS,
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
    /// The user the script runs as ([`run_uid`]); also the owner of `/work`.
    pub uid: u32,
    /// The full command, interpreter first; never passed through a shell.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub files: Vec<ReadOnlyFile>,
    pub limits: Limits,
    pub network: Network,
    pub runtime: Runtime,
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
        let env = std::iter::once(format!("HOME={WORK_DIR}"))
            .chain(self.env.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        self.exec(self.argv.clone(), env)
    }

    /// Ends every process the script left behind, then copies `/work/out` out as a tar
    /// stream on stdout, in one exec. `kill -9 -1` as the script's user reaches all of
    /// that user's processes but the shell itself, never the holder (another user). A
    /// process killed so runs no more code of its own; the shell still waits until no
    /// process it may signal (`kill -0`: its user's) but itself is left (a bounded
    /// number of looks), so no write of theirs is half done, then becomes `tar`. Not
    /// `[ -O /proc/N ]`: under gVisor a dying process's entry cannot be stat'ed, and
    /// the wait would end while it can still stop `tar`. Symlinks stay symlinks (tar
    /// does not follow them, `out` itself included), so nothing outside the folder is
    /// read.
    pub fn copy_outputs(&self) -> ExecConfig {
        let script = format!(
            "kill -9 -1 2>/dev/null; n=0; \
             while [ $n -lt 500 ]; do \
               left=; for p in /proc/[0-9]*; do \
                 [ \"$p\" != /proc/$$ ] && kill -0 \"${{p#/proc/}}\" 2>/dev/null \
                   && left=$p && break; done; \
               [ -z \"$left\" ] && break; n=$((n + 1)); done; \
             exec tar -C {WORK_DIR} -cf - {OUTPUTS_FOLDER}"
        );
        self.exec(vec!["sh".to_owned(), "-c".to_owned(), script], Vec::new())
    }

    fn exec(&self, cmd: Vec<String>, env: Vec<String>) -> ExecConfig {
        sandbox_exec(self.uid, cmd, env)
    }
}

fn sandbox_exec(uid: u32, cmd: Vec<String>, env: Vec<String>) -> ExecConfig {
    ExecConfig {
        cmd: Some(cmd),
        env: Some(env),
        user: Some(format!("{uid}:{uid}")),
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
        // `/work/out` is a tmpfs of its own, so it exists, empty and the script's, when
        // the script starts.
        let tmpfs = HashMap::from([
            (
                WORK_DIR.to_owned(),
                tmpfs_options(limits.work_tmpfs_bytes, self.uid),
            ),
            (
                format!("{WORK_DIR}/{OUTPUTS_FOLDER}"),
                tmpfs_options(limits.work_tmpfs_bytes, self.uid),
            ),
            (
                "/tmp".to_owned(),
                tmpfs_options(limits.tmp_tmpfs_bytes, self.uid),
            ),
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
            runtime: Some(self.runtime.name.clone()),
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
            pids_limit: Some(limits.pids.saturating_add(self.runtime.own_pids)),
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

fn tmpfs_options(bytes: u64, uid: u32) -> String {
    format!("rw,nosuid,nodev,noexec,size={bytes},mode=0700,uid={uid},gid={uid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_different_users_far_from_the_images_and_the_holders() {
        let uids: std::collections::HashSet<u32> = (0..100)
            .map(|_| run_uid(&uuid::Uuid::new_v4().to_string()))
            .collect();
        assert_eq!(uids.len(), 100, "no two of a hundred runs share a user");
        assert!(
            uids.iter()
                .all(|uid| *uid >= 1 << 20 && *uid < (1 << 20) + (1 << 30))
        );
        assert_eq!(run_uid("same"), run_uid("same"), "a run keeps its user");
        const { assert!(HOLDER_UID < RUN_UIDS_FROM) };
    }

    fn spec() -> SandboxSpec {
        SandboxSpec {
            image: "sage-runner:latest".to_owned(),
            uid: run_uid("e"),
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
            runtime: Runtime::runc(),
            labels: HashMap::from([(LABEL_EXECUTION.to_owned(), "e".to_owned())]),
        }
    }

    #[test]
    fn every_hardening_setting_is_present() {
        let body = spec().container_body();
        let host = body.host_config.clone().unwrap();
        assert_eq!(body.user.as_deref(), Some("10002:10002"));
        let uid = run_uid("e");
        assert_eq!(spec().script().user, Some(format!("{uid}:{uid}")));
        assert_eq!(spec().copy_outputs().user, Some(format!("{uid}:{uid}")));
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
        assert!(tmpfs["/work/out"].contains(&format!("uid={uid},gid={uid}")));
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
        assert_eq!(
            spec().script().env,
            Some(vec!["HOME=/work".to_owned(), "KEY=value".to_owned()])
        );
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

    #[test]
    fn under_gvisor_the_pids_limit_leaves_room_for_its_own_threads() {
        let mut gvisor = spec();
        gvisor.limits.pids = 32;
        gvisor.runtime = Runtime::gvisor("runsc", &["--network=none".to_owned()]);
        let host = gvisor.container_body().host_config.unwrap();
        assert_eq!(host.runtime.as_deref(), Some("runsc"));
        assert_eq!(host.pids_limit, Some(32 + GVISOR_OWN_PIDS));
        assert!(!gvisor.runtime.networks);
        let runc = spec().container_body().host_config.unwrap();
        assert_eq!(runc.runtime.as_deref(), Some("runc"));
        assert_eq!(runc.pids_limit, Some(spec().limits.pids));
    }
}
