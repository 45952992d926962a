//! Scout Suite's results file: `scoutsuite_results =` then one JSON object. Each rule
//! under `services.*.findings` gives one `fail` per flagged item, else one `pass` when
//! it checked something, else one `not_evaluated`.
//!
//! The object also holds every resource the scan saw, so it is read as a stream: what
//! is not a rule is skipped unread, and one rule at a time is held. Scout writes its
//! keys sorted, so `account_id` comes before `services`; findings read before an
//! account is known carry none.

use std::fmt;
use std::io::{BufRead, Read};

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, Unexpected, Visitor};
use serde_json::Value;

use super::{Emit, FileOutcome, Record};
use crate::error::ParseError;
use crate::finding::{Finding, Severity, Source, Status, Tool};

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

pub fn results(
    mut reader: impl BufRead,
    file: &str,
    emit: Emit,
) -> Result<FileOutcome, ParseError> {
    let mut prefix = Vec::new();
    (&mut reader)
        .take(256)
        .read_until(b'=', &mut prefix)
        .map_err(|e| ParseError::io(file, e))?;
    let prefix = String::from_utf8_lossy(&prefix);
    if !(prefix.trim_start().starts_with(RESULTS_PREFIX) && prefix.ends_with('=')) {
        return Err(ParseError::at_line(
            file,
            1,
            "expected `scoutsuite_results =`",
        ));
    }
    // The JSON starts on the line of the `=`, so its line numbers are the file's.
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let mut reading = Reading {
        file,
        account: String::new(),
        count: 0,
        emit,
    };
    Section::Results
        .seed(&mut reading)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
        .map_err(|e| ParseError::json(file, &e))?;
    Ok(FileOutcome {
        findings: reading.count,
        note: None,
    })
}

struct Reading<'a, 'e> {
    file: &'a str,
    account: String,
    count: u64,
    emit: Emit<'e>,
}

/// The objects on the way from the top of the file to a rule.
#[derive(Clone, Copy)]
enum Section<'s> {
    /// The whole object: `account_id` and `services` are read.
    Results,
    /// `services`: one object per service.
    Services,
    /// One service: its `findings` are read.
    Service(&'s str),
    /// A service's `findings`: one rule per key (or null).
    Rules(&'s str),
}

impl<'s> Section<'s> {
    fn seed<'r, 'a, 'e>(self, reading: &'r mut Reading<'a, 'e>) -> Walk<'s, 'r, 'a, 'e> {
        Walk {
            section: self,
            reading,
        }
    }
}

struct Walk<'s, 'r, 'a, 'e> {
    section: Section<'s>,
    reading: &'r mut Reading<'a, 'e>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Scout Suite results object")
    }

    /// A service without findings has them as `null`.
    fn visit_unit<E: Error>(self) -> Result<(), E> {
        match self.section {
            Section::Rules(_) => Ok(()),
            _ => Err(E::invalid_type(Unexpected::Unit, &self)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let reading = self.reading;
        while let Some(key) = map.next_key::<String>()? {
            match (self.section, key.as_str()) {
                (Section::Results, "account_id") => {
                    reading.account = match map.next_value::<Value>()? {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                }
                (Section::Results, "services") => {
                    map.next_value_seed(Section::Services.seed(reading))?;
                }
                (Section::Services, service) => {
                    map.next_value_seed(Section::Service(service).seed(reading))?;
                }
                (Section::Service(service), "findings") => {
                    map.next_value_seed(Section::Rules(service).seed(reading))?;
                }
                (Section::Rules(service), rule_id) => {
                    let rule: Rule = map.next_value()?;
                    reading.rule(service, rule_id, &rule);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

impl Reading<'_, '_> {
    fn rule(&mut self, service: &str, rule_id: &str, rule: &Rule) {
        let Self {
            file,
            account,
            count,
            emit,
        } = self;
        let finding = |status, resource: &str, position: String| Finding {
            tool: Tool::Scout,
            check_id: rule_id.to_owned(),
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
                file: (*file).to_owned(),
                position,
            },
        };
        let path = format!("services.{service}.findings.{rule_id}");
        let mut emit = |finding| {
            *count += 1;
            emit(Record::Finding(finding));
        };
        if rule.items.is_empty() {
            let status = if rule.checked_items > 0 {
                Status::Pass
            } else {
                Status::NotEvaluated
            };
            emit(finding(status, "", path.clone()));
        }
        for (i, item) in rule.items.iter().enumerate() {
            emit(finding(Status::Fail, item, format!("{path}.items[{i}]")));
        }
    }
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
    fn findings_come_before_the_rest_of_the_file_is_read() {
        let resources = format!("[{}]", vec!["{\"id\": \"r\"}"; 20_000].join(","));
        let text = format!(
            "scoutsuite_results =\n{{\"account_id\": \"1\", \"services\": {{\
             \"s3\": {{\"findings\": {{\"s3-x\": {{\"items\": [\"s3.regions.eu-west-1.b\"], \
             \"level\": \"danger\"}}}}}}, \"ec2\": {{\"instances\": {resources}, \"findings\": null}}}}}}"
        );
        let (read, findings) =
            super::super::streaming::read_at_first_record(text.as_bytes(), |reader, emit| {
                results(reader, "r.js", emit)
            });
        assert_eq!(findings, 1);
        assert!(
            read < text.len() / 10,
            "{read} of {} bytes read",
            text.len()
        );
    }

    #[test]
    fn regions_come_from_the_item_path() {
        assert_eq!(region_of("s3.regions.eu-west-1.buckets.b1.x"), "eu-west-1");
        assert_eq!(region_of("iam.projects.p.bindings.0"), "");
    }
}
