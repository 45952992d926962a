//! Cloud Custodian policies that only read: pull mode, no actions, nothing fetched,
//! no variable expansion that reaches into objects.

use serde_json::Value;

use super::{
    CheckedInput, InputError, display, invalid, join, not_accepted, object, required, shown_key,
    text,
};

pub(super) const RULE: &str = "a policy here only reads: name, resource (aws.*), description, comments, tags, metadata, filters, and mode pull";
const FILTER_RULE: &str =
    "filters only compare what the scan read: no value_from or other *_from list, no url";
/// The most policies one Custodian input may hold, and filters across them.
pub const MAX_POLICIES: usize = 100;
pub const MAX_FILTERS: usize = 2000;

const POLICY_KEYS: &[&str] = &[
    "name",
    "resource",
    "description",
    "comment",
    "comments",
    "tags",
    "metadata",
    "filters",
    "mode",
];

pub(super) fn check(document: &Value) -> Result<CheckedInput, InputError> {
    let top = object(document, "", &["policies"], RULE)?;
    no_format_reach(document, "")?;
    let policies = match top.get("policies") {
        Some(Value::Array(policies)) if !policies.is_empty() => policies,
        _ => return Err(invalid("policies", "must be a list of at least one policy")),
    };
    if policies.len() > MAX_POLICIES {
        return Err(invalid("policies", "must hold at most 100 policies"));
    }
    let mut filters = 0;
    for (i, policy) in policies.iter().enumerate() {
        let at = format!("policies[{i}]");
        let map = object(policy, &at, POLICY_KEYS, RULE)?;
        required(
            map,
            &at,
            "name",
            is_policy_name,
            "must be 1 to 128 of a-z, A-Z, 0-9, '-' and '_', starting with a letter",
        )?;
        required(
            map,
            &at,
            "resource",
            is_aws_resource,
            "must be an AWS resource type (aws.s3, aws.ec2, …)",
        )?;
        if let Some(mode) = map.get("mode") {
            let mode_at = join(&at, "mode");
            let fields = object(mode, &mode_at, &["type"], RULE)?;
            if fields.get("type").and_then(Value::as_str) != Some("pull") {
                return Err(not_accepted(
                    join(&mode_at, "type"),
                    "only mode pull runs here: the other modes deploy functions or rules into the account",
                ));
            }
        }
        for key in ["description", "comment", "comments"] {
            text(map, &at, key, |_| true, "must be text")?;
        }
        if let Some(tags) = map.get("tags")
            && !tags
                .as_array()
                .is_some_and(|tags| tags.iter().all(Value::is_string))
        {
            return Err(invalid(join(&at, "tags"), "must be a list of text"));
        }
        if let Some(metadata) = map.get("metadata") {
            plain_data(metadata, &join(&at, "metadata"))?;
        }
        match map.get("filters") {
            None => {}
            Some(Value::Array(list)) => {
                for (j, filter) in list.iter().enumerate() {
                    filters += check_filter(filter, &format!("{at}.filters[{j}]"))?;
                }
            }
            Some(_) => return Err(invalid(join(&at, "filters"), "must be a list")),
        }
        if filters > MAX_FILTERS {
            return Err(invalid("policies", "must hold at most 2000 filters in all"));
        }
    }
    Ok(CheckedInput {
        content: document.to_string(),
        secrets: Vec::new(),
    })
}

const FORMAT_RULE: &str = "a {…} field may only name a value (account_id, region, now:%Y-%m-%d, a regex count): Custodian fills fields with Python's str.format, where '.', '[' or '!' reach into objects and the environment";

/// Custodian expands `{…}` fields in every string of a policy with Python's
/// `str.format` against objects of its own, so `{now.__init__.__globals__[os]…}`
/// reads the environment, the run's credentials among it. A field may name a variable
/// or be a regular expression's count (`{3}`, `{1,3}`), nothing that reaches further.
fn reaches(text: &str) -> bool {
    text.split('{').skip(1).any(|field| {
        field
            .split('}')
            .next()
            .is_some_and(|f| f.contains(['.', '[', ']', '!']))
    })
}

fn no_format_reach(value: &Value, at: &str) -> Result<(), InputError> {
    let rule = |text: &str| reaches(text).then_some(FORMAT_RULE);
    refuse_anywhere(value, at, &rule, &rule)
}

/// Whether a key names something to fetch.
fn fetches(key: &str) -> bool {
    key == "url" || key.ends_with("_from")
}

/// Data that names nothing to fetch: no `url` and no `*_from` key at any depth.
fn plain_data(value: &Value, at: &str) -> Result<(), InputError> {
    refuse_anywhere(
        value,
        at,
        &|key| fetches(key).then_some(FILTER_RULE),
        &|_| None,
    )
}

/// Walks `value`, refusing the first key or text the rules name a rule for.
fn refuse_anywhere(
    value: &Value,
    at: &str,
    key_rule: &dyn Fn(&str) -> Option<&'static str>,
    text_rule: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<(), InputError> {
    match value {
        Value::String(text) => {
            text_rule(text).map_or(Ok(()), |rule| Err(not_accepted(display(at), rule)))
        }
        Value::Object(map) => map.iter().try_for_each(|(key, inner)| {
            let inner_at = join(at, &shown_key(key));
            match key_rule(key) {
                Some(rule) => Err(not_accepted(inner_at, rule)),
                None => refuse_anywhere(inner, &inner_at, key_rule, text_rule),
            }
        }),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            refuse_anywhere(item, &format!("{at}[{i}]"), key_rule, text_rule)
        }),
        _ => Ok(()),
    }
}

fn is_policy_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

fn is_aws_resource(resource: &str) -> bool {
    resource.strip_prefix("aws.").is_some_and(|kind| {
        (1..=64).contains(&kind.len())
            && kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
    })
}

/// A filter and everything inside it: how many filters it counts as.
fn check_filter(filter: &Value, at: &str) -> Result<usize, InputError> {
    match filter {
        Value::Object(map) => {
            let mut count = 1;
            for (key, value) in map {
                let inner = join(at, &shown_key(key));
                if fetches(key) || key == "actions" {
                    return Err(not_accepted(inner, FILTER_RULE));
                }
                count += match value {
                    Value::Array(items) if matches!(key.as_str(), "or" | "and" | "not") => items
                        .iter()
                        .enumerate()
                        .map(|(k, item)| check_filter(item, &format!("{inner}[{k}]")))
                        .sum::<Result<usize, _>>()?,
                    other => {
                        plain_data(other, &inner)?;
                        0
                    }
                };
            }
            Ok(count)
        }
        Value::String(_) => Ok(1),
        _ => Err(invalid(at, "must be a mapping")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::inputs::{ToolInput, refusal};

    const READ_ONLY: &str = "policies:\n- name: s3-unencrypted\n  resource: aws.s3\n  mode: {type: pull}\n  filters:\n  - type: bucket-encryption\n    state: false\n  - or:\n    - \"tag:owner\": absent\n    - {type: value, key: Name, op: regex, value: '^prod-'}\n";

    #[test]
    fn a_read_only_policy_passes_as_written() {
        let checked = ToolInput::CustodianPolicy.check(READ_ONLY).unwrap();
        let rebuilt: Value = serde_json::from_str(&checked.content).unwrap();
        assert_eq!(
            rebuilt["policies"][0]["filters"][1]["or"][1]["value"],
            "^prod-"
        );
    }

    #[test]
    fn a_policy_that_acts_deploys_or_fetches_is_refused_naming_where() {
        for (policy, expected) in [
            (
                "policies:\n- name: p\n  resource: aws.ec2\n  actions: [terminate]\n",
                "policies[0].actions is not accepted",
            ),
            (
                "policies:\n- name: p\n  resource: aws.ec2\n  mode: {type: periodic, schedule: 'rate(1 day)'}\n",
                "policies[0].mode.schedule is not accepted",
            ),
            (
                "policies:\n- name: p\n  resource: aws.ec2\n  mode: {type: cloudtrail}\n",
                "policies[0].mode.type is not accepted",
            ),
            (
                "policies:\n- name: p\n  resource: aws.s3\n  filters:\n  - type: value\n    key: Name\n    op: in\n    value_from: {url: 'file:///proc/self/environ'}\n",
                "policies[0].filters[0].value_from is not accepted",
            ),
            (
                "policies:\n- name: p\n  resource: aws.s3\n  filters:\n  - not:\n    - type: cross-account\n      whitelist_from: {url: 'https://x/y'}\n",
                "policies[0].filters[0].not[0].whitelist_from is not accepted",
            ),
            (
                "policies:\n- name: p\n  resource: gcp.instance\n",
                "policies[0].resource must be an AWS resource type",
            ),
            (
                "vars:\n  x: 1\npolicies:\n- name: p\n  resource: aws.s3\n",
                "vars is not accepted",
            ),
            (
                "policies:\n- name: p\n  resource: aws.s3\n  source: inventory\n",
                "policies[0].source is not accepted",
            ),
        ] {
            let why = refusal(ToolInput::CustodianPolicy, policy);
            assert!(why.starts_with(expected), "{policy}: {why}");
        }
        // Custodian's variable expansion is Python's str.format: a field that reaches
        // into an object reads the environment (the review's way to the credentials).
        for (text, at) in [
            (
                "policies:\n- name: p\n  resource: aws.s3\n  description: '{now.__init__.__globals__[os].environ[AWS_SECRET_ACCESS_KEY]}'\n",
                "policies[0].description",
            ),
            (
                "policies:\n- name: p\n  resource: aws.s3\n  filters:\n  - {type: value, key: Name, value: '{now:{x.y}}'}\n",
                "policies[0].filters[0].value",
            ),
            (
                "policies:\n- name: p\n  resource: aws.s3\n  tags: ['{account_id!r}']\n",
                "policies[0].tags[0]",
            ),
        ] {
            let why = refusal(ToolInput::CustodianPolicy, text);
            assert!(why.starts_with(&format!("{at} is not accepted")), "{why}");
        }
        for fine in [
            "'^prod-[a-z]{3}$'",
            "'{account_id}-{region}'",
            "'x{1,3}'",
            "'{now:%Y-%m-%d}'",
        ] {
            let text = format!(
                "policies:\n- name: p\n  resource: aws.s3\n  filters:\n  - {{type: value, key: Name, op: regex, value: {fine}}}\n"
            );
            assert!(ToolInput::CustodianPolicy.check(&text).is_ok(), "{fine}");
        }
        let many: String = std::iter::once("policies:\n".to_owned())
            .chain((0..=MAX_POLICIES).map(|i| format!("- {{name: p{i}, resource: aws.s3}}\n")))
            .collect();
        assert!(refusal(ToolInput::CustodianPolicy, &many).contains("at most 100 policies"));
    }
}
