//! The evidence pack: one zip with a report's PDF, its summary, every finding it
//! counted (`findings.jsonl`), every source file it read (`sources/<run>/<file>`), the
//! documents it cites (`documents/<requirement>/<file>`) and `manifest.json`, which
//! names each of them with its sha256 and size, the runs, the audit chain's head and
//! the report's parameters, signed with Ed25519 (`manifest.sig`). [`verify`] checks a
//! pack offline with nothing but the public key.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::finding::Finding;
use crate::parse::{Input, Record, parse_inputs};
use crate::report::{Block, Lang, count_tables, pdf_lines};
use crate::summary::Summary;

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
pub const FORMAT: &str = "sage-evidence-pack/1";
pub const FINDINGS: &str = "findings.jsonl";
pub const SUMMARY: &str = "summary.json";
pub const REPORT: &str = "report.pdf";

/// What the manifest says: every other file of the pack and where the report came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub evidence_id: String,
    pub generated_at: DateTime<Utc>,
    /// The signing key's id ([`PublicKey::id`]).
    pub key_id: String,
    /// The report's request: title, language, tools, runs, framework, caps.
    pub parameters: Value,
    /// Each run: its id, module and version, parameters (secrets masked), tool and
    /// tool version.
    pub runs: Value,
    /// The audit chain's last event when the pack was built (`id`, `hash`).
    pub audit_head: Value,
    pub files: Vec<PackedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedFile {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// The deployment's signing key (`EVIDENCE_SIGNING_KEY`: a 32-byte Ed25519 seed in
/// base64).
pub struct Signer(Ed25519KeyPair);

impl Signer {
    pub fn from_seed(base64: &str) -> Result<Self, String> {
        let seed = BASE64
            .decode(base64.trim())
            .map_err(|_| "is not base64".to_owned())?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| "is not a 32-byte Ed25519 seed in base64".to_owned())?;
        Ok(Self(pair))
    }

    pub fn public_key(&self) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.0.public_key().as_ref());
        PublicKey(bytes)
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).as_ref().to_vec()
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.public_key().id())
    }
}

/// An Ed25519 public key, as `GET /api/v1/evidence/public-key` serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// sha256 of the key, its first 16 hex digits: what a manifest names.
    pub fn id(&self) -> String {
        sage_model::hex(&Sha256::digest(self.0))[..16].to_owned()
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "algorithm": "Ed25519",
            "public_key": BASE64.encode(self.0),
            "key_id": self.id(),
        })
    }

    /// Reads the body of the public-key route, saved as it is.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("the public key does not read: {e}"))?;
        if value["algorithm"] != "Ed25519" {
            return Err("the public key is not an Ed25519 key".to_owned());
        }
        let bytes = value["public_key"]
            .as_str()
            .and_then(|b| BASE64.decode(b).ok())
            .ok_or("the public key has no base64 `public_key`")?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the public key is not 32 bytes".to_owned())?;
        Ok(Self(bytes))
    }
}

/// A file to pack: its name in the pack and where its bytes are.
pub enum Content<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}

/// Writes a pack: each file, then the manifest naming them (with `manifest` as the
/// rest of it) and its signature.
pub fn write_pack<W: Write + Seek>(
    out: W,
    files: &[(String, Content<'_>)],
    mut manifest: Manifest,
    signer: &Signer,
) -> Result<(), String> {
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    manifest.files.clear();
    for (name, content) in files {
        zip.start_file(name.as_str(), options)
            .map_err(|e| format!("{name}: {e}"))?;
        let mut hashing = Hashing::new(&mut zip);
        match content {
            Content::Bytes(bytes) => hashing
                .write_all(bytes)
                .map_err(|e| format!("{name}: {e}"))?,
            Content::File(path) => {
                let mut file =
                    std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
                std::io::copy(&mut file, &mut hashing).map_err(|e| format!("{name}: {e}"))?;
            }
        }
        let (sha256, size) = hashing.finish();
        manifest.files.push(PackedFile {
            name: name.clone(),
            sha256,
            size,
        });
    }
    manifest.key_id = signer.public_key().id();
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    zip.start_file(MANIFEST, options)
        .map_err(|e| e.to_string())?;
    zip.write_all(&text).map_err(|e| e.to_string())?;
    zip.start_file(SIGNATURE, options)
        .map_err(|e| e.to_string())?;
    zip.write_all(BASE64.encode(signer.sign(&text)).as_bytes())
        .map_err(|e| e.to_string())?;
    zip.finish().map_err(|e| e.to_string())?;
    Ok(())
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (String, u64) {
        (sage_model::hex(&self.hasher.finalize()), self.size)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A pack's manifest as it reads, unchecked: which key to verify it with.
pub fn manifest<R: Read + Seek>(pack: R) -> Result<Manifest, String> {
    let mut zip = zip::ZipArchive::new(pack).map_err(|e| format!("not a zip: {e}"))?;
    let bytes = read_entry(&mut zip, MANIFEST)?.ok_or("the pack has no manifest.json")?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST} does not read: {e}"))
}

/// Checks a pack: the manifest's signature under `key`, every file against the
/// manifest (none missing, changed or added), the summary's counts and the PDF's
/// tables of counts against `findings.jsonl`, and `findings.jsonl` against what its sources read. Each thing
/// that does not hold, named; none when the pack verifies.
pub fn verify<R: Read + Seek>(pack: R, key: &PublicKey) -> Result<Vec<String>, String> {
    let mut zip = zip::ZipArchive::new(pack).map_err(|e| format!("not a zip: {e}"))?;
    let mut problems = Vec::new();
    let manifest_bytes = read_entry(&mut zip, MANIFEST)?.ok_or("the pack has no manifest.json")?;
    let signature = read_entry(&mut zip, SIGNATURE)?.ok_or("the pack has no manifest.sig")?;
    let signature = BASE64.decode(signature.trim_ascii()).unwrap_or_default();
    if UnparsedPublicKey::new(&ED25519, key.0)
        .verify(&manifest_bytes, &signature)
        .is_err()
    {
        problems.push(format!(
            "{SIGNATURE}: the signature does not match {MANIFEST} under key {}",
            key.id()
        ));
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| format!("{MANIFEST} does not read: {e}"))?;
    if manifest.key_id != key.id() {
        problems.push(format!(
            "{MANIFEST}: signed by key {}, not by the key given ({})",
            manifest.key_id,
            key.id()
        ));
    }
    let listed: BTreeMap<&str, &PackedFile> = manifest
        .files
        .iter()
        .map(|f| (f.name.as_str(), f))
        .collect();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    for name in &names {
        if name != MANIFEST && name != SIGNATURE && !listed.contains_key(name.as_str()) {
            problems.push(format!("{name}: in the pack but not in the manifest"));
        }
    }
    let folder = tempfile_dir()?;
    for file in &manifest.files {
        let Some(bytes) = read_entry(&mut zip, &file.name)? else {
            problems.push(format!(
                "{}: in the manifest but not in the pack",
                file.name
            ));
            continue;
        };
        let sha256 = sage_model::hex(&Sha256::digest(&bytes));
        if sha256 != file.sha256 || bytes.len() as u64 != file.size {
            problems.push(format!(
                "{}: sha256 {sha256} ({} bytes), the manifest says {} ({} bytes)",
                file.name,
                bytes.len(),
                file.sha256,
                file.size
            ));
        }
        if let Some(source) = file.name.strip_prefix("sources/") {
            let path = folder.path().join(source);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
        }
    }
    // The counts: the summary's follow from the findings, the findings from the sources.
    let findings = read_entry(&mut zip, FINDINGS)?.unwrap_or_default();
    let mut from_findings = Summary::default();
    for (number, line) in findings.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Finding>(line) {
            Ok(finding) => from_findings.add(&Record::Finding(finding)),
            Err(error) => problems.push(format!(
                "{FINDINGS}: line {} does not read: {error}",
                number + 1
            )),
        }
    }
    let summary: Value = read_entry(&mut zip, SUMMARY)?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let counted = serde_json::json!({"total": from_findings.total, "counts": from_findings.counts});
    if summary["total"] != counted["total"] || summary["counts"] != counted["counts"] {
        problems.push(format!(
            "{SUMMARY}: its counts are not those of {FINDINGS} (total {} against {})",
            summary["total"], counted["total"]
        ));
    }
    if let Some(pdf) = read_entry(&mut zip, REPORT)? {
        let lang = manifest.parameters["lang"]
            .as_str()
            .and_then(|l| l.parse().ok())
            .unwrap_or_default();
        problems.extend(pdf_figures(&pdf, &from_findings, lang));
    }
    let wanted: Option<Vec<String>> =
        serde_json::from_value(manifest.parameters["tools"].clone()).ok();
    let mut from_sources = Summary::default();
    let inputs: Vec<Input> = std::fs::read_dir(folder.path())
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|run| Input {
            path: run.path(),
            label: String::new(),
            run: Some(run.file_name().to_string_lossy().into_owned()),
            // The counts compared do not depend on accounts.
            account: None,
        })
        .collect();
    let parsed = parse_inputs(&inputs, &mut |record| {
        let tool = match &record {
            Record::Finding(f) => f.tool,
            Record::Compliance(c) => c.tool,
        };
        if wanted
            .as_ref()
            .is_none_or(|w| w.iter().any(|t| t == tool.as_str()))
        {
            from_sources.add(&record);
        }
    });
    match parsed {
        Err(error) => problems.push(format!("sources/: a source does not read: {error}")),
        Ok(_)
            if from_sources.counts != from_findings.counts
                || from_sources.total != from_findings.total =>
        {
            problems.push(format!(
                "{FINDINGS}: not what the sources read (total {} against {} from sources/)",
                from_findings.total, from_sources.total
            ));
        }
        Ok(_) => {}
    }
    Ok(problems)
}

/// Where the PDF's tables of counts differ from what `findings.jsonl` counts: each
/// row the findings make must be set in the PDF, cell after cell.
fn pdf_figures(pdf: &[u8], counted: &Summary, lang: Lang) -> Vec<String> {
    let lines = match pdf_lines(pdf) {
        Ok(lines) => lines,
        Err(error) => return vec![format!("{REPORT}: {error}")],
    };
    let mut problems = Vec::new();
    for table in count_tables(counted, lang) {
        let Block::Table { header, rows, .. } = table else {
            continue;
        };
        for row in rows {
            if !lines
                .windows(row.len())
                .any(|cells| cells == row.as_slice())
            {
                problems.push(format!(
                    "{REPORT}: its table by {} does not show the row {} that {FINDINGS} counts",
                    header[0].to_lowercase(),
                    row.join(" | ")
                ));
            }
        }
    }
    problems
}

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Option<Vec<u8>>, String> {
    let mut entry = match zip.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(error) => return Err(format!("{name}: {error}")),
    };
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(Some(bytes))
}

fn tempfile_dir() -> Result<TempDir, String> {
    let path = std::env::temp_dir().join(format!(
        "sage-pack-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
    Ok(TempDir(path))
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
