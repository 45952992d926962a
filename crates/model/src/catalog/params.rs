//! Parameter schemas of a module version, their JSON Schema (validated with the
//! `jsonschema` crate and published to clients), and validated run parameters.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value, json};

use super::inputs::CheckedInput;
use super::template::is_param_name;
use super::{FieldError, Origin, Problems};

/// Longest string a parameter may hold when the module does not say.
pub const DEFAULT_MAX_LENGTH: u64 = 4096;
/// Printable text only: no C0 controls and no DEL.
const NO_CONTROLS: &str = "^[^\\x00-\\x1f\\x7f]*$";
/// Like `NO_CONTROLS`, but tab and newline are allowed.
const NO_CONTROLS_MULTILINE: &str = "^[^\\x00-\\x08\\x0b-\\x1f\\x7f]*$";
/// What a secret may hold: the text of a PEM key, a kubeconfig or a credentials file,
/// so tab, newline and carriage return too.
const SECRET_TEXT: &str = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$";

/// A parameter as a module definition writes it; checked when its definition is parsed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiline: Option<bool>,
    /// Whether a value may start with `-`, which a script's own argument parser would
    /// read as an option when the value is an argument of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_leading_dash: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_as: Option<SecretAs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretAs {
    /// The value in an environment variable.
    Env,
    /// The value in a file on the sandbox's tmpfs; the template renders its path.
    File,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    String {
        min_length: Option<u64>,
        max_length: u64,
        pattern: Option<String>,
        multiline: bool,
        allow_leading_dash: bool,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean,
    Enum {
        values: Vec<String>,
    },
    Secret {
        secret_as: SecretAs,
        max_length: u64,
    },
}

/// A checked parameter declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    pub required: bool,
    pub default: Option<Value>,
    pub description: Option<String>,
    raw: RawParam,
}

impl ParamSpec {
    /// Checks one declaration; problems are named `<at>.<field>` (`params[2].max`).
    pub(crate) fn parse(
        raw: &RawParam,
        at: &str,
        origin: Origin,
        problems: &mut Problems,
    ) -> Option<Self> {
        let before = problems.len();
        if !is_param_name(&raw.name) {
            problems.add(
                format!("{at}.name"),
                "must be 1 to 64 of a-z, 0-9, '_', starting with a letter",
            );
        }
        let kind = parse_kind(raw, at, problems)?;
        if matches!(kind, ParamKind::Secret { .. }) && raw.default.is_some() {
            problems.add(format!("{at}.default"), "a secret cannot have a default");
        }
        if let Some(description) = &raw.description
            && description.chars().count() > 1000
        {
            problems.add(
                format!("{at}.description"),
                "must be at most 1000 characters",
            );
        }
        let spec = Self {
            name: raw.name.clone(),
            kind,
            required: raw.required,
            default: raw.default.clone(),
            description: raw.description.clone(),
            raw: raw.clone(),
        };
        if origin == Origin::Stored {
            return (problems.len() == before).then_some(spec);
        }
        if let Some(pattern) = spec.pattern()
            && jsonschema::validator_for(&json!({"type": "string", "pattern": pattern})).is_err()
        {
            problems.add(format!("{at}.pattern"), "is not a valid regular expression");
            return None;
        }
        if let Some(default) = &spec.default
            && let Err(message) = spec.check_value(default)
        {
            problems.add(format!("{at}.default"), message);
        }
        (problems.len() == before).then_some(spec)
    }

    pub fn is_secret(&self) -> bool {
        matches!(self.kind, ParamKind::Secret { .. })
    }

    /// The declaration as the client wrote it, for answers.
    pub fn raw(&self) -> &RawParam {
        &self.raw
    }

    fn pattern(&self) -> Option<&str> {
        match &self.kind {
            ParamKind::String { pattern, .. } => pattern.as_deref(),
            _ => None,
        }
    }

    /// This parameter's JSON Schema.
    pub fn json_schema(&self) -> Value {
        let mut schema = match &self.kind {
            ParamKind::String {
                min_length,
                max_length,
                pattern,
                multiline,
                ..
            } => {
                let controls = if *multiline {
                    NO_CONTROLS_MULTILINE
                } else {
                    NO_CONTROLS
                };
                let mut patterns = vec![json!({"pattern": controls})];
                if let Some(pattern) = pattern {
                    patterns.push(json!({"pattern": pattern}));
                }
                let mut s = json!({"type": "string", "maxLength": max_length, "allOf": patterns});
                if let Some(min) = min_length {
                    s["minLength"] = json!(min);
                }
                s
            }
            ParamKind::Integer { min, max } => bounds(json!({"type": "integer"}), *min, *max),
            ParamKind::Number { min, max } => bounds(json!({"type": "number"}), *min, *max),
            ParamKind::Boolean => json!({"type": "boolean"}),
            ParamKind::Enum { values } => json!({"type": "string", "enum": values}),
            ParamKind::Secret { max_length, .. } => json!({
                "type": "string", "minLength": 1, "maxLength": max_length,
                "pattern": SECRET_TEXT, "writeOnly": true, "format": "password"
            }),
        };
        if let Some(description) = &self.description {
            schema["description"] = json!(description);
        }
        if let Some(default) = &self.default {
            schema["default"] = default.clone();
        }
        schema
    }

    /// Checks one value against this parameter alone (used for defaults).
    fn check_value(&self, value: &Value) -> Result<(), String> {
        let schema = self.json_schema();
        let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
        if let Some(error) = validator.iter_errors(value).next() {
            return Err(describe(error.kind(), self.is_secret()));
        }
        extra_check(&self.kind, value)
    }
}

fn bounds<T: Serialize>(mut schema: Value, min: Option<T>, max: Option<T>) -> Value {
    if let Some(min) = min {
        schema["minimum"] = json!(min);
    }
    if let Some(max) = max {
        schema["maximum"] = json!(max);
    }
    schema
}

fn parse_kind(raw: &RawParam, at: &str, problems: &mut Problems) -> Option<ParamKind> {
    let field = |name: &str| format!("{at}.{name}");
    let mut not_for = |name: &str, present: bool, kind: &str| {
        if present {
            problems.add(field(name), format!("does not apply to type {kind}"));
        }
    };
    let kind = raw.kind.as_str();
    let string_only = ["min_length", "pattern", "multiline", "allow_leading_dash"];
    let present = |name: &str| match name {
        "min_length" => raw.min_length.is_some(),
        "max_length" => raw.max_length.is_some(),
        "pattern" => raw.pattern.is_some(),
        "multiline" => raw.multiline.is_some(),
        "allow_leading_dash" => raw.allow_leading_dash.is_some(),
        "min" => raw.min.is_some(),
        "max" => raw.max.is_some(),
        "values" => raw.values.is_some(),
        "secret_as" => raw.secret_as.is_some(),
        _ => false,
    };
    let allowed: &[&str] = match kind {
        "string" => &[
            "min_length",
            "max_length",
            "pattern",
            "multiline",
            "allow_leading_dash",
        ],
        "integer" | "number" => &["min", "max"],
        "boolean" => &[],
        "enum" => &["values"],
        "secret" => &["max_length", "secret_as"],
        _ => {
            problems.add(
                field("type"),
                "must be one of string, integer, number, boolean, enum, secret",
            );
            return None;
        }
    };
    for name in string_only
        .iter()
        .chain(&["max_length", "min", "max", "values", "secret_as"])
    {
        not_for(name, present(name) && !allowed.contains(name), kind);
    }
    let mut length = |name: &str, value: &Option<Number>| -> Option<Option<u64>> {
        match value {
            None => Some(None),
            Some(n) => match n.as_u64().filter(|v| (1..=1_048_576).contains(v)) {
                Some(v) => Some(Some(v)),
                None => {
                    problems.add(field(name), "must be an integer from 1 to 1048576");
                    None
                }
            },
        }
    };
    Some(match kind {
        "string" => {
            let min_length = length("min_length", &raw.min_length)?;
            let max_length = length("max_length", &raw.max_length)?.unwrap_or(DEFAULT_MAX_LENGTH);
            if min_length.is_some_and(|min| min > max_length) {
                problems.add(field("min_length"), "must not exceed max_length");
            }
            ParamKind::String {
                min_length,
                max_length,
                pattern: raw.pattern.clone(),
                multiline: raw.multiline.unwrap_or(false),
                allow_leading_dash: raw.allow_leading_dash.unwrap_or(false),
            }
        }
        "integer" => {
            let mut bound = |name: &str, n: &Option<Number>| match n {
                None => Some(None),
                Some(n) => match n.as_i64() {
                    Some(v) => Some(Some(v)),
                    None => {
                        problems.add(field(name), "must be a 64-bit integer");
                        None
                    }
                },
            };
            let (min, max) = (bound("min", &raw.min)?, bound("max", &raw.max)?);
            if let (Some(min), Some(max)) = (min, max)
                && min > max
            {
                problems.add(field("min"), "must not exceed max");
            }
            ParamKind::Integer { min, max }
        }
        "number" => {
            let (min, max) = (
                raw.min.as_ref().and_then(Number::as_f64),
                raw.max.as_ref().and_then(Number::as_f64),
            );
            if let (Some(min), Some(max)) = (min, max)
                && min > max
            {
                problems.add(field("min"), "must not exceed max");
            }
            ParamKind::Number { min, max }
        }
        "boolean" => ParamKind::Boolean,
        "enum" => {
            let values = raw.values.clone().unwrap_or_default();
            let mut seen = std::collections::BTreeSet::new();
            if values.is_empty() || values.len() > 256 {
                problems.add(field("values"), "must list 1 to 256 values");
            } else if let Some(bad) = values.iter().find(|v| {
                v.is_empty() || v.len() > 256 || v.chars().any(char::is_control) || !seen.insert(*v)
            }) {
                problems.add(
                    field("values"),
                    format!("{bad:?} is empty, too long, has control characters or is repeated"),
                );
            }
            ParamKind::Enum { values }
        }
        _ => {
            let max_length = length("max_length", &raw.max_length)?.unwrap_or(DEFAULT_MAX_LENGTH);
            match raw.secret_as {
                Some(secret_as) => ParamKind::Secret {
                    secret_as,
                    max_length,
                },
                None => {
                    problems.add(field("secret_as"), "is required for a secret: env or file");
                    return None;
                }
            }
        }
    })
}

/// What JSON Schema cannot say: integers are written as integers (not `1.0`) and fit
/// in 64 bits.
fn extra_check(kind: &ParamKind, value: &Value) -> Result<(), String> {
    match (kind, value) {
        (ParamKind::Integer { .. }, Value::Number(n)) if n.as_i64().is_none() => {
            Err("must be a whole number that fits in 64 bits, written without a fraction".into())
        }
        _ => Ok(()),
    }
}

/// Our own wording of a schema failure. It never repeats the offending value, which
/// may be a secret.
fn describe(kind: &jsonschema::error::ValidationErrorKind, secret: bool) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    match kind {
        K::Type { kind } => format!("must be of type {}", type_name(kind)),
        K::Minimum { limit } => format!("must be at least {limit}"),
        K::Maximum { limit } => format!("must be at most {limit}"),
        K::MinLength { limit } => format!("must be at least {limit} characters"),
        K::MaxLength { limit } => format!("must be at most {limit} characters"),
        K::Enum { options } => format!("must be one of {options}"),
        K::Pattern { pattern }
            if pattern == NO_CONTROLS
                || pattern == NO_CONTROLS_MULTILINE
                || pattern == SECRET_TEXT =>
        {
            "must not contain control characters".to_owned()
        }
        K::Pattern { .. } if secret => "has characters that are not allowed".to_owned(),
        K::Pattern { pattern } => format!("must match the pattern {pattern}"),
        _ => "is not valid".to_owned(),
    }
}

fn type_name(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(ts) => ts
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// A run's parameters after validation, defaults filled in. Secrets are kept apart so
/// nothing that stores or shows parameters can reach their values by accident. Only
/// [`validate_params`] builds one.
#[derive(Clone, PartialEq)]
pub struct ValidParams {
    pub(crate) values: BTreeMap<String, Value>,
    pub(crate) secrets: BTreeMap<String, String>,
    /// Tool inputs as the sandbox receives them: rebuilt from their checked fields.
    pub(crate) inputs: BTreeMap<String, CheckedInput>,
}

impl fmt::Debug for ValidParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidParams")
            .field("values", &self.values)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("inputs", &self.inputs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ValidParams {
    /// The secret parameters' values, by name: to seal at submission, to redact from
    /// the log when the run starts.
    pub fn secrets(&self) -> &BTreeMap<String, String> {
        &self.secrets
    }

    /// Every value the run's log and artifacts must not show: the secret parameters,
    /// and the credentials inside tool inputs (a kubeconfig's token, a key file's
    /// private key), which a tool may print on their own.
    pub fn redacted_values(&self) -> impl Iterator<Item = &str> {
        self.secrets.values().map(String::as_str).chain(
            self.inputs
                .values()
                .flat_map(|input| input.secrets.iter().map(String::as_str)),
        )
    }

    /// The parameters as stored and shown: secrets as `***`.
    pub fn masked(&self) -> Value {
        let mut shown: Map<String, Value> = self.values.clone().into_iter().collect();
        for name in self.secrets.keys() {
            shown.insert(name.clone(), json!("***"));
        }
        Value::Object(shown)
    }

    /// An integer parameter's value; `None` without one (or for another kind).
    pub fn integer(&self, name: &str) -> Option<i64> {
        self.values.get(name).and_then(Value::as_i64)
    }

    /// The text a template placeholder becomes; `None` for a parameter without value.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

/// The JSON Schema of a whole run's `params` object.
pub fn params_schema(specs: &[ParamSpec]) -> Value {
    let properties: Map<String, Value> = specs
        .iter()
        .map(|p| (p.name.clone(), p.json_schema()))
        .collect();
    let required: Vec<&str> = specs
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name.as_str())
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

/// Rebuilds a stored run's parameters: the parameters as shown (secrets masked) with
/// the opened secrets in place of the masks, checked again. A secret comes only from
/// `secrets`, never from what is shown.
pub fn restore_params(
    specs: &[ParamSpec],
    shown: &Value,
    secrets: BTreeMap<String, String>,
) -> Result<ValidParams, Vec<FieldError>> {
    let mut params = shown.as_object().cloned().unwrap_or_default();
    for spec in specs.iter().filter(|spec| spec.is_secret()) {
        params.remove(&spec.name);
    }
    params.extend(secrets.into_iter().map(|(k, v)| (k, Value::String(v))));
    validate_params(specs, &Value::Object(params))
}

/// Validates a run's parameters: every failing field at once, each named
/// `params.<name>`.
pub fn validate_params(
    specs: &[ParamSpec],
    params: &Value,
) -> Result<ValidParams, Vec<FieldError>> {
    let schema = params_schema(specs);
    let validator = jsonschema::validator_for(&schema)
        .map_err(|_| vec![FieldError::new("params", "the module's schema is invalid")])?;
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let secret = |name: &str| specs.iter().any(|p| p.name == name && p.is_secret());
    for error in validator.iter_errors(params) {
        use jsonschema::error::ValidationErrorKind as K;
        let at_root = error.instance_path().as_str().is_empty();
        match error.kind() {
            K::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    failures
                        .entry(name.clone())
                        .or_insert_with(|| "is not a parameter of this module".into());
                }
            }
            K::Required { property } => {
                let name = property.as_str().unwrap_or_default().to_owned();
                failures.entry(name).or_insert_with(|| "is required".into());
            }
            K::Type { .. } if at_root => {
                failures
                    .entry(String::new())
                    .or_insert_with(|| "must be an object".into());
            }
            kind => {
                let path = error.instance_path().as_str();
                let name = path
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let message = describe(kind, secret(&name));
                failures.entry(name).or_insert(message);
            }
        }
    }
    let object = params.as_object();
    for spec in specs {
        if let Some(value) = object.and_then(|o| o.get(&spec.name))
            && let Err(message) = extra_check(&spec.kind, value)
        {
            failures.entry(spec.name.clone()).or_insert(message);
        }
    }
    if !failures.is_empty() {
        return Err(failures
            .into_iter()
            .map(|(name, message)| {
                let field = if name.is_empty() {
                    "params".to_owned()
                } else {
                    format!("params.{name}")
                };
                FieldError::new(field, message)
            })
            .collect());
    }
    let mut valid = ValidParams {
        values: BTreeMap::new(),
        secrets: BTreeMap::new(),
        inputs: BTreeMap::new(),
    };
    for spec in specs {
        let value = object
            .and_then(|o| o.get(&spec.name))
            .or(spec.default.as_ref());
        match (value, spec.is_secret()) {
            (Some(Value::String(s)), true) => {
                valid.secrets.insert(spec.name.clone(), s.clone());
            }
            (Some(v), false) => {
                valid.values.insert(spec.name.clone(), v.clone());
            }
            _ => {}
        }
    }
    Ok(valid)
}
