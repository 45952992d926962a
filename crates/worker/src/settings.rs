//! The worker's settings, read once from the environment (see `.env.example`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sage_infra::config::{ConfigError, Env};
use sage_infra::settings::CommonSettings;
use sage_store::DatabaseSettings;

use sage_model::catalog::cloud::SandboxImage;
use sage_model::names::WorkerId;

use crate::artifacts::ArtifactLimits;
use crate::sts::StsSettings;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    pub database: DatabaseSettings,
    /// Names this worker in claims, leases and container labels.
    pub worker_id: WorkerId,
    /// Executions run at once; the queue prefetch matches it.
    pub concurrency: usize,
    /// Where Prometheus scrapes this worker's `/metrics`; `None` serves none.
    pub metrics_bind: Option<SocketAddr>,
    pub docker_host: String,
    pub runner_image: String,
    /// The engine's runtime for runs in the runner image and in the scanner image
    /// (`SANDBOX_RUNTIME_RUNNER`, `SANDBOX_RUNTIME_SCANNER`): `runc` or `runsc`.
    pub runtimes: RuntimeNames,
    /// The image of module versions that say `image: scanner`.
    pub scanner_image: String,
    /// Where runs that name an AWS role get their temporary credentials.
    pub sts: StsSettings,
    /// Given to sandboxes with AWS credentials as `AWS_ENDPOINT_URL`: a local AWS
    /// emulator, for development and tests only; unset on AWS.
    pub sandbox_aws_endpoint: Option<String>,
    /// Where the verified copy of each execution's script is bound from. It must be a
    /// path the Docker engine sees the same way (the host, or a shared volume).
    pub staging_dir: PathBuf,
    /// Where `secret_as: file` secrets are written for the sandbox to see: a tmpfs
    /// (never a disk) that the Docker engine sees at the same path.
    pub secrets_dir: PathBuf,
    /// How long a claim holds without renewal before the reaper may call it lost.
    pub lease: Duration,
    /// How much of `/work/out` one execution may keep.
    pub artifacts: ArtifactLimits,
    /// How long a run's outputs are tried again while the artifact store is down before
    /// the run ends `artifacts_not_kept`.
    pub artifact_deadline: Duration,
    /// The size of a scanner run's `/work` and `/work/out`, and what it may keep of
    /// them: a full scan of a real account writes far more than a script's 64 MiB
    /// (Prowler writes every framework's compliance results beside its findings).
    pub scanner_output_bytes: u64,
    /// The most findings one scanner run stores; those read beyond are counted, and
    /// the run's log and `result.json` say so.
    pub scanner_max_findings: u64,
    /// Where `network: egress` sandboxes are attached.
    pub egress: EgressNetwork,
    /// For development and tests: an `--internal` network holding a local AWS emulator
    /// (dev/emulator.sh), which `network: egress` sandboxes join instead of the egress
    /// network. Nothing on it reaches beyond the machine.
    pub emulator_network: Option<String>,
    /// How evidence reports are built.
    pub evidence: EvidenceSettings,
}

/// Evidence reports this worker builds.
#[derive(Debug, Clone)]
pub struct EvidenceSettings {
    /// Where NanumGothic.ttf and NanumGothicBold.ttf are (Debian's fonts-nanum).
    pub font_dir: PathBuf,
    /// Reports built at once, each holding its runs' outputs and findings in memory.
    pub concurrency: usize,
    /// Findings listed per check in a report; the rest are counted, and the PDF says so.
    pub max_findings_per_check: usize,
    /// Checks listed in a report (a tool's output chooses its check ids); the findings
    /// of further checks are counted, and the PDF says so.
    pub max_checks: usize,
    /// The most bytes of scanner outputs one report fetches; files beyond are left out
    /// and listed with why.
    pub fetch_bytes: u64,
    /// Signs each report's evidence pack (EVIDENCE_SIGNING_KEY); none: no pack.
    pub signer: Option<std::sync::Arc<sage_findings::pack::Signer>>,
}

/// The Docker network of `network: egress` sandboxes, which the worker makes (or checks)
/// at start: inter-container traffic off, and a bridge interface of a known name so
/// that the host's firewall (dev/egress-firewall.sh) can keep sandboxes off the host
/// and the metadata addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressNetwork {
    pub name: String,
    /// The host interface of the network's bridge (15 characters at most).
    pub bridge: String,
}

/// Where a run writes its outputs and how much of them it may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSpace {
    /// The size of its `/work` and `/work/out` (each a tmpfs of this size).
    pub bytes: u64,
    pub keep: ArtifactLimits,
}

impl Settings {
    /// The output space of a run in `image`: a script's is the sandbox default and the
    /// artifact limits; a scanner's is `SCANNER_OUTPUT_MIB`, all of which it may keep.
    pub fn output_space(&self, image: SandboxImage) -> OutputSpace {
        match image {
            SandboxImage::Runner => OutputSpace {
                bytes: crate::sandbox::spec::Limits::default().work_tmpfs_bytes,
                keep: self.artifacts,
            },
            SandboxImage::Scanner => OutputSpace {
                bytes: self.scanner_output_bytes,
                keep: ArtifactLimits {
                    max_file_bytes: self.scanner_output_bytes.max(self.artifacts.max_file_bytes),
                    max_total_bytes: self
                        .scanner_output_bytes
                        .max(self.artifacts.max_total_bytes),
                    max_files: self.artifacts.max_files,
                },
            },
        }
    }

    /// Every variable is read, so each bad one is named, before any is missing.
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let settings = Self::read(&mut env);
        env.finish()?;
        // Every value is present once `finish` passed.
        settings.ok_or_else(ConfigError::unreachable)
    }

    fn read(env: &mut Env) -> Option<Self> {
        let common = CommonSettings::from_env(env);
        let database = DatabaseSettings::from_env(env);
        let worker_id = env.optional_with("WORKER_ID", WorkerId::generated(), |v| {
            WorkerId::parse(v).map_err(str::to_owned)
        });
        let concurrency = env.number("WORKER_CONCURRENCY", 2usize, 1, 64);
        let metrics_bind = env.optional_with(
            "WORKER_METRICS_BIND",
            Some(SocketAddr::from(([127, 0, 0, 1], 9091))),
            sage_infra::config::address_or_off,
        );
        let docker_host = env.optional_with(
            "DOCKER_HOST",
            "unix:///var/run/docker.sock".to_owned(),
            |v| sage_infra::config::url_with_scheme(v, &["unix", "tcp", "http"]),
        );
        let runner_image = env.string("RUNNER_IMAGE", "sage-runner:latest");
        let scanner_image = env.string("SCANNER_IMAGE", "sage-scanner:latest");
        let mut runtime =
            |name: &str| env.optional_with(name, "runc".to_owned(), |v| name_of(v, 64));
        let (runner_runtime, scanner_runtime) = (
            runtime(RuntimeNames::RUNNER),
            runtime(RuntimeNames::SCANNER),
        );
        let sts_region = env.string("STS_REGION", "us-east-1");
        let http_url =
            |v: &str| sage_infra::config::url_with_scheme(v, &["http", "https"]).map(Some);
        let sts_endpoint = env.optional_with("STS_ENDPOINT_URL", None, http_url);
        let sandbox_aws_endpoint = env.optional_with("SANDBOX_AWS_ENDPOINT_URL", None, http_url);
        let sts_credentials = env.key_pair("STS_ACCESS_KEY_ID", "STS_SECRET_ACCESS_KEY");
        let sts_identity =
            crate::sts::identity_source(env, sts_credentials.as_ref().is_some_and(Option::is_some));
        // Where the profiles runs may name (AWS_PROFILES_ALLOWED) are: the SDK's own
        // variables, read like every other setting.
        let profile_files = crate::sts::ProfileFilePaths {
            config: env.raw("AWS_CONFIG_FILE").map(str::to_owned),
            credentials: env.raw("AWS_SHARED_CREDENTIALS_FILE").map(str::to_owned),
        };
        let staging_dir =
            env.optional_with("STAGING_DIR", PathBuf::from("/var/lib/sage/staging"), |v| {
                Ok(PathBuf::from(v))
            });
        let secrets_dir =
            env.optional_with("SECRETS_DIR", PathBuf::from("/dev/shm/sage-secrets"), |v| {
                Ok(PathBuf::from(v))
            });
        let lease = env.seconds("LEASE_SEC", 30, 5, 3600);
        let artifact_deadline = env.seconds("ARTIFACT_UPLOAD_DEADLINE_SEC", 900, 1, 7 * 24 * 3600);
        const GIB: u64 = 1 << 30;
        let max_file_bytes = env.number("ARTIFACT_MAX_FILE_BYTES", 64 << 20, 1, 64 * GIB);
        let max_total_bytes = env.number("ARTIFACT_MAX_TOTAL_BYTES", 64 << 20, 1, 64 * GIB);
        let max_files = env.number("ARTIFACT_MAX_FILES", 1000usize, 1, 100_000);
        let scanner_output_mib = env.number("SCANNER_OUTPUT_MIB", 512u64, 64, 65_536);
        let scanner_max_findings = env.number("SCANNER_MAX_FINDINGS", 1_000_000u64, 1, 100_000_000);
        let egress_network = env.optional_with("EGRESS_NETWORK", "sage-egress".to_owned(), |v| {
            name_of(v, 64)
        });
        let egress_bridge = env.optional_with("EGRESS_BRIDGE", "sage-egress0".to_owned(), |v| {
            name_of(v, 15)
        });
        let font_dir = env.optional_with(
            "EVIDENCE_FONT_DIR",
            sage_findings::report::NANUM_DIR.into(),
            |v| {
                let dir = PathBuf::from(v);
                if dir.join("NanumGothic.ttf").is_file()
                    && dir.join("NanumGothicBold.ttf").is_file()
                {
                    Ok(dir)
                } else {
                    Err(format!(
                        "{v} holds no NanumGothic.ttf and NanumGothicBold.ttf"
                    ))
                }
            },
        );
        let evidence_concurrency = env.number("EVIDENCE_CONCURRENCY", 1usize, 1, 16);
        let max_findings_per_check =
            env.number("EVIDENCE_MAX_FINDINGS_PER_CHECK", 50usize, 1, 100_000);
        let max_checks = env.number("EVIDENCE_MAX_CHECKS", 2_000usize, 1, 100_000);
        let fetch_mib = env.number("EVIDENCE_FETCH_MIB", 512u64, 1, 65_536);
        let signer = env.optional_with("EVIDENCE_SIGNING_KEY", None, |v| {
            sage_findings::pack::Signer::from_seed(v).map(|s| Some(std::sync::Arc::new(s)))
        });
        let emulator_network =
            env.optional_with("EMULATOR_NETWORK", None, |v| name_of(v, 64).map(Some));
        Some(Self {
            common: common?,
            database: database?,
            worker_id: worker_id?,
            concurrency: concurrency?,
            metrics_bind: metrics_bind?,
            docker_host: docker_host?,
            runner_image: runner_image?,
            scanner_image: scanner_image?,
            runtimes: RuntimeNames {
                runner: runner_runtime?,
                scanner: scanner_runtime?,
            },
            sts: StsSettings {
                region: sts_region?,
                endpoint: sts_endpoint?,
                credentials: sts_credentials?,
                identity: sts_identity,
                profile_files,
            },
            sandbox_aws_endpoint: sandbox_aws_endpoint?,
            staging_dir: staging_dir?,
            secrets_dir: secrets_dir?,
            lease: lease?,
            artifact_deadline: artifact_deadline?,
            artifacts: ArtifactLimits {
                max_file_bytes: max_file_bytes?,
                max_total_bytes: max_total_bytes?,
                max_files: max_files?,
            },
            scanner_output_bytes: scanner_output_mib? << 20,
            scanner_max_findings: scanner_max_findings?,
            egress: EgressNetwork {
                name: egress_network?,
                bridge: egress_bridge?,
            },
            emulator_network: emulator_network?,
            evidence: EvidenceSettings {
                font_dir: font_dir?,
                concurrency: evidence_concurrency?,
                max_findings_per_check: max_findings_per_check?,
                max_checks: max_checks?,
                fetch_bytes: fetch_mib? << 20,
                signer: signer?,
            },
        })
    }
}

/// A name Docker and Linux both take: letters, digits, `-`, `_`, `.`, not starting with
/// a punctuation mark.
fn name_of(value: &str, longest: usize) -> Result<String, String> {
    let ok = (1..=longest).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "must be 1 to {longest} characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit"
        ))
    }
}

/// The engine runtime named for each kind of sandbox; the worker checks at start that
/// the engine has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeNames {
    pub runner: String,
    pub scanner: String,
}

impl RuntimeNames {
    pub const RUNNER: &str = "SANDBOX_RUNTIME_RUNNER";
    pub const SCANNER: &str = "SANDBOX_RUNTIME_SCANNER";

    /// The variable that names the runtime of runs in `image`.
    pub fn variable(image: SandboxImage) -> &'static str {
        match image {
            SandboxImage::Runner => Self::RUNNER,
            SandboxImage::Scanner => Self::SCANNER,
        }
    }
}

impl Settings {
    /// The network `network: egress` sandboxes join.
    pub fn egress_target(&self) -> &str {
        self.emulator_network
            .as_deref()
            .unwrap_or(&self.egress.name)
    }

    /// The folders holding one sub-folder per execution (script copy, secret files),
    /// removed when it ends.
    pub fn execution_folders(&self) -> Vec<PathBuf> {
        vec![self.staging_dir.clone(), self.secrets_dir.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DATABASE_URL", "postgres://sage:sage@127.0.0.1:5432/sage"),
            ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("S3_BUCKET", "sage-artifacts"),
            ("AUDIT_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
            (
                "SECRETS_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
        ]
    }

    #[test]
    fn defaults() {
        let settings = Settings::from_env(Env::from_pairs(base())).unwrap();
        assert_eq!(settings.concurrency, 2);
        assert!(settings.worker_id.as_str().starts_with("worker-"));
        assert_eq!(settings.docker_host, "unix:///var/run/docker.sock");
        // A script writes into 64 MiB and keeps the artifact limits; a scanner writes
        // into 512 MiB and may keep all of it.
        let script = settings.output_space(SandboxImage::Runner);
        assert_eq!(script.bytes, 64 << 20);
        assert_eq!(script.keep, settings.artifacts);
        let scanner = settings.output_space(SandboxImage::Scanner);
        assert_eq!(scanner.bytes, 512 << 20);
        assert_eq!(scanner.keep.max_total_bytes, 512 << 20);
        assert_eq!(scanner.keep.max_file_bytes, 512 << 20);
        // Nothing names an identity: the default chain would end at the instance's
        // metadata, and the worker says so at start.
        assert!(
            settings.sts.identity.contains("metadata (IMDS)"),
            "{}",
            settings.sts.identity
        );
    }

    #[test]
    fn the_identity_for_sts_is_named_as_the_environment_gives_it() {
        for (pairs, expected) in [
            (vec![("AWS_EC2_METADATA_DISABLED", "true")], "none:"),
            (
                vec![("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token")],
                "web identity",
            ),
            (
                vec![
                    ("STS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
                    ("STS_SECRET_ACCESS_KEY", "x"),
                ],
                "STS_ACCESS_KEY_ID",
            ),
        ] {
            let mut env = base();
            env.extend(pairs);
            let settings = Settings::from_env(Env::from_pairs(env)).unwrap();
            assert!(
                settings.sts.identity.contains(expected),
                "{}",
                settings.sts.identity
            );
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        let mut pairs = base();
        pairs.extend([
            ("WORKER_CONCURRENCY", "0"),
            ("WORKER_METRICS_BIND", "9091"),
            ("WORKER_ID", "has space"),
            ("DOCKER_HOST", "/var/run/docker.sock"),
            ("ARTIFACT_MAX_FILES", "0"),
            ("STS_ENDPOINT_URL", "localhost:5000"),
            ("SCANNER_OUTPUT_MIB", "8"),
        ]);
        let text = Settings::from_env(Env::from_pairs(pairs))
            .unwrap_err()
            .to_string();
        for name in [
            "WORKER_CONCURRENCY",
            "WORKER_METRICS_BIND",
            "WORKER_ID",
            "DOCKER_HOST",
            "ARTIFACT_MAX_FILES",
            "STS_ENDPOINT_URL",
            "SCANNER_OUTPUT_MIB",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
    }
}
