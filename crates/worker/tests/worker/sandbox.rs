use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use sage_infra::config::Env;
use sage_worker::sandbox::spec::{LABEL_EXECUTION, run_uid};
use tokio_util::sync::CancellationToken;

use crate::support::{containers_labelled, docker};
use sage_worker::sandbox::{
    Captured, End, EndReason, Finished, Limits, Network, Outputs, RunBounds, Runtime, SandboxSpec,
    Spool, run_to_end,
};

pub fn runner_image() -> String {
    Env::for_tests()
        .raw("RUNNER_IMAGE")
        .unwrap_or("sage-runner:latest")
        .to_owned()
}

/// A sandbox of the runner image running `code`, under the engine's runc.
pub fn python(code: &str) -> (String, SandboxSpec) {
    python_under(code, &Runtime::runc())
}

fn python_under(code: &str, runtime: &Runtime) -> (String, SandboxSpec) {
    let id = uuid::Uuid::new_v4().to_string();
    let spec = SandboxSpec {
        image: runner_image(),
        uid: run_uid(&id),
        argv: vec!["python3".into(), "-c".into(), code.into()],
        env: vec![("GREETING".into(), "hello; $(rm -rf /)".into())],
        files: Vec::new(),
        limits: Limits::default(),
        network: Network::None,
        runtime: runtime.clone(),
        labels: HashMap::from([(LABEL_EXECUTION.to_owned(), id.clone())]),
    };
    (id, spec)
}

async fn a_hardened_container_runs_and_is_removed(runtime: Runtime) {
    let docker = docker().await;
    let code = r#"
import os
print(os.getuid(), os.getgid(), os.environ["GREETING"])
print(sorted(os.listdir("/sys/class/net")))
try:
    open("/etc/owned", "w")
    print("root writable")
except OSError:
    print("root read-only")
open("/work/ok", "w").write("x")
print("work writable")
status = open("/proc/self/status").read()
print([l for l in status.splitlines() if l.startswith("CapEff")])
# Asked of the kernel: gVisor's /proc/self/status has no NoNewPrivs line.
import ctypes
print("no_new_privs", ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))
v4 = [r.split()[0] for r in open("/proc/net/route").read().splitlines()[1:]]
v6 = [r.split()[-1] for r in open("/proc/net/ipv6_route").read().splitlines()]
print("routes:", [device for device in v4 + v6 if device != "lo"])
import resource
print("core", resource.getrlimit(resource.RLIMIT_CORE))
print("fsize", resource.getrlimit(resource.RLIMIT_FSIZE))
import socket
try:
    # No interface but loopback: the query has nowhere to go, so nothing is sent.
    socket.getaddrinfo("example.com", 443)
    print("resolver answered")
except OSError as error:
    print("no resolver answer:", type(error).__name__)
"#;
    let (id, spec) = python_under(code, &runtime);
    let (finished, output) = run(&docker, &id, &spec, bounds(30, 1 << 20)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        finished.end,
        End::As(EndReason::Succeeded),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let uid = spec.uid;
    assert!(
        stdout.contains(&format!("{uid} {uid} hello; $(rm -rf /)")),
        "the run's own user: {stdout}"
    );
    assert!(stdout.contains("['lo']"), "only loopback: {stdout}");
    assert!(stdout.contains("root read-only"), "{stdout}");
    assert!(stdout.contains("work writable"), "{stdout}");
    assert!(
        stdout.contains("CapEff:\\t0000000000000000"),
        "no capabilities: {stdout}"
    );
    assert!(stdout.contains("no_new_privs 1"), "{stdout}");
    assert!(
        stdout.contains("routes: []"),
        "no route but loopback: {stdout}"
    );
    assert!(stdout.contains("no resolver answer"), "{stdout}");
    assert!(stdout.contains("core (0, 0)"), "no core dumps: {stdout}");
    let largest = spec.limits.largest_file();
    assert!(
        stdout.contains(&format!("fsize ({largest}, {largest})")),
        "a bounded file size: {stdout}"
    );
    assert_eq!(
        containers_labelled(&docker, &id).await,
        0,
        "the container is removed"
    );
}

async fn a_failing_script_reports_its_exit_code_and_is_removed(runtime: Runtime) {
    let docker = docker().await;
    let (id, spec) = python_under(
        "import sys; print('bad', file=sys.stderr); sys.exit(3)",
        &runtime,
    );
    let (finished, output) = run(&docker, &id, &spec, bounds(30, 1 << 20)).await;
    assert_eq!(finished.end, End::As(EndReason::ExitCode(3)));
    assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), "bad");
    assert_eq!(containers_labelled(&docker, &id).await, 0);
}

/// Runs a sandbox to its end, keeping what it printed.
pub async fn run(
    docker: &Docker,
    id: &str,
    spec: &SandboxSpec,
    bounds: RunBounds,
) -> (Finished, Captured) {
    run_with(docker, id, spec, bounds, None).await
}

/// Runs a sandbox to its end with its `/work/out` copied into `spool`.
async fn run_spooling(
    docker: &Docker,
    id: &str,
    spec: &SandboxSpec,
    spool: &std::path::Path,
) -> (Finished, Captured) {
    let spool = Spool {
        path: spool,
        cap: 1 << 20,
    };
    run_with(docker, id, spec, bounds(30, 1 << 20), Some(spool)).await
}

async fn run_with(
    docker: &Docker,
    id: &str,
    spec: &SandboxSpec,
    bounds: RunBounds,
    spool: Option<Spool<'_>>,
) -> (Finished, Captured) {
    let mut output = Captured::default();
    let (finished, removal) = run_to_end(
        docker,
        &format!("sage-test-{id}"),
        spec,
        bounds,
        &CancellationToken::new(),
        &mut output,
        spool,
    )
    .await;
    removal.done().await;
    (finished.unwrap(), output)
}

/// The names and kinds in a spooled archive.
fn archive_entries(path: &std::path::Path) -> Vec<(String, tar::EntryType)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            (name, entry.header().entry_type())
        })
        .collect()
}

async fn outputs_are_copied_out_once_the_script_ended_even_with_children_left(runtime: Runtime) {
    let docker = docker().await;
    let code = r#"
import os, subprocess
os.makedirs("out/sub")
open("out/report.txt", "w").write("hello")
open("out/sub/data.json", "w").write("{}")
os.symlink("/etc/passwd", "out/passwd")
subprocess.Popen(["sleep", "300"])
"#;
    let (id, spec) = python_under(code, &runtime);
    let spool = std::env::temp_dir().join(format!("sage-spool-{id}.tar"));
    let started = Instant::now();
    let (finished, output) = run_spooling(&docker, &id, &spec, &spool).await;
    assert_eq!(
        finished.end,
        End::As(EndReason::Succeeded),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a child left running does not hold the run: {:?}",
        started.elapsed()
    );
    assert!(
        matches!(finished.outputs, Outputs::Spooled { cut: false, .. }),
        "{:?}",
        finished.outputs
    );
    let entries = archive_entries(&spool);
    assert!(
        entries.contains(&("out/report.txt".to_owned(), tar::EntryType::Regular)),
        "{entries:?}"
    );
    assert!(
        entries.contains(&("out/sub/data.json".to_owned(), tar::EntryType::Regular)),
        "{entries:?}"
    );
    assert!(
        entries.contains(&("out/passwd".to_owned(), tar::EntryType::Symlink)),
        "{entries:?}"
    );
    assert_eq!(containers_labelled(&docker, &id).await, 0);

    // Nothing left in `out`: an archive of the empty folder, not an error.
    let (id, spec) = python_under("print('nothing to keep')", &runtime);
    let (finished, _) = run_spooling(&docker, &id, &spec, &spool).await;
    assert_eq!(finished.end, End::As(EndReason::Succeeded));
    assert_eq!(
        archive_entries(&spool),
        [("out/".to_owned(), tar::EntryType::Directory)]
    );
    std::fs::remove_file(&spool).unwrap();
}

pub fn bounds(timeout_sec: u64, output_cap: u64) -> RunBounds {
    RunBounds {
        timeout: Duration::from_secs(timeout_sec),
        output_cap,
    }
}

async fn output_beyond_the_cap_ends_the_run(runtime: Runtime) {
    let docker = docker().await;
    let (id, spec) = python_under(
        "import time\nprint('x' * 100000, flush=True)\ntime.sleep(60)",
        &runtime,
    );
    let started = Instant::now();
    let (finished, output) = run(&docker, &id, &spec, bounds(30, 1000)).await;
    assert_eq!(finished.end, End::As(EndReason::OutputLimit));
    assert_eq!(output.stdout.len(), 1000, "only the cap is kept");
    assert!(finished.output_bytes > 1000);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(containers_labelled(&docker, &id).await, 0);
}

async fn a_timeout_kills_scripts_that_ignore_sigterm_and_their_children(runtime: Runtime) {
    let docker = docker().await;
    let code = "import os, signal, subprocess, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsubprocess.Popen(['sleep', '300'])\nprint('started', flush=True)\ntime.sleep(300)";
    let (id, spec) = python_under(code, &runtime);
    let started = Instant::now();
    let (finished, _) = run(&docker, &id, &spec, bounds(2, 1 << 20)).await;
    assert_eq!(finished.end, End::As(EndReason::Timeout));
    assert!(
        started.elapsed() < Duration::from_secs(2 + 2 + 3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(containers_labelled(&docker, &id).await, 0);
}

async fn a_memory_hog_is_oom_killed(runtime: Runtime) {
    let docker = docker().await;
    let (id, mut spec) = python_under("x = bytearray(1024 * 1024 * 1024)\nprint(len(x))", &runtime);
    spec.limits.memory_bytes = 64 * 1024 * 1024;
    let (finished, output) = run(&docker, &id, &spec, bounds(30, 1 << 20)).await;
    assert_eq!(
        finished.end,
        End::As(EndReason::Oom),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(containers_labelled(&docker, &id).await, 0);
}

async fn the_outputs_folder_is_there_empty_and_writable_when_the_script_starts(runtime: Runtime) {
    let docker = docker().await;
    let code = r#"
import os
print("out", os.listdir("/work/out"), os.stat("/work/out").st_uid == os.getuid())
open("/work/out/a.txt", "w").write("a")
print("home", os.environ["HOME"], os.path.expanduser("~"))
"#;
    let (finished, output, names) = run_keeping_names(&docker, code, &runtime).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(finished.end, End::As(EndReason::Succeeded), "{stdout}");
    assert!(stdout.contains("out [] True"), "{stdout}");
    assert!(stdout.contains("home /work /work"), "{stdout}");
    assert!(names.iter().any(|n| n == "out/a.txt"), "{names:?}");
}

/// Runs a Python script in a sandbox with its outputs spooled; returns the names the
/// archive of `/work/out` holds.
async fn run_keeping_names(
    docker: &Docker,
    code: &str,
    runtime: &Runtime,
) -> (Finished, Captured, Vec<String>) {
    let (id, spec) = python_under(code, runtime);
    let spool = std::env::temp_dir().join(format!("spool-{id}.tar"));
    let (finished, output) = run_spooling(docker, &id, &spec, &spool).await;
    let names = archive_entries(&spool)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    std::fs::remove_file(&spool).unwrap();
    (finished, output, names)
}

async fn what_the_script_left_running_is_ended_before_its_outputs_are_copied(runtime: Runtime) {
    let docker = docker().await;
    // A detached child of the same user stops every `tar` it sees: the copy-out's.
    let code = r#"
import os, signal, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.dup2(os.open("/dev/null", os.O_RDWR), fd)
        while True:
            for pid in os.listdir("/proc"):
                try:
                    if pid.isdigit() and open(f"/proc/{pid}/comm").read().strip() == "tar":
                        os.kill(int(pid), signal.SIGSTOP)
                except OSError:
                    pass
            time.sleep(0.005)
    os._exit(0)
os.wait()
open("/work/out/report.txt", "w").write("done")
print("parent done")
"#;
    let (finished, output, names) = run_keeping_names(&docker, code, &runtime).await;
    assert_eq!(
        finished.end,
        End::As(EndReason::Succeeded),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        matches!(finished.outputs, Outputs::Spooled { cut: false, .. }),
        "{:?}",
        finished.outputs
    );
    assert!(names.iter().any(|n| n == "out/report.txt"), "{names:?}");
}

/// gVisor's runsc as dev/stack.sh registers it: ptrace platform, no network.
fn gvisor() -> Runtime {
    Runtime::gvisor(
        "runsc",
        &["--platform=ptrace".to_owned(), "--network=none".to_owned()],
    )
}

/// Every case above, under the engine's runc and under gVisor's runsc.
macro_rules! under_each_runtime {
    ($($case:ident),* $(,)?) => {
        mod runc {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Runtime::runc()).await;
            })*
        }
        mod runsc {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::gvisor()).await;
            })*
        }
    };
}

under_each_runtime!(
    a_hardened_container_runs_and_is_removed,
    a_failing_script_reports_its_exit_code_and_is_removed,
    outputs_are_copied_out_once_the_script_ended_even_with_children_left,
    output_beyond_the_cap_ends_the_run,
    a_timeout_kills_scripts_that_ignore_sigterm_and_their_children,
    a_memory_hog_is_oom_killed,
    the_outputs_folder_is_there_empty_and_writable_when_the_script_starts,
    what_the_script_left_running_is_ended_before_its_outputs_are_copied,
);
