//! Prowler: OCSF JSON (4.x and 5.x, before and after the `event_time` → `time_dt`
//! rename), the v3 native JSON, the `;`-separated CSV, and compliance CSVs. Pass/fail
//! is `status_code`/`STATUS`; a muted finding is `muted` whatever its code.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Deserialize;

use super::json::for_each_element;
use super::{ComplianceResult, Emit, FileOutcome, Record};
use crate::error::ParseError;
use crate::finding::{Finding, Severity, Source, Status, Tool};

fn status(code: &str, muted: bool) -> Status {
    if muted {
        return Status::Muted;
    }
    match code.trim().to_ascii_uppercase().as_str() {
        "PASS" => Status::Pass,
        "FAIL" => Status::Fail,
        "MANUAL" => Status::Manual,
        "INFO" => Status::Info,
        "WARNING" => Status::Warning,
        _ => Status::Error,
    }
}

fn compliance_refs(map: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    map.iter()
        .flat_map(|(framework, ids)| ids.iter().map(move |id| format!("{framework}: {id}")))
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Ocsf {
    /// 2004 for a Detection Finding; 2003 for a Compliance Finding, which Prowler 5
    /// writes per framework under `compliance/`, one per requirement and finding.
    class_uid: u32,
    /// A Compliance Finding's framework and requirement.
    compliance: Option<OcsfCompliance>,
    status_code: String,
    /// `New` or `Suppressed` (muted), not pass/fail.
    status: String,
    severity: String,
    metadata: OcsfMetadata,
    finding_info: OcsfInfo,
    resources: Vec<OcsfResource>,
    cloud: Option<OcsfCloud>,
    remediation: OcsfRemediation,
    unmapped: OcsfUnmapped,
}

/// OCSF's class of a Compliance Finding.
const COMPLIANCE_FINDING: u32 = 2003;

#[derive(Deserialize, Default)]
#[serde(default)]
struct OcsfCompliance {
    standards: Vec<String>,
    requirements: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OcsfMetadata {
    event_code: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OcsfInfo {
    title: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OcsfResource {
    uid: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    region: String,
    namespace: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OcsfCloud {
    account: Option<OcsfAccount>,
    region: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OcsfAccount {
    uid: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OcsfRemediation {
    desc: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OcsfUnmapped {
    compliance: BTreeMap<String, Vec<String>>,
    muted: bool,
}

pub fn ocsf(reader: impl Read, file: &str, emit: Emit) -> Result<FileOutcome, ParseError> {
    let mut findings = 0;
    let (_, end) = for_each_element(reader, file, |index, item: Ocsf| {
        // A compliance result restates a finding under a framework's requirement: it
        // feeds the compliance summary, never the finding counts.
        if item.class_uid == COMPLIANCE_FINDING {
            let compliance = item.compliance.unwrap_or_default();
            emit(Record::Compliance(ComplianceResult {
                tool: Tool::Prowler,
                framework: compliance.standards.join(", "),
                requirement: compliance.requirements.join(", "),
                status: status(&item.status_code, false),
            }));
            return;
        }
        findings += 1;
        let resource = item.resources.into_iter().next().unwrap_or_default();
        let cloud = item.cloud.unwrap_or_default();
        let region = if resource.region.is_empty() {
            cloud.region
        } else {
            resource.region
        };
        let muted = item.status.eq_ignore_ascii_case("suppressed") || item.unmapped.muted;
        emit(Record::Finding(Finding {
            tool: Tool::Prowler,
            check_id: item.metadata.event_code,
            title: item.finding_info.title,
            severity: Severity::from_tool(&item.severity),
            status: status(&item.status_code, muted),
            resource_id: first_non_empty([resource.uid, resource.name]),
            resource_type: resource.kind,
            region,
            // Kubernetes findings have no cloud account; the namespace scopes them.
            account: first_non_empty([
                cloud.account.map(|a| a.uid).unwrap_or_default(),
                resource.namespace,
            ]),
            remediation: item.remediation.desc,
            compliance: compliance_refs(&item.unmapped.compliance),
            source: Source {
                file: file.to_owned(),
                position: format!("[{index}]"),
            },
        }));
    })?;
    Ok(FileOutcome {
        findings,
        note: end.note(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct V3 {
    #[serde(rename = "CheckID")]
    check_id: String,
    check_title: String,
    status: String,
    severity: String,
    resource_type: String,
    resource_id: String,
    resource_arn: String,
    region: String,
    account_id: String,
    remediation: V3Remediation,
    compliance: BTreeMap<String, Vec<String>>,
    muted: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct V3Remediation {
    recommendation: V3Recommendation,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct V3Recommendation {
    text: String,
}

pub fn v3(reader: impl Read, file: &str, emit: Emit) -> Result<FileOutcome, ParseError> {
    let (count, end) = for_each_element(reader, file, |index, item: V3| {
        emit(Record::Finding(Finding {
            tool: Tool::Prowler,
            check_id: item.check_id,
            title: item.check_title,
            severity: Severity::from_tool(&item.severity),
            status: status(&item.status, item.muted),
            resource_id: first_non_empty([item.resource_arn, item.resource_id]),
            resource_type: item.resource_type,
            region: item.region,
            account: item.account_id,
            remediation: item.remediation.recommendation.text,
            compliance: compliance_refs(&item.compliance),
            source: Source {
                file: file.to_owned(),
                position: format!("[{index}]"),
            },
        }));
    })?;
    Ok(FileOutcome {
        findings: count,
        note: end.note(),
    })
}

/// Column positions of a `;`-separated Prowler CSV, by header name (3.x, 4.x and 5.x
/// name some columns differently).
struct Columns {
    names: Vec<String>,
}

impl Columns {
    fn get<'r>(&self, record: &'r csv::StringRecord, names: &[&str]) -> &'r str {
        names
            .iter()
            .filter_map(|name| self.names.iter().position(|n| n == name))
            .filter_map(|i| record.get(i))
            .find(|v| !v.is_empty())
            .unwrap_or("")
    }
}

fn csv_reader(reader: impl Read) -> csv::Reader<impl Read> {
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_reader(reader)
}

fn for_each_row(
    reader: impl Read,
    file: &str,
    mut each: impl FnMut(&Columns, &csv::StringRecord, u64),
) -> Result<u64, ParseError> {
    let mut csv = csv_reader(reader);
    let names = csv.headers().map_err(|e| ParseError::csv(file, &e))?;
    let columns = Columns {
        names: names
            .iter()
            .map(|n| n.trim().to_ascii_uppercase())
            .collect(),
    };
    let mut record = csv::StringRecord::new();
    let mut count = 0;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => return Ok(count),
            Ok(true) => {
                let line = record.position().map_or(0, csv::Position::line);
                each(&columns, &record, line);
                count += 1;
            }
            Err(error) => return Err(ParseError::csv(file, &error)),
        }
    }
}

fn is_true(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

pub fn csv(reader: impl Read, file: &str, emit: Emit) -> Result<FileOutcome, ParseError> {
    let findings = for_each_row(reader, file, |c, r, line| {
        let compliance = c
            .get(r, &["COMPLIANCE"])
            .split('|')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        emit(Record::Finding(Finding {
            tool: Tool::Prowler,
            check_id: c.get(r, &["CHECK_ID"]).to_owned(),
            title: c.get(r, &["CHECK_TITLE"]).to_owned(),
            severity: Severity::from_tool(c.get(r, &["SEVERITY"])),
            status: status(c.get(r, &["STATUS"]), is_true(c.get(r, &["MUTED"]))),
            resource_id: c
                .get(
                    r,
                    &[
                        "RESOURCE_UID",
                        "RESOURCE_ARN",
                        "RESOURCE_ID",
                        "RESOURCE_NAME",
                    ],
                )
                .to_owned(),
            resource_type: c.get(r, &["RESOURCE_TYPE"]).to_owned(),
            region: c.get(r, &["REGION"]).to_owned(),
            account: c.get(r, &["ACCOUNT_UID", "ACCOUNT_ID"]).to_owned(),
            remediation: c.get(r, &["REMEDIATION_RECOMMENDATION_TEXT"]).to_owned(),
            compliance,
            source: Source {
                file: file.to_owned(),
                position: format!("line {line}"),
            },
        }));
    })?;
    Ok(FileOutcome {
        findings,
        note: None,
    })
}

/// A compliance CSV restates the findings per framework requirement: its rows feed the
/// compliance summary, not the finding counts, so a run's numbers are not doubled.
pub fn compliance_csv(
    reader: impl Read,
    file: &str,
    emit: Emit,
) -> Result<FileOutcome, ParseError> {
    let rows = for_each_row(reader, file, |c, r, _| {
        let framework = c.get(r, &["FRAMEWORK", "DESCRIPTION"]);
        let version = c.get(r, &["VERSION"]);
        emit(Record::Compliance(ComplianceResult {
            tool: Tool::Prowler,
            framework: if version.is_empty() {
                framework.to_owned()
            } else {
                format!("{framework} {version}")
            },
            requirement: c.get(r, &["REQUIREMENTS_ID"]).to_owned(),
            status: status(c.get(r, &["STATUS"]), is_true(c.get(r, &["MUTED"]))),
        }));
    })?;
    Ok(FileOutcome {
        findings: 0,
        note: Some(format!("{rows} compliance rows")),
    })
}

fn first_non_empty<const N: usize>(values: [String; N]) -> String {
    values
        .into_iter()
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}
