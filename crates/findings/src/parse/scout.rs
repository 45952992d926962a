//! Scout Suite's results file: `scoutsuite_results =` then one JSON object. Each rule
//! under `services.*.findings` gives one `fail` per flagged item, else one `pass` when
//! it checked something, else one `not_evaluated`.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Deserialize;
use serde_json::Value;

use super::{Emit, FileOutcome, Record};
use crate::error::ParseError;
use crate::finding::{Finding, Severity, Source, Status, Tool};

#[derive(Deserialize)]
struct Results {
    #[serde(default)]
    account_id: Value,
    #[serde(default)]
    services: BTreeMap<String, Service>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Service {
    findings: Option<BTreeMap<String, Rule>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Rule {
    checked_items: u64,
    items: Vec<String>,
    level: String,
    description: String,
    dashboard_name: String,
    remediation: Option<String>,
    compliance: Option<Vec<Reference>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Reference {
    name: String,
    version: String,
    reference: String,
}

/// What comes before the JSON object in a results file.
pub const RESULTS_PREFIX: &str = "scoutsuite_results";

pub fn results(mut reader: impl Read, file: &str, emit: Emit) -> Result<FileOutcome, ParseError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|e| ParseError::io(file, e))?;
    let start = text
        .find('=')
        .filter(|_| text.trim_start().starts_with(RESULTS_PREFIX))
        .ok_or_else(|| ParseError::at_line(file, 1, "expected `scoutsuite_results =`"))?;
    // Slicing after `=` keeps the line numbers of the JSON the same as the file's.
    let results: Results =
        serde_json::from_str(&text[start + 1..]).map_err(|e| ParseError::json(file, &e))?;
    let account = match &results.account_id {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut count = 0;
    for (service, rules) in &results.services {
        for (rule_id, rule) in rules.findings.iter().flatten() {
            let finding = |status, resource: &str, position: String| Finding {
                tool: Tool::Scout,
                check_id: rule_id.clone(),
                title: rule.description.clone(),
                severity: match rule.level.as_str() {
                    "danger" => Severity::High,
                    "warning" => Severity::Medium,
                    other => Severity::from_tool(other),
                },
                status,
                resource_id: resource.to_owned(),
                resource_type: rule.dashboard_name.clone(),
                region: region_of(resource),
                account: account.clone(),
                remediation: rule.remediation.clone().unwrap_or_default(),
                compliance: rule
                    .compliance
                    .iter()
                    .flatten()
                    .map(|c| format!("{} {}: {}", c.name, c.version, c.reference))
                    .collect(),
                source: Source {
                    file: file.to_owned(),
                    position,
                },
            };
            let path = format!("services.{service}.findings.{rule_id}");
            if rule.items.is_empty() {
                let status = if rule.checked_items > 0 {
                    Status::Pass
                } else {
                    Status::NotEvaluated
                };
                emit(Record::Finding(finding(status, "", path.clone())));
                count += 1;
            }
            for (i, item) in rule.items.iter().enumerate() {
                let position = format!("{path}.items[{i}]");
                emit(Record::Finding(finding(Status::Fail, item, position)));
                count += 1;
            }
        }
    }
    Ok(FileOutcome {
        findings: count,
        note: None,
    })
}

/// Flagged items are dotted paths into the services tree; AWS ones pass through
/// `regions.<region>`.
fn region_of(item: &str) -> String {
    let mut parts = item.split('.');
    while let Some(part) = parts.next() {
        if part == "regions" {
            return parts.next().unwrap_or_default().to_owned();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_the_item_path() {
        assert_eq!(region_of("s3.regions.eu-west-1.buckets.b1.x"), "eu-west-1");
        assert_eq!(region_of("iam.projects.p.bindings.0"), "");
    }
}
