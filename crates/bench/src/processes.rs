//! The api and the worker as processes of their own: the optimised binaries built beside
//! this one, started with the environment of a test app (its fresh database, queue and
//! services), so each one's peak memory can be read and the bench's own client work
//! does not count against them.

use std::path::PathBuf;
use std::process::Stdio;

use sage_testkit::{TestApp, free_port};

pub struct Process {
    name: &'static str,
    child: tokio::process::Child,
}

impl Process {
    fn start(name: &'static str, app: &TestApp, extra: &[(&str, String)]) -> Self {
        let binary = std::env::current_exe()
            .expect("the bench knows where it is")
            .with_file_name(name);
        assert!(
            binary.exists(),
            "{} is missing: `just bench` builds it",
            binary.display()
        );
        let log = log_file(name);
        #[allow(
            clippy::disallowed_methods,
            reason = "the bench measures the real binaries as processes"
        )]
        let mut command = tokio::process::Command::new(&binary);
        command
            .env_clear()
            .envs(app.env.vars())
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the bench writes its logs"))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Self { name, child }
    }

    /// The most resident memory the process held so far, in MiB (Linux `VmHWM`).
    pub fn peak_memory_mib(&self) -> f64 {
        let pid = self.child.id().expect("the process runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kib / 1024.0
    }

    /// The resident memory it holds now, in MiB (Linux `VmRSS`).
    pub fn memory_mib(&self) -> f64 {
        self.status_kib("VmRSS:") / 1024.0
    }

    /// The CPU time it has spent so far, user and system, in milliseconds.
    pub fn cpu_ms(&self) -> f64 {
        cpu_ms_of(&self.child.id().expect("the process runs").to_string())
    }

    fn status_kib(&self, field: &str) -> f64 {
        let pid = self.child.id().expect("the process runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("the field in /proc/<pid>/status")
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The CPU time process `pid` (or `self`) has spent so far, user and system, in ms.
pub fn cpu_ms_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command name's closing parenthesis: state is field 3, utime 14.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 10.0
}

/// Where a process's own log goes: `bench-out/<name>.log`, new for each start.
pub fn log_file(name: &str) -> PathBuf {
    let dir = PathBuf::from("bench-out");
    std::fs::create_dir_all(&dir).expect("the bench writes bench-out/");
    dir.join(format!("{name}.log"))
}

/// An api process on `app`'s database and services, and `app` as seen through it.
pub async fn api(app: &TestApp) -> (TestApp, Process) {
    let port = free_port();
    let process = Process::start(
        "sage-api",
        app,
        &[("API_BIND", format!("127.0.0.1:{port}"))],
    );
    let through = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        ..app.clone()
    };
    through
        .wait_until_healthy("the api process (see bench-out/sage-api.log)")
        .await;
    (through, process)
}

/// A worker process taking `concurrency` runs at once from `app`'s queue. It is ready
/// once it runs a first job; callers warm up with one.
pub fn worker(app: &TestApp, concurrency: u32) -> Process {
    worker_with(app, concurrency, &[])
}

/// [`worker`] with more settings of its own.
pub fn worker_with(app: &TestApp, concurrency: u32, more: &[(&str, String)]) -> Process {
    let id = format!(
        "bench-worker-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let staging = std::env::temp_dir().join("sage-staging").join(&id);
    let mut settings = vec![
        ("WORKER_ID", id.clone()),
        // Each step's end with its time, for the bench to read back.
        ("LOG_FORMAT", "json".to_owned()),
        ("LOG_SPANS", "close".to_owned()),
        ("RUST_LOG", "warn,sage_worker=info".to_owned()),
        ("WORKER_CONCURRENCY", concurrency.to_string()),
        ("STAGING_DIR", staging.to_string_lossy().into_owned()),
        ("SECRETS_DIR", format!("/dev/shm/sage-test-secrets/{id}")),
    ];
    settings.extend(more.iter().cloned());
    Process::start("sage-worker", app, &settings)
}

/// Prints each process's peak memory.
pub fn report_memory(processes: &[&Process]) {
    for process in processes {
        println!(
            "  peak memory of {:<15} {:>10.1} MiB",
            process.name(),
            process.peak_memory_mib()
        );
    }
}
