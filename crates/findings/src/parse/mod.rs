//! Recognising scanner outputs by their content and parsing them into findings.
//! Inputs are files or folders; folders are walked in name order, Cloud Custodian
//! policy folders are read as one unit, and files that are no scanner's output are
//! listed as skipped with the reason.

mod custodian;
mod json;
mod powerpipe;
mod prowler;
mod scout;
#[cfg(test)]
mod streaming;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ParseError;
use crate::finding::{Finding, Status, Tool};

/// What a parser hands on, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Finding(Finding),
    /// A row of a compliance report: it maps checks to a framework's requirements and
    /// restates findings, so it feeds the compliance summary only.
    Compliance(ComplianceResult),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComplianceResult {
    pub tool: Tool,
    pub framework: String,
    pub requirement: String,
    pub status: Status,
}

pub type Emit<'e> = &'e mut dyn FnMut(Record);

/// What one parser made of one file.
pub struct FileOutcome {
    pub findings: u64,
    /// Something the reader of a report should know (an interrupted file).
    pub note: Option<String>,
}

/// A file that was read, for the report's appendix: an auditor finds it by name and
/// run and checks it by sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFile {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    pub tool: Tool,
    pub format: String,
    pub sha256: String,
    pub bytes: u64,
    pub findings: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A file that is no scanner output this crate reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub sources: Vec<SourceFile>,
    pub skipped: Vec<Skipped>,
}

/// A file or folder to read, the name it goes by in findings, and the run it came from.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub label: String,
    pub run: Option<String>,
    /// The account the run assumed a role in: findings whose output names no account
    /// (Cloud Custodian's) are that account's, so runs over many accounts stay apart.
    pub account: Option<String>,
}

impl Input {
    /// A path named on a command line: it goes by that name.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            label: path.display().to_string(),
            path,
            run: None,
            account: None,
        }
    }
}

/// The files among `names` (paths of one run's outputs) that restate another: Prowler
/// writes every finding in `<stem>.ocsf.json` and again in `<stem>.csv`, Powerpipe in
/// `<stem>.json` and `<stem>.csv`, so a reader of the whole folder reads such a CSV
/// once, through its JSON.
pub fn restated<'a>(names: &[&'a str]) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|name| {
            name.strip_suffix(".csv").is_some_and(|stem| {
                [".ocsf.json", ".json"]
                    .iter()
                    .any(|json| names.contains(&format!("{stem}{json}").as_str()))
            })
        })
        .collect()
}

/// Parses every input, handing each record to `emit` as it is read.
pub fn parse_inputs(inputs: &[Input], emit: Emit) -> Result<Parsed, ParseError> {
    let mut parsed = Parsed::default();
    for input in inputs {
        let mut in_account = |mut record: Record| {
            if let (Record::Finding(finding), Some(account)) = (&mut record, &input.account)
                && finding.account.is_empty()
            {
                finding.account.clone_from(account);
            }
            emit(record);
        };
        parse_path(
            &input.path,
            &input.label,
            input.run.as_deref(),
            &mut in_account,
            &mut parsed,
        )?;
    }
    Ok(parsed)
}

fn parse_path(
    path: &Path,
    label: &str,
    run: Option<&str>,
    emit: Emit,
    parsed: &mut Parsed,
) -> Result<(), ParseError> {
    let metadata = std::fs::metadata(path).map_err(|e| ParseError::io(label, e))?;
    if metadata.is_dir() {
        if custodian::is_policy_dir(path) {
            parsed
                .sources
                .extend(custodian::policy_dir(path, label, run, emit)?);
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| ParseError::io(label, e))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| ParseError::io(label, e))?;
        entries.sort();
        for entry in entries {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let child = if label.is_empty() {
                name
            } else {
                format!("{}/{name}", label.trim_end_matches('/'))
            };
            parse_path(&entry, &child, run, emit, parsed)?;
        }
        return Ok(());
    }
    let format = match detect(&head(path, label)?) {
        Detected::Format(format) => format,
        Detected::Skip(reason) => {
            parsed.skipped.push(Skipped {
                file: label.to_owned(),
                reason: reason.to_owned(),
            });
            return Ok(());
        }
    };
    let (outcome, source) =
        read_source(path, label, run, |reader| format.parse(reader, label, emit))?;
    parsed
        .sources
        .push(source.with(format.tool(), format.name(), outcome.findings, outcome.note));
    Ok(())
}

/// Whether a file of a run's outputs is one a report reads, judged by its path and
/// its first [`HEAD`] bytes (all of a shorter file): a scanner output, or a file of a
/// Cloud Custodian policy folder, which is recognised as a folder. Else why not.
pub fn recognised(path: &str, head: &[u8]) -> Result<(), &'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if [
        custodian::RESOURCES,
        custodian::METADATA,
        custodian::RUN_LOG,
    ]
    .contains(&name)
    {
        return Ok(());
    }
    match detect(head) {
        Detected::Format(_) => Ok(()),
        Detected::Skip(reason) => Err(reason),
    }
}

/// Enough of a file to recognise it.
fn head(path: &Path, label: &str) -> Result<Vec<u8>, ParseError> {
    let mut head = Vec::with_capacity(HEAD);
    File::open(path)
        .and_then(|f| f.take(HEAD as u64).read_to_end(&mut head))
        .map_err(|e| ParseError::io(label, e))?;
    Ok(head)
}

pub const HEAD: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    ProwlerOcsf,
    ProwlerV3,
    ProwlerCsv,
    ProwlerComplianceCsv,
    ScoutResults,
    PowerpipeJson,
    PowerpipeCsv,
}

#[derive(Debug, PartialEq, Eq)]
enum Detected {
    Format(Format),
    Skip(&'static str),
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Self::ProwlerOcsf => "prowler ocsf json",
            Self::ProwlerV3 => "prowler v3 json",
            Self::ProwlerCsv => "prowler csv",
            Self::ProwlerComplianceCsv => "prowler compliance csv",
            Self::ScoutResults => "scout suite results",
            Self::PowerpipeJson => "powerpipe json",
            Self::PowerpipeCsv => "powerpipe csv",
        }
    }

    fn tool(self) -> Tool {
        match self {
            Self::ProwlerOcsf | Self::ProwlerV3 | Self::ProwlerCsv | Self::ProwlerComplianceCsv => {
                Tool::Prowler
            }
            Self::ScoutResults => Tool::Scout,
            Self::PowerpipeJson | Self::PowerpipeCsv => Tool::Steampipe,
        }
    }

    fn parse(
        self,
        reader: &mut dyn Read,
        file: &str,
        emit: Emit,
    ) -> Result<FileOutcome, ParseError> {
        let reader = BufReader::with_capacity(256 * 1024, reader);
        match self {
            Self::ProwlerOcsf => prowler::ocsf(reader, file, emit),
            Self::ProwlerV3 => prowler::v3(reader, file, emit),
            Self::ProwlerCsv => prowler::csv(reader, file, emit),
            Self::ProwlerComplianceCsv => prowler::compliance_csv(reader, file, emit),
            Self::ScoutResults => scout::results(reader, file, emit),
            Self::PowerpipeJson => powerpipe::json(reader, file, emit),
            Self::PowerpipeCsv => powerpipe::csv(reader, file, emit),
        }
    }
}

/// Why an empty file is skipped: a tool that ran out of space leaves some.
pub const EMPTY_FILE: &str = "empty file";

/// Recognises a file by its first bytes: the tools' own keys, never the file name.
fn detect(head: &[u8]) -> Detected {
    let text = String::from_utf8_lossy(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head));
    let text = text.trim_start();
    let has = |key: &str| text.contains(key);
    if text.is_empty() {
        return Detected::Skip(EMPTY_FILE);
    }
    if text.starts_with(scout::RESULTS_PREFIX) {
        return Detected::Format(Format::ScoutResults);
    }
    if text.starts_with("scoutsuite_exceptions") || text.starts_with("scoutsuite_errors") {
        return Detected::Skip("Scout Suite exceptions or errors, not results");
    }
    if let Some(array) = text.strip_prefix('[') {
        return if has("\"status_code\"") && has("\"finding_info\"") {
            Detected::Format(Format::ProwlerOcsf)
        } else if has("\"CheckID\"") && has("\"Status\"") {
            Detected::Format(Format::ProwlerV3)
        } else if array.trim_start().starts_with(']') {
            Detected::Skip("an empty JSON array, outside a Custodian policy folder")
        } else {
            Detected::Skip("a JSON array of no known scanner")
        };
    }
    if text.starts_with('{') {
        return if has("\"group_id\"") && (has("\"controls\"") || has("\"groups\"")) {
            Detected::Format(Format::PowerpipeJson)
        } else {
            Detected::Skip("a JSON object of no known scanner")
        };
    }
    let header = text.lines().next().unwrap_or_default().to_ascii_uppercase();
    let columns: Vec<&str> = header
        .split([';', ','])
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let column = |name: &str| columns.contains(&name);
    if header.contains(';') && column("REQUIREMENTS_ID") && column("STATUS") {
        Detected::Format(Format::ProwlerComplianceCsv)
    } else if header.contains(';') && column("CHECK_ID") && column("STATUS") {
        Detected::Format(Format::ProwlerCsv)
    } else if column("GROUP_ID") && column("CONTROL_ID") && column("STATUS") {
        Detected::Format(Format::PowerpipeCsv)
    } else {
        Detected::Skip("not a scanner output")
    }
}

/// A file read through a hash: what was parsed is what the sha256 covers.
pub(crate) struct SourceStub {
    file: String,
    run: Option<String>,
    sha256: String,
    bytes: u64,
}

impl SourceStub {
    pub(crate) fn with(
        self,
        tool: Tool,
        format: &str,
        findings: u64,
        note: Option<String>,
    ) -> SourceFile {
        SourceFile {
            file: self.file,
            run: self.run,
            tool,
            format: format.to_owned(),
            sha256: self.sha256,
            bytes: self.bytes,
            findings,
            note,
        }
    }
}

pub(crate) fn read_source<T>(
    path: &Path,
    label: &str,
    run: Option<&str>,
    parse: impl FnOnce(&mut dyn Read) -> Result<T, ParseError>,
) -> Result<(T, SourceStub), ParseError> {
    let file = File::open(path).map_err(|e| ParseError::io(label, e))?;
    let mut reader = Hashing {
        inner: file,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let value = parse(&mut reader)?;
    // Parsers may stop before trailing bytes; the hash covers the whole file.
    io::copy(&mut reader, &mut io::sink()).map_err(|e| ParseError::io(label, e))?;
    let stub = SourceStub {
        file: label.to_owned(),
        run: run.map(str::to_owned),
        sha256: sage_model::hex(&reader.hasher.finalize()),
        bytes: reader.bytes,
    };
    Ok((value, stub))
}

struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_recognised_by_content() {
        let cases: [(&str, Detected); 9] = [
            (
                "[{\"metadata\":{},\"status_code\":\"PASS\",\"finding_info\":{}}]",
                Detected::Format(Format::ProwlerOcsf),
            ),
            (
                "  [{\"CheckID\":\"x\",\"Status\":\"FAIL\"}]",
                Detected::Format(Format::ProwlerV3),
            ),
            (
                "AUTH_METHOD;CHECK_ID;STATUS;MUTED\n",
                Detected::Format(Format::ProwlerCsv),
            ),
            (
                "PROVIDER;REQUIREMENTS_ID;STATUS;CHECKID\n",
                Detected::Format(Format::ProwlerComplianceCsv),
            ),
            (
                "scoutsuite_results =\n{}",
                Detected::Format(Format::ScoutResults),
            ),
            (
                "scoutsuite_exceptions = {}",
                Detected::Skip("Scout Suite exceptions or errors, not results"),
            ),
            (
                "{\"group_id\":\"root_result_group\",\"groups\":[]}",
                Detected::Format(Format::PowerpipeJson),
            ),
            (
                "group_id,title,control_id,status\n",
                Detected::Format(Format::PowerpipeCsv),
            ),
            ("hello", Detected::Skip("not a scanner output")),
        ];
        for (text, expected) in cases {
            assert_eq!(detect(text.as_bytes()), expected, "{text}");
        }
    }
}

#[cfg(test)]
mod restated_tests {
    use super::restated;

    #[test]
    fn a_prowler_csv_beside_its_ocsf_json_restates_it() {
        let names = [
            "prowler.ocsf.json",
            "prowler.csv",
            "compliance/prowler_cis_4.0_aws.csv",
            "powerpipe.json",
            "powerpipe.csv",
            "other.csv",
        ];
        assert_eq!(restated(&names), ["prowler.csv", "powerpipe.csv"]);
        assert!(restated(&["prowler.csv"]).is_empty());
    }
}
