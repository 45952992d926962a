//! Powerpipe benchmark exports and `steampipe check --export`: a recursive tree of
//! groups holding controls holding result rows, as JSON or flattened to CSV. A control
//! reused under several parents is counted once, under the first in the file.
//!
//! The JSON is read as a stream, one control (with its rows) held at a time. Powerpipe
//! writes a group's `group_id` and `title` before its `groups` and `controls`, which is
//! what the benchmark path of a control is made of.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{
    DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};

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
    /// The titles of the named groups above the one being read.
    parents: Vec<String>,
    emit: Emit<'e>,
}

pub fn json(reader: impl Read, file: &str, emit: Emit) -> Result<FileOutcome, ParseError> {
    let mut walk = Walk {
        file,
        seen: HashSet::new(),
        count: 0,
        parents: Vec::new(),
        emit,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    Node::Group
        .seed(&mut walk)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end())
        .map_err(|e| ParseError::json(file, &e))?;
    Ok(FileOutcome {
        findings: walk.count,
        note: None,
    })
}

/// What a value in the tree is.
#[derive(Clone, Copy)]
enum Node {
    Group,
    /// A group's `groups`: an array of groups (or null).
    Groups,
    /// A group's `controls`: an array of controls (or null).
    Controls,
}

impl Node {
    fn seed<'w, 'a, 'e>(self, walk: &'w mut Walk<'a, 'e>) -> Seed<'w, 'a, 'e> {
        Seed { node: self, walk }
    }
}

struct Seed<'w, 'a, 'e> {
    node: Node,
    walk: &'w mut Walk<'a, 'e>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.node {
            Node::Group => "a Powerpipe group object",
            Node::Groups => "an array of groups",
            Node::Controls => "an array of controls",
        })
    }

    fn visit_unit<E: Error>(self) -> Result<(), E> {
        match self.node {
            Node::Groups | Node::Controls => Ok(()),
            Node::Group => Err(E::invalid_type(Unexpected::Unit, &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if matches!(self.node, Node::Group) {
            return Err(Error::invalid_type(Unexpected::Seq, &self));
        }
        let walk = self.walk;
        match self.node {
            Node::Groups => while seq.next_element_seed(Node::Group.seed(walk))?.is_some() {},
            Node::Controls => {
                while let Some(control) = seq.next_element::<Control>()? {
                    if walk.seen.insert(control.control_id.clone()) {
                        walk.control(&control);
                    }
                }
            }
            Node::Group => {}
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if !matches!(self.node, Node::Group) {
            return Err(Error::invalid_type(Unexpected::Map, &self));
        }
        let walk = self.walk;
        let (mut id, mut title, mut description) = (String::new(), String::new(), String::new());
        // Whether this group's title is on `walk.parents`: pushed before its children.
        let mut named: Option<bool> = None;
        while let Some(key) = map.next_key::<String>()? {
            let children = match key.as_str() {
                "group_id" => {
                    id = map.next_value()?;
                    continue;
                }
                "title" => {
                    title = map.next_value()?;
                    continue;
                }
                "description" => {
                    description = map.next_value()?;
                    continue;
                }
                "groups" => Node::Groups,
                "controls" => Node::Controls,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if named.is_none() {
                let is_named = id != "root_result_group" && !title.is_empty();
                if is_named {
                    walk.parents.push(title.clone());
                }
                named = Some(is_named);
            }
            map.next_value_seed(children.seed(walk))?;
        }
        if named == Some(true) {
            walk.parents.pop();
        }
        // Since Powerpipe 1.3 a run that failed leaves a group named "error".
        if id == "error" {
            walk.emit(Finding {
                check_id: "error".to_owned(),
                title: first_non_empty(&description, &title).to_owned(),
                status: Status::Error,
                ..walk.blank("error group")
            });
        }
        Ok(())
    }
}

impl Walk<'_, '_> {
    fn control(&mut self, control: &Control) {
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
                compliance: benchmark_path(&self.parents),
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

fn benchmark_path(parents: &[impl AsRef<str>]) -> Vec<String> {
    let named: Vec<&str> = parents
        .iter()
        .map(AsRef::as_ref)
        .filter(|p| !p.is_empty())
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_come_before_the_rest_of_the_file_is_read() {
        let row = r#"{"resource": "arn:x", "status": "alarm"}"#;
        let rows = vec![row; 20_000].join(",");
        let text = format!(
            r#"{{"group_id": "root_result_group", "title": "", "groups": [
                {{"group_id": "b", "title": "Bench", "controls": [
                    {{"control_id": "c1", "results": [{row}]}},
                    {{"control_id": "c2", "results": [{rows}]}}]}}]}}"#
        );
        let (read, findings) =
            super::super::streaming::read_at_first_record(text.as_bytes(), |reader, emit| {
                json(reader, "p.json", emit)
            });
        assert_eq!(findings, 20_001);
        assert!(
            read < text.len() / 10,
            "{read} of {} bytes read",
            text.len()
        );
    }
}
