//! Powerpipe benchmark exports and `steampipe check --export`: a recursive tree of
//! groups holding controls holding result rows, as JSON or flattened to CSV. A control
//! reused under several parents is counted once, under the first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use serde::Deserialize;

use super::{Emit, FileOutcome, Record};
use crate::error::ParseError;
use crate::finding::{Finding, Severity, Source, Status, Tool};

fn status(word: &str) -> Status {
    match word.trim() {
        "ok" => Status::Pass,
        "alarm" => Status::Fail,
        "info" => Status::Info,
        "skip" => Status::Skipped,
        _ => Status::Error,
    }
}

const ACCOUNT_KEYS: [&str; 6] = [
    "account_id",
    "subscription_id",
    "project",
    "tenant",
    "tenant_id",
    "connection_name",
];

#[derive(Deserialize, Default)]
#[serde(default)]
struct Group {
    group_id: String,
    title: String,
    description: String,
    groups: Option<Vec<Group>>,
    controls: Option<Vec<Control>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Control {
    control_id: String,
    title: String,
    severity: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    results: Option<Vec<Row>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Row {
    resource: String,
    status: String,
    dimensions: Option<Vec<Dimension>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Dimension {
    key: String,
    value: String,
}

struct Walk<'a, 'e> {
    file: &'a str,
    seen: HashSet<String>,
    count: u64,
    emit: Emit<'e>,
}

pub fn json(reader: impl Read, file: &str, emit: Emit) -> Result<FileOutcome, ParseError> {
    let root: Group = serde_json::from_reader(std::io::BufReader::new(reader))
        .map_err(|e| ParseError::json(file, &e))?;
    let mut walk = Walk {
        file,
        seen: HashSet::new(),
        count: 0,
        emit,
    };
    walk.group(&root, &mut Vec::new());
    Ok(FileOutcome {
        findings: walk.count,
        note: None,
    })
}

impl Walk<'_, '_> {
    fn group<'g>(&mut self, group: &'g Group, parents: &mut Vec<&'g str>) {
        // Since Powerpipe 1.3 a run that failed leaves a group named "error".
        if group.group_id == "error" {
            self.emit(Finding {
                check_id: "error".to_owned(),
                title: first_non_empty(&group.description, &group.title).to_owned(),
                status: Status::Error,
                ..self.blank("error group")
            });
        }
        let named = group.group_id != "root_result_group" && !group.title.is_empty();
        if named {
            parents.push(&group.title);
        }
        for control in group.controls.iter().flatten() {
            if self.seen.insert(control.control_id.clone()) {
                self.control(control, parents);
            }
        }
        for child in group.groups.iter().flatten() {
            self.group(child, parents);
        }
        if named {
            parents.pop();
        }
    }

    fn control(&mut self, control: &Control, parents: &[&str]) {
        let severity = control
            .severity
            .as_deref()
            .or_else(|| control.tags.as_ref()?.get("severity").map(String::as_str))
            .map_or(Severity::Unknown, Severity::from_tool);
        for (i, row) in control.results.iter().flatten().enumerate() {
            let dimensions: HashMap<&str, &str> = row
                .dimensions
                .iter()
                .flatten()
                .map(|d| (d.key.as_str(), d.value.as_str()))
                .collect();
            let account = ACCOUNT_KEYS
                .iter()
                .find_map(|k| dimensions.get(k))
                .copied()
                .unwrap_or_default();
            self.emit(Finding {
                check_id: control.control_id.clone(),
                title: control.title.clone(),
                severity,
                status: status(&row.status),
                resource_id: row.resource.clone(),
                region: dimensions
                    .get("region")
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
                account: account.to_owned(),
                compliance: benchmark_path(parents),
                ..self.blank(&format!("{}.results[{i}]", control.control_id))
            });
        }
    }

    fn blank(&self, position: &str) -> Finding {
        Finding {
            tool: Tool::Steampipe,
            check_id: String::new(),
            title: String::new(),
            severity: Severity::Unknown,
            status: Status::Error,
            resource_id: String::new(),
            resource_type: String::new(),
            region: String::new(),
            account: String::new(),
            remediation: String::new(),
            compliance: Vec::new(),
            source: Source {
                file: self.file.to_owned(),
                position: position.to_owned(),
            },
        }
    }

    fn emit(&mut self, finding: Finding) {
        self.count += 1;
        (self.emit)(Record::Finding(finding));
    }
}

fn benchmark_path(parents: &[&str]) -> Vec<String> {
    let named: Vec<&str> = parents.iter().copied().filter(|p| !p.is_empty()).collect();
    if named.is_empty() {
        Vec::new()
    } else {
        vec![named.join(" > ")]
    }
}

fn first_non_empty<'s>(a: &'s str, b: &'s str) -> &'s str {
    if a.is_empty() { b } else { a }
}

pub fn csv(reader: impl Read, file: &str, emit: Emit) -> Result<FileOutcome, ParseError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let names: Vec<String> = csv
        .headers()
        .map_err(|e| ParseError::csv(file, &e))?
        .iter()
        .map(str::to_owned)
        .collect();
    let column = |name: &str| names.iter().position(|n| n == name);
    let [
        group,
        title,
        control,
        control_title,
        resource,
        state,
        severity,
        region,
    ] = [
        "group_id",
        "title",
        "control_id",
        "control_title",
        "resource",
        "status",
        "severity",
        "region",
    ]
    .map(column);
    let account = ACCOUNT_KEYS.iter().find_map(|k| column(k));
    let (Some(control), Some(state)) = (control, state) else {
        return Err(ParseError::at_line(
            file,
            1,
            "no control_id or status column",
        ));
    };
    // The first parent each control was seen under; rows under another are repeats.
    let mut parent_of: HashMap<String, String> = HashMap::new();
    let mut record = csv::StringRecord::new();
    let mut count = 0;
    while csv
        .read_record(&mut record)
        .map_err(|e| ParseError::csv(file, &e))?
    {
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        let parent = field(group);
        let first = parent_of
            .entry(field(Some(control)).to_owned())
            .or_insert_with(|| parent.to_owned());
        if first != parent {
            continue;
        }
        let line = record.position().map_or(0, csv::Position::line);
        emit(Record::Finding(Finding {
            tool: Tool::Steampipe,
            check_id: field(Some(control)).to_owned(),
            title: field(control_title).to_owned(),
            severity: Severity::from_tool(field(severity)),
            status: status(field(Some(state))),
            resource_id: field(resource).to_owned(),
            resource_type: String::new(),
            region: field(region).to_owned(),
            account: field(account).to_owned(),
            remediation: String::new(),
            // The CSV keeps only the direct parent's title.
            compliance: benchmark_path(&[field(title)]),
            source: Source {
                file: file.to_owned(),
                position: format!("line {line}"),
            },
        }));
        count += 1;
    }
    Ok(FileOutcome {
        findings: count,
        note: None,
    })
}
