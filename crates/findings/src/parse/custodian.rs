//! Cloud Custodian output folders, one per policy: every entry of `resources.json` is
//! a resource the policy matched (`fail`), `[]` means compliant (`pass`), and a folder
//! without `resources.json` is a policy that errored. Region, account and severity come
//! from `metadata.json` when it is there.

use std::io::BufReader;
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use super::json::for_each_element;
use super::{Emit, Record, SourceFile, read_source};
use crate::error::ParseError;
use crate::finding::{Finding, Severity, Source, Status, Tool};

pub const RESOURCES: &str = "resources.json";
pub const METADATA: &str = "metadata.json";
pub const RUN_LOG: &str = "custodian-run.log";

/// Resource id keys by how common they are across resource types.
const ID_KEYS: [&str; 12] = [
    "InstanceId",
    "GroupId",
    "VolumeId",
    "DBInstanceIdentifier",
    "FunctionName",
    "BucketName",
    "UserName",
    "RoleName",
    "KeyId",
    "Arn",
    "ARN",
    "Name",
];

#[derive(Deserialize, Default)]
#[serde(default)]
struct Metadata {
    policy: Policy,
    config: Config,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Policy {
    name: String,
    resource: String,
    description: String,
    metadata: Map<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    region: String,
    account_id: Option<String>,
}

/// A policy's output folder: it holds Custodian's run log or a metadata file that
/// names a policy. Decided by content, since any folder may hold a `resources.json`.
pub fn is_policy_dir(dir: &Path) -> bool {
    if dir.join(RUN_LOG).is_file() {
        return true;
    }
    // Read as a stream, the rest of the file skipped unread: it is the run's output.
    #[derive(Deserialize)]
    struct Named {
        policy: Option<AnObject>,
    }
    std::fs::File::open(dir.join(METADATA))
        .ok()
        .and_then(|file| serde_json::from_reader::<_, Named>(BufReader::new(file)).ok())
        .is_some_and(|named| named.policy.is_some())
}

/// Any JSON object, skipped unread.
struct AnObject;

impl<'de> Deserialize<'de> for AnObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Skip;
        impl<'de> serde::de::Visitor<'de> for Skip {
            type Value = AnObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AnObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnObject)
            }
        }
        deserializer.deserialize_map(Skip)
    }
}

/// Parses one policy folder; `label` names it in findings and sources.
pub fn policy_dir(
    dir: &Path,
    label: &str,
    run: Option<&str>,
    emit: Emit,
) -> Result<Vec<SourceFile>, ParseError> {
    let mut sources = Vec::new();
    let metadata_label = format!("{label}/{METADATA}");
    let metadata = if dir.join(METADATA).is_file() {
        let (metadata, source) = read_source(&dir.join(METADATA), &metadata_label, run, |r| {
            serde_json::from_reader::<_, Metadata>(BufReader::new(r))
                .map_err(|e| ParseError::json(&metadata_label, &e))
        })?;
        sources.push(source.with(Tool::Custodian, "custodian metadata", 0, None));
        metadata
    } else {
        Metadata::default()
    };
    let policy = if metadata.policy.name.is_empty() {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        metadata.policy.name.clone()
    };
    let severity = metadata
        .policy
        .metadata
        .get("severity")
        .and_then(Value::as_str)
        .map_or(Severity::Unknown, Severity::from_tool);
    let finding = |status, resource_id: String, position: String, file: &str| Finding {
        tool: Tool::Custodian,
        check_id: policy.clone(),
        title: if metadata.policy.description.is_empty() {
            policy.clone()
        } else {
            metadata.policy.description.clone()
        },
        severity,
        status,
        resource_id,
        resource_type: metadata.policy.resource.clone(),
        region: metadata.config.region.clone(),
        account: metadata.config.account_id.clone().unwrap_or_default(),
        remediation: String::new(),
        compliance: Vec::new(),
        source: Source {
            file: file.to_owned(),
            position,
        },
    };
    let resources = dir.join(RESOURCES);
    if !resources.is_file() {
        emit(Record::Finding(finding(
            Status::Error,
            String::new(),
            format!("no {RESOURCES}: the policy errored"),
            label,
        )));
        return Ok(sources);
    }
    let resources_label = format!("{label}/{RESOURCES}");
    let ((count, end), source) = read_source(&resources, &resources_label, run, |r| {
        for_each_element(
            BufReader::new(r),
            &resources_label,
            |i, resource: Map<String, Value>| {
                let mut found = finding(
                    Status::Fail,
                    resource_id(&resource),
                    format!("[{i}]"),
                    &resources_label,
                );
                if let Some(region) = located(&resource) {
                    found.region = region;
                }
                emit(Record::Finding(found));
            },
        )
    })?;
    if count == 0 {
        emit(Record::Finding(finding(
            Status::Pass,
            String::new(),
            "[]".to_owned(),
            &resources_label,
        )));
    }
    sources.push(source.with(
        Tool::Custodian,
        "custodian resources",
        count.max(1),
        end.note(),
    ));
    Ok(sources)
}

/// Where an S3 bucket is (`Location.LocationConstraint`): Custodian lists every bucket
/// from whichever region its policy ran in, and the bucket's own region is what makes
/// it one finding across runs. `null` is us-east-1; `EU`, the old name of eu-west-1.
fn located(resource: &Map<String, Value>) -> Option<String> {
    match resource.get("Location")?.get("LocationConstraint")? {
        Value::Null => Some("us-east-1".to_owned()),
        Value::String(region) if region == "EU" => Some("eu-west-1".to_owned()),
        Value::String(region) if !region.is_empty() => Some(region.clone()),
        Value::String(_) => Some("us-east-1".to_owned()),
        _ => None,
    }
}

fn resource_id(resource: &Map<String, Value>) -> String {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    ID_KEYS
        .iter()
        .find_map(|k| resource.get(*k).and_then(text))
        .or_else(|| {
            resource
                .iter()
                .find(|(k, _)| k.ends_with("Id") || k.ends_with("Arn"))
                .and_then(|(_, v)| text(v))
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_in_its_own_region_whichever_region_listed_it() {
        let bucket = |location: Value| {
            let mut resource = Map::new();
            resource.insert("Name".to_owned(), Value::from("b"));
            resource.insert(
                "Location".to_owned(),
                serde_json::json!({"LocationConstraint": location}),
            );
            located(&resource)
        };
        assert_eq!(bucket(Value::Null).as_deref(), Some("us-east-1"));
        assert_eq!(bucket(Value::from("EU")).as_deref(), Some("eu-west-1"));
        assert_eq!(
            bucket(Value::from("ap-northeast-2")).as_deref(),
            Some("ap-northeast-2")
        );
        assert_eq!(
            located(&Map::new()),
            None,
            "not a bucket: the policy's region"
        );
    }
}
