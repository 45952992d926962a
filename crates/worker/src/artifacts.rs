//! Artifacts: the regular files a script left under `/work/out`, read from the archive
//! the sandbox spooled to the worker's disk, checked (kind, name, size), uploaded to S3
//! under the execution's prefix and recorded with their size, sha256 and content type.
//!
//! The archive was written inside the sandbox, so it is untrusted input: only regular
//! files with names that stay inside the folder are kept, sizes are bounded before
//! anything is read, and nothing is ever extracted onto the worker's disk.

use std::io::Read;
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::{ByteStream, Length};
use sage_model::ExecutionId;
use sage_model::artifacts::ArtifactName;
use sage_model::logs::Redactor;
use sage_store::artifacts::Artifact;
use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::sandbox::spec::OUTPUTS_FOLDER;

/// How much one execution may keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactLimits {
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_files: usize,
}

impl ArtifactLimits {
    /// The most of the archive worth spooling: every file allowed, plus tar's headers
    /// (a header block and a long-name block or two per file).
    pub fn spool_cap(&self) -> u64 {
        self.max_total_bytes + (self.max_files as u64 + 2) * 2048
    }
}

/// A file of the archive that may be kept: where its bytes are in the spool, or, when
/// the run's secrets were masked in it, the masked bytes to keep instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: ArtifactName,
    pub offset: u64,
    /// The bytes kept: the spooled file's, or its masked copy's.
    pub size: u64,
    /// The file's bytes in the spool, from `offset`.
    pub spooled: u64,
    pub sha256: String,
    pub masked: Option<Vec<u8>>,
}

/// The most of a run's files held masked in memory until they are uploaded: a secret
/// short enough to be common text could otherwise have every large file copied.
pub const MASK_BUDGET: u64 = 64 << 20;

/// Where the run's secrets are looked for in its artifacts. A script is given its
/// secrets to use, and may write them into a file it was asked for; a scanner has no
/// reason to, so a tool run's files are read for them too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretScan {
    Names,
    NamesAndContents,
}

/// What the archive holds worth uploading, and a line for the log about each thing
/// skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub keep: Vec<Planned>,
    pub skipped: Vec<String>,
    /// Files kept with the run's secrets masked in them.
    pub masked: Vec<String>,
    /// Bytes of every regular file of the archive, kept or not.
    pub written: u64,
}

/// Reads the spooled archive (blocking: run it off the async threads). A file whose name
/// holds a secret of the run is skipped: its name would reach S3, the database and
/// every viewer.
pub fn plan(
    spool: &Path,
    limits: ArtifactLimits,
    secrets: &Redactor,
    scan: SecretScan,
) -> std::io::Result<Plan> {
    let mut plan = Plan::default();
    let file = std::fs::File::open(spool)?;
    if file.metadata()?.len() == 0 {
        return Ok(plan);
    }
    let mut archive = tar::Archive::new(file);
    let mut total = 0u64;
    let mut masked_bytes = 0u64;
    let entries = archive.entries()?;
    for entry in entries {
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                plan.skipped.push(format!(
                    "the rest of /work/out was not read: {error} (past the limit of {} bytes?)",
                    limits.max_total_bytes
                ));
                break;
            }
        };
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let shown = format!("/work/{}", raw.trim_end_matches('/'));
        let kind = entry.header().entry_type();
        let Some(relative) = below_outputs(&raw) else {
            if kind == EntryType::Symlink {
                plan.skipped.push(format!("{shown} is a symlink"));
            }
            continue;
        };
        if let Some(what) = not_a_file(kind) {
            plan.skipped.push(format!("{shown} is {what}"));
            continue;
        }
        if kind == EntryType::Directory {
            continue;
        }
        let name = match std::str::from_utf8(&entry.path_bytes())
            .map_err(|_| "has a name that is not UTF-8")
            .and_then(|_| ArtifactName::parse(relative))
        {
            Ok(name) => name,
            Err(why) => {
                plan.skipped.push(format!("{shown} {why}"));
                continue;
            }
        };
        if secrets.redact(name.as_str().as_bytes()) != name.as_str().as_bytes() {
            // The notice is redacted on its way into the log, like every line.
            plan.skipped
                .push(format!("{shown} has a secret in its name"));
            continue;
        }
        let size = entry.header().size()?;
        plan.written += size;
        if size > limits.max_file_bytes {
            plan.skipped.push(format!(
                "{shown} is {size} bytes, over the limit of {} per file",
                limits.max_file_bytes
            ));
            continue;
        }
        if plan.keep.len() >= limits.max_files {
            plan.skipped.push(format!(
                "{shown} is past the limit of {} files",
                limits.max_files
            ));
            continue;
        }
        if total + size > limits.max_total_bytes {
            plan.skipped.push(format!(
                "{shown} would take the execution past its limit of {} bytes",
                limits.max_total_bytes
            ));
            continue;
        }
        let offset = entry.raw_file_position();
        let mut reader =
            Digest256AndScan::new((scan == SecretScan::NamesAndContents).then_some(secrets));
        let read = std::io::copy(&mut (&mut entry).take(size), &mut reader)?;
        if read != size {
            plan.skipped
                .push(format!("{shown} was cut short in the archive"));
            break;
        }
        let mut planned = Planned {
            name,
            offset,
            size,
            spooled: size,
            sha256: sage_model::hex(&reader.hasher.finalize()),
            masked: None,
        };
        if reader.found {
            if !planned.name.is_text() {
                plan.skipped.push(format!(
                    "{shown} holds a secret or credential of the run and is not text it could be masked in"
                ));
                continue;
            }
            if masked_bytes + size > MASK_BUDGET {
                plan.skipped.push(format!(
                    "{shown} holds a secret or credential of the run, past the {} MiB a run's masked files may take",
                    MASK_BUDGET >> 20
                ));
                continue;
            }
            masked_bytes += size;
            let masked = masked_copy(spool, &planned, secrets)?;
            plan.masked.push(format!(
                "{shown} held a secret or credential of the run: kept with it masked"
            ));
            planned.size = masked.len() as u64;
            planned.sha256 = sage_model::hex(&Sha256::digest(&masked));
            planned.masked = Some(masked);
        }
        total += planned.size;
        plan.keep.push(planned);
    }
    Ok(plan)
}

/// The file's bytes from the spool with every secret masked.
fn masked_copy(spool: &Path, planned: &Planned, secrets: &Redactor) -> std::io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(spool)?;
    file.seek(SeekFrom::Start(planned.offset))?;
    let mut bytes = Vec::with_capacity(usize::try_from(planned.spooled).unwrap_or(0));
    file.take(planned.spooled).read_to_end(&mut bytes)?;
    Ok(secrets.redact(&bytes))
}

/// A sink that hashes what is written and, given a redactor, looks for its secrets,
/// across the cuts between writes.
struct Digest256AndScan<'a> {
    hasher: Sha256,
    secrets: Option<&'a Redactor>,
    /// The end of what was written so far that a secret could start in.
    tail: Vec<u8>,
    found: bool,
}

impl<'a> Digest256AndScan<'a> {
    fn new(secrets: Option<&'a Redactor>) -> Self {
        Self {
            hasher: Sha256::new(),
            secrets: secrets.filter(|s| s.longest() > 0),
            tail: Vec::new(),
            found: false,
        }
    }
}

impl std::io::Write for Digest256AndScan<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(bytes);
        if let Some(secrets) = self.secrets
            && !self.found
        {
            let mut window = std::mem::take(&mut self.tail);
            window.extend_from_slice(bytes);
            self.found = secrets.finds(&window);
            let keep = secrets.longest().saturating_sub(1).min(window.len());
            self.tail = window.split_off(window.len() - keep);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The part of an archive path below `out/`; `None` for `out` itself.
fn below_outputs(raw: &str) -> Option<&str> {
    let rest = raw.strip_prefix(OUTPUTS_FOLDER)?.strip_prefix('/')?;
    let rest = rest.trim_end_matches('/');
    (!rest.is_empty()).then_some(rest)
}

/// What an entry is when it is neither a regular file nor a folder.
fn not_a_file(kind: EntryType) -> Option<&'static str> {
    match kind {
        EntryType::Regular | EntryType::Continuous | EntryType::Directory => None,
        EntryType::Symlink => Some("a symlink"),
        EntryType::Link => Some("a hard link"),
        EntryType::Char | EntryType::Block => Some("a device"),
        EntryType::Fifo => Some("a FIFO"),
        _ => Some("not a regular file"),
    }
}

/// What was kept of a run's `/work/out`, what was not (each with why), and how many
/// bytes its files held in all: whether the run filled its output space.
#[derive(Debug, Default)]
pub struct Kept {
    pub planned: Vec<Planned>,
    pub not_kept: Vec<String>,
    pub written: u64,
    /// Why none could be stored by the deadline, when the store stayed unreachable: the
    /// run then ends `artifacts_not_kept` rather than as a success.
    pub not_stored: Option<String>,
}

/// Where an execution's artifacts live in the bucket.
/// Where a run's artifacts go unless it keeps them elsewhere (a tool run's are under
/// `runs/<YYYYMM>/<id>/`).
pub fn default_prefix(execution_id: ExecutionId) -> String {
    format!("executions/{execution_id}/")
}

/// Uploads the planned files straight from the spool; returns their records.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    spool: &Path,
    keep: &[Planned],
) -> Result<Vec<Artifact>, UploadError> {
    let mut uploaded = Vec::with_capacity(keep.len());
    for planned in keep {
        let key = format!("{prefix}{}", planned.name);
        let body = match &planned.masked {
            Some(bytes) => ByteStream::from(bytes.clone()),
            None => ByteStream::read_from()
                .path(PathBuf::from(spool))
                .offset(planned.offset)
                .length(Length::Exact(planned.spooled))
                .build()
                .await
                .map_err(|error| UploadError(planned.name.to_string(), error.to_string()))?,
        };
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(body)
            .content_length(i64::try_from(planned.size).unwrap_or(i64::MAX))
            .content_type(planned.name.content_type())
            .content_disposition(planned.name.content_disposition())
            .metadata("sha256", &planned.sha256)
            .send()
            .await
            .map_err(|error| {
                UploadError(planned.name.to_string(), sage_infra::error_text(&error))
            })?;
        uploaded.push(Artifact {
            content_type: planned.name.content_type().to_owned(),
            name: planned.name.to_string(),
            size: i64::try_from(planned.size).unwrap_or(i64::MAX),
            sha256: planned.sha256.clone(),
            s3_key: key,
            created_at: chrono::Utc::now(),
        });
    }
    Ok(uploaded)
}

/// Stores bytes the worker made itself (a run's record, a report) at `key`, and returns
/// their record under `name`. The error says which file, without credentials.
pub async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: String,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<Artifact, UploadError> {
    let sha256 = sage_model::hex(&Sha256::digest(&bytes));
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type(content_type)
        .metadata("sha256", &sha256)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|error| UploadError(name.to_owned(), sage_infra::error_text(&error)))?;
    Ok(Artifact {
        name: name.to_owned(),
        size,
        sha256,
        content_type: content_type.to_owned(),
        s3_key: key,
        created_at: chrono::Utc::now(),
    })
}

#[derive(Debug, thiserror::Error)]
#[error("uploading {0} failed: {1}")]
pub struct UploadError(String, String);

impl UploadError {
    /// The deadline passed during an attempt.
    pub fn timed_out() -> Self {
        Self(
            "the outputs".to_owned(),
            "the artifact store did not answer by the deadline".to_owned(),
        )
    }

    /// The run ended elsewhere during an attempt.
    pub fn stopped() -> Self {
        Self("the outputs".to_owned(), "the run was stopped".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ArtifactLimits = ArtifactLimits {
        max_file_bytes: 100,
        max_total_bytes: 150,
        max_files: 3,
    };

    /// An archive as `tar -C /work -cf - out` would write it, with whatever entries.
    fn archive(entries: &[(&str, EntryType, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut builder = tar::Builder::new(file.reopen().unwrap());
        for (path, kind, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            if *kind == EntryType::Symlink {
                header.set_link_name("/etc/passwd").unwrap();
            }
            // Written raw: the builder's own path checks would refuse the hostile names.
            let name = path.as_bytes();
            header.as_old_mut().name[..name.len()].copy_from_slice(name);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.finish().unwrap();
        file
    }

    /// A script run's plan of `spool`: no secrets, names only.
    fn plan_of(spool: &tempfile::NamedTempFile) -> Plan {
        plan(
            spool.path(),
            LIMITS,
            &Redactor::default(),
            SecretScan::Names,
        )
        .unwrap()
    }

    #[test]
    fn regular_files_are_kept_with_their_folders_and_digests() {
        let spool = archive(&[
            ("out/", EntryType::Directory, b""),
            ("out/report.txt", EntryType::Regular, b"hello"),
            ("out/sub/", EntryType::Directory, b""),
            ("out/sub/data.json", EntryType::Regular, b"{}"),
        ]);
        let plan = plan_of(&spool);
        assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
        let names: Vec<&str> = plan.keep.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["report.txt", "sub/data.json"]);
        assert_eq!(
            plan.keep[0].sha256,
            sage_model::hex(&Sha256::digest(b"hello"))
        );
        let mut bytes = vec![0; 5];
        let mut file = std::fs::File::open(spool.path()).unwrap();
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(plan.keep[0].offset)).unwrap();
        file.read_exact(&mut bytes).unwrap();
        assert_eq!(bytes, b"hello", "the offset points at the file's bytes");
    }

    #[test]
    fn a_file_named_with_a_secret_is_skipped() {
        let spool = archive(&[
            ("out/report.txt", EntryType::Regular, b"kept"),
            ("out/hunter2-prod.key", EntryType::Regular, b"x"),
            ("out/aHVudGVyMi1wcm9k/a.txt", EntryType::Regular, b"x"),
        ]);
        let secrets = Redactor::new(["hunter2-prod"]);
        let plan = plan(spool.path(), LIMITS, &secrets, SecretScan::Names).unwrap();
        let names: Vec<&str> = plan.keep.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["report.txt"]);
        assert_eq!(plan.skipped.len(), 2, "{:?}", plan.skipped);
        assert!(plan.skipped[0].ends_with("has a secret in its name"));
    }

    #[test]
    fn links_devices_escapes_and_oversized_files_are_skipped_and_reported() {
        let spool = archive(&[
            ("out/link", EntryType::Symlink, b""),
            ("out/pipe", EntryType::Fifo, b""),
            ("out/dev", EntryType::Char, b""),
            ("out/../../etc/cron", EntryType::Regular, b"x"),
            ("out/big.bin", EntryType::Regular, &[0; 101]),
            ("out/a", EntryType::Regular, &[1; 90]),
            ("out/b", EntryType::Regular, &[2; 90]),
            ("elsewhere", EntryType::Regular, b"x"),
        ]);
        let plan = plan_of(&spool);
        let names: Vec<&str> = plan.keep.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a"]);
        let report = plan.skipped.join("\n");
        for expected in [
            "/work/out/link is a symlink",
            "/work/out/pipe is a FIFO",
            "/work/out/dev is a device",
            "/work/out/../../etc/cron has a name that would leave the folder",
            "/work/out/big.bin is 101 bytes, over the limit of 100 per file",
            "/work/out/b would take the execution past its limit of 150 bytes",
        ] {
            assert!(
                report.contains(expected),
                "{expected} missing from {report}"
            );
        }
        assert!(!report.contains("elsewhere"));
    }

    #[test]
    fn an_out_folder_that_is_a_symlink_is_reported_and_not_followed() {
        let spool = archive(&[("out", EntryType::Symlink, b"")]);
        let plan = plan_of(&spool);
        assert!(plan.keep.is_empty());
        assert_eq!(plan.skipped, ["/work/out is a symlink"]);
    }

    #[test]
    fn a_tool_runs_files_are_read_for_its_secrets_in_every_encoding() {
        use base64::Engine;
        let key = "ASIAQEXAMPLEKEY12345";
        let token = "FwoGZXIvYXdzEBYaDHsessiontoken0123456789";
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{token}"));
        // Across the archive's blocks too: a secret past the first 512 bytes.
        let mut log = vec![b'.'; 700];
        log.extend_from_slice(format!("AWS_SESSION_TOKEN={token}\n").as_bytes());
        let limits = ArtifactLimits {
            max_file_bytes: 4096,
            max_total_bytes: 16384,
            max_files: 10,
        };
        let spool = archive(&[
            ("out/report.json", EntryType::Regular, b"{\"findings\": []}"),
            ("out/proof.txt", EntryType::Regular, &log),
            (
                "out/env.json",
                EntryType::Regular,
                format!("{{\"k\": \"{encoded}\"}}").as_bytes(),
            ),
            ("out/dump.bin", EntryType::Regular, key.as_bytes()),
        ]);
        let secrets = Redactor::new([key, token]);
        let plan = plan(spool.path(), limits, &secrets, SecretScan::NamesAndContents).unwrap();
        let names: Vec<&str> = plan.keep.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["report.json", "proof.txt", "env.json"]);
        assert_eq!(
            plan.keep[0].masked, None,
            "a clean file is uploaded from the spool"
        );
        for planned in &plan.keep[1..] {
            let masked = planned.masked.as_deref().unwrap();
            let text = String::from_utf8_lossy(masked);
            assert!(!text.contains(token) && !text.contains(&encoded), "{text}");
            assert!(text.contains(sage_model::logs::MASK), "{text}");
            assert_eq!(planned.size, masked.len() as u64);
            assert_eq!(planned.sha256, sage_model::hex(&Sha256::digest(masked)));
        }
        assert_eq!(
            plan.masked,
            [
                "/work/out/proof.txt held a secret or credential of the run: kept with it masked",
                "/work/out/env.json held a secret or credential of the run: kept with it masked"
            ]
        );
        assert_eq!(
            plan.skipped,
            [
                "/work/out/dump.bin holds a secret or credential of the run and is not text it could be masked in"
            ]
        );
        // A script's files are its own business: only their names are read.
        let names_only = super::plan(spool.path(), limits, &secrets, SecretScan::Names).unwrap();
        assert_eq!(names_only.keep.len(), 4);
        assert!(names_only.keep.iter().all(|p| p.masked.is_none()));
    }

    #[test]
    fn an_empty_spool_is_nothing_to_keep() {
        let spool = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(
            plan(
                spool.path(),
                LIMITS,
                &Redactor::default(),
                SecretScan::Names
            )
            .unwrap(),
            Plan::default()
        );
    }
}
