//! A module version: which script, which parameters, how they become argv and
//! environment, under which limits and policies. Versions are immutable once stored.

mod stored;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::admission::AdmittedRun;
use super::cloud::{Credentials, SandboxImage};
use super::inputs::ToolInput;
use super::params::{
    ParamKind, ParamSpec, RawParam, SecretAs, ValidParams, params_schema, restore_params,
    validate_params,
};
use super::template::Template;
use super::{FieldError, Origin, Problems};
use crate::ScriptId;

pub use stored::StoredDefinitionError;

/// A module create or new-version body as the client sends it. Numbers are kept as
/// JSON numbers so a negative or fractional limit is refused naming its field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub script_id: ScriptId,
    #[serde(default)]
    pub params: Vec<RawParam>,
    #[serde(default)]
    pub args: Vec<RawArg>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default)]
    pub approval: RawApproval,
    /// `runner` (the default) or `scanner`: the image with the cloud scanners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `none` (the default) or `aws_assume_role`: see [`Credentials`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_sec: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<Number>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApproval {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Number>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub timeout_sec: u64,
    pub memory_mb: u64,
    pub cpus: f64,
    pub pids: u64,
    pub open_files: u64,
    pub max_output_bytes: u64,
}

impl Limits {
    /// What a module gets for each limit it does not set.
    pub const DEFAULT: Limits = Limits {
        timeout_sec: 300,
        memory_mb: 256,
        cpus: 1.0,
        pids: 64,
        open_files: 1024,
        max_output_bytes: 1024 * 1024,
    };

    /// The highest values an admin lets any module ask for, unless configured.
    pub const CEILING: Limits = Limits {
        timeout_sec: 24 * 3600,
        memory_mb: 8192,
        cpus: 4.0,
        pids: 4096,
        open_files: 65536,
        max_output_bytes: 256 * 1024 * 1024,
    };
}

impl Limits {
    /// For re-reading stored versions: they were checked against the ceiling of their
    /// day, and a lower ceiling later must not make them unreadable.
    pub const UNBOUNDED: Limits = Limits {
        timeout_sec: u64::MAX,
        memory_mb: u64::MAX,
        cpus: f64::MAX,
        pids: u64::MAX,
        open_files: u64::MAX,
        max_output_bytes: u64::MAX,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkPolicy {
    None,
    Egress,
}

impl NetworkPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Egress => "egress",
        }
    }
}

/// Environment variables a module may not set: they change how the interpreter or the
/// dynamic loader behaves, which would let a parameter run code of its choosing.
const RESERVED_ENV: &[&str] = &[
    "OPENSSL_CONF",
    "GCONV_PATH",
    "PYTHONWARNINGS",
    "PYTHONBREAKPOINT",
    "PATH",
    "HOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
];

/// Variables of the scanner image's tools that name another credential source, a
/// certificate or a proxy: a run's parameter there would be a file or route the checks
/// of tool inputs never see.
const SCANNER_RESERVED_ENV: &[&str] = &[
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CONFIG_DIR",
    "AZURE_AUTHORITY_HOST",
    "CLOUDSDK_CONFIG",
    "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];

/// One element of `args` as written: a template, or a group of templates that stand or
/// fall together, such as an option and its optional value
/// (`["--notify", "{notify_email}"]`). Nothing outside a group is ever left out with
/// a missing value but the element naming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawArg {
    One(String),
    Group(Vec<String>),
}

/// A checked `args` element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    One(Template),
    Group(Vec<Template>),
}

impl Arg {
    fn templates(&self) -> &[Template] {
        match self {
            Self::One(template) => std::slice::from_ref(template),
            Self::Group(templates) => templates,
        }
    }

    fn raw(&self) -> RawArg {
        match self {
            Self::One(template) => RawArg::One(template.as_str().to_owned()),
            Self::Group(templates) => {
                RawArg::Group(templates.iter().map(|t| t.as_str().to_owned()).collect())
            }
        }
    }
}

/// A checked module version: what the store keeps. It is only ever built by
/// [`ModuleDefinition::parse`], from a request or, through `Deserialize`, from what was
/// stored, so no copy of it skipped the checks. It is stored as the request that
/// defines it, with every limit resolved, so a later change of defaults cannot change
/// a stored version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ModuleRequest", try_from = "ModuleRequest")]
pub struct ModuleDefinition {
    description: String,
    script_id: ScriptId,
    params: Vec<ParamSpec>,
    args: Vec<Arg>,
    env: BTreeMap<String, Template>,
    limits: Limits,
    network: NetworkPolicy,
    approvals_required: u32,
    image: SandboxImage,
    credentials: Credentials,
}

/// A module name: 2 to 63 of a-z, 0-9 and '-', starting with a letter or digit.
pub fn check_module_name(name: &str) -> Result<(), &'static str> {
    let ok = (2..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err("must be 2 to 63 of a-z, 0-9 and '-', starting with a letter or digit")
    }
}

impl ModuleDefinition {
    /// Checks a whole definition and lists every problem, not only the first.
    pub fn parse(request: &ModuleRequest, ceiling: &Limits) -> Result<Self, Vec<FieldError>> {
        Self::build(request, ceiling, Origin::Request)
    }

    /// Builds the typed definition; `origin` says how much checking is owed (see
    /// [`Origin`]).
    pub(crate) fn build(
        request: &ModuleRequest,
        ceiling: &Limits,
        origin: Origin,
    ) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::default();
        let description = request.description.clone().unwrap_or_default();
        if description.chars().count() > 2000 {
            problems.add("description", "must be at most 2000 characters");
        }
        let params = parse_params(&request.params, origin, &mut problems);
        // Templates are checked against every declared name, valid declaration or not,
        // so one bad parameter is reported once rather than again by each use of it.
        let declared: BTreeMap<&str, bool> = request
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.kind == "secret"))
            .collect();
        let args = parse_args(&request.args, &declared, &mut problems);
        let env = parse_env(&request.env, &declared, &mut problems);
        let limits = parse_limits(&request.limits, ceiling, &mut problems);
        let network = match request.network.as_deref() {
            None | Some("none") => NetworkPolicy::None,
            Some("egress") => NetworkPolicy::Egress,
            Some(_) => {
                problems.add("network", "must be none or egress");
                NetworkPolicy::None
            }
        };
        let approvals_required = match &request.approval.required {
            None => 0,
            Some(n) => match n.as_u64().filter(|v| *v <= 10) {
                Some(v) => v as u32,
                None => {
                    problems.add("approval.required", "must be an integer from 0 to 10");
                    0
                }
            },
        };
        let image = SandboxImage::parse(request.image.as_deref(), &mut problems);
        if image == SandboxImage::Scanner {
            for key in env
                .keys()
                .filter(|key| SCANNER_RESERVED_ENV.contains(&key.as_str()))
            {
                problems.add(
                    format!("env.{key}"),
                    "is reserved in the scanner image: another credential source, certificate or proxy of its tools",
                );
            }
        }
        // A tool input reaches the tool only through its variable, checked: never
        // also as an argument, where nothing checks it.
        for (i, arg) in args.iter().enumerate() {
            let inputs = env
                .iter()
                .filter(|(key, _)| ToolInput::for_variable(key).is_some())
                .filter_map(|(_, template)| template.params().next());
            for name in inputs {
                if arg
                    .templates()
                    .iter()
                    .any(|t| t.params().any(|p| p == name))
                {
                    problems.add(
                        format!("args[{i}]"),
                        format!("uses {{{name}}}, a tool input: it goes to its tool through its variable only"),
                    );
                }
            }
        }
        let credentials =
            Credentials::parse(request.credentials.as_deref(), &params, &mut problems);
        if credentials == Credentials::AwsAssumeRole {
            for key in env.keys().filter(|key| key.starts_with("AWS_")) {
                problems.add(
                    format!("env.{key}"),
                    "is set by the worker: the assumed role's credentials and endpoint",
                );
            }
        }
        problems.finish(Self {
            description,
            script_id: request.script_id,
            params,
            args,
            env,
            limits,
            network,
            approvals_required,
            image,
            credentials,
        })
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn script_id(&self) -> ScriptId {
        self.script_id
    }

    pub fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    /// The argv templates, as written.
    pub fn args(&self) -> Vec<RawArg> {
        self.args.iter().map(Arg::raw).collect()
    }

    /// The environment templates, as written.
    pub fn env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env.iter().map(|(k, t)| (k.as_str(), t.as_str()))
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn network(&self) -> NetworkPolicy {
        self.network
    }

    pub fn approvals_required(&self) -> u32 {
        self.approvals_required
    }

    pub fn image(&self) -> SandboxImage {
        self.image
    }

    pub fn credentials(&self) -> Credentials {
        self.credentials
    }

    /// Admits a new run: its parameters against this version's schema and every check
    /// beyond it; every problem at once, each named `params.<name>`.
    pub fn admit(&self, params: &Value) -> Result<AdmittedRun, Vec<FieldError>> {
        let valid = validate_params(&self.params, params)?;
        self.check_run(valid)
    }

    /// Admits a stored run again, with its opened secrets; see [`restore_params`]. A
    /// stored run passed [`Self::admit`]; this holds it to the same checks, so nothing
    /// that changed meanwhile (a secret that no longer opens as it was) slips through.
    pub fn readmit(
        &self,
        shown: &Value,
        secrets: BTreeMap<String, String>,
    ) -> Result<AdmittedRun, Vec<FieldError>> {
        let valid = restore_params(&self.params, shown, secrets)?;
        self.check_run(valid)
    }

    /// The checks of a run beyond its schema, shared by a new run and a stored one.
    fn check_run(&self, valid: ValidParams) -> Result<AdmittedRun, Vec<FieldError>> {
        let valid = self.refuse_options(valid)?;
        let (valid, mut problems) = self.check_inputs(valid);
        let role = match self.credentials.assume_role(&valid) {
            Ok(role) => role,
            Err(role) => {
                problems.extend(role);
                None
            }
        };
        if problems.is_empty() {
            return Ok(AdmittedRun::new(valid, role));
        }
        problems.sort_by(|a, b| a.field.cmp(&b.field));
        Err(problems)
    }

    /// Checks what the version hands a tool through a variable the tool reads as a file
    /// (see [`ToolInput`]) and keeps the copy rebuilt from the checked fields, which is
    /// all the sandbox receives.
    fn check_inputs(&self, mut valid: ValidParams) -> (ValidParams, Vec<FieldError>) {
        let mut problems = Problems::default();
        for (variable, template) in &self.env {
            let (Some(input), Some(name)) =
                (ToolInput::for_variable(variable), template.params().next())
            else {
                continue;
            };
            let value = valid
                .secrets
                .get(name)
                .cloned()
                .or_else(|| valid.text(name));
            let Some(value) = value else { continue };
            match input.check(&value) {
                Ok(checked) => {
                    valid.inputs.insert(name.to_owned(), checked);
                }
                Err(error) => problems.add(format!("params.{name}"), error),
            }
        }
        (valid, problems.into_vec())
    }

    /// Refuses a string that starts with `-` where it begins an argument (`"{path}"`,
    /// or `"{a}{b}"` with `a` empty): the script's argument parser would read
    /// `--config=/x` as one of its options. After a literal (`"--path={path}"`) it is
    /// only a value.
    fn refuse_options(&self, valid: ValidParams) -> Result<ValidParams, Vec<FieldError>> {
        let may_start_with_dash = |name: &str| {
            self.params.iter().any(|p| {
                p.name == name
                    && !matches!(
                        p.kind,
                        ParamKind::String {
                            allow_leading_dash: false,
                            ..
                        }
                    )
            })
        };
        // The first placeholder with a value gives the element its first character.
        let problems: BTreeSet<&str> = self
            .args
            .iter()
            .flat_map(Arg::templates)
            .filter_map(|t| {
                t.leading_params()
                    .find(|name| valid.text(name).is_some_and(|v| !v.is_empty()))
            })
            .filter(|name| !may_start_with_dash(name))
            .filter(|name| valid.text(name).is_some_and(|v| v.starts_with('-')))
            .collect();
        if problems.is_empty() {
            return Ok(valid);
        }
        Err(problems
            .into_iter()
            .map(|name| {
                FieldError::new(
                    format!("params.{name}"),
                    "must not start with '-': as an argument of its own it would read as an option",
                )
            })
            .collect())
    }

    /// The JSON Schema of a run's `params`.
    pub fn params_schema(&self) -> Value {
        params_schema(&self.params)
    }

    /// argv after the interpreter and script: each template is exactly one element.
    /// An element naming a parameter that has no value is left out, and so is the
    /// whole group it belongs to; nothing else is.
    pub(crate) fn build_args(&self, params: &ValidParams) -> Vec<String> {
        self.args
            .iter()
            .filter_map(|arg| {
                arg.templates()
                    .iter()
                    .map(|t| render(t, params))
                    .collect::<Option<Vec<String>>>()
            })
            .flatten()
            .collect()
    }

    /// Environment variables from the env templates. `secret_path` gives where a
    /// file secret is placed inside the sandbox; variables whose parameters have no
    /// value are left out.
    pub(crate) fn build_env(
        &self,
        params: &ValidParams,
        secret_path: impl Fn(&str) -> String,
    ) -> Vec<(String, String)> {
        let value_of = |name: &str| -> Option<String> {
            match self.params.iter().find(|p| p.name == name).map(|p| &p.kind) {
                _ if params.inputs.contains_key(name) && !self.is_file_secret(name) => {
                    params.inputs.get(name).map(|input| input.content.clone())
                }
                Some(ParamKind::Secret {
                    secret_as: SecretAs::Env,
                    ..
                }) => params.secrets.get(name).cloned(),
                Some(ParamKind::Secret {
                    secret_as: SecretAs::File,
                    ..
                }) => params.secrets.contains_key(name).then(|| secret_path(name)),
                _ => params.text(name),
            }
        };
        self.env
            .iter()
            .filter_map(|(key, template)| {
                let values: BTreeMap<&str, String> = template
                    .params()
                    .map(|name| value_of(name).map(|v| (name, v)))
                    .collect::<Option<_>>()?;
                let value = template.render(|name| values.get(name).map(String::as_str))?;
                Some((key.clone(), value))
            })
            .collect()
    }

    /// Secret parameters to be written as files, with their values.
    pub(crate) fn file_secrets<'a>(&self, params: &'a ValidParams) -> Vec<(&str, &'a str)> {
        self.params
            .iter()
            .filter(|p| {
                matches!(
                    p.kind,
                    ParamKind::Secret {
                        secret_as: SecretAs::File,
                        ..
                    }
                )
            })
            .filter_map(|p| {
                let value = match params.inputs.get(&p.name) {
                    Some(input) => Some(input.content.as_str()),
                    None => params.secrets.get(&p.name).map(String::as_str),
                };
                value.map(|v| (p.name.as_str(), v))
            })
            .collect()
    }

    fn is_file_secret(&self, name: &str) -> bool {
        self.params.iter().any(|p| {
            p.name == name
                && matches!(
                    p.kind,
                    ParamKind::Secret {
                        secret_as: SecretAs::File,
                        ..
                    }
                )
        })
    }
}

fn render(template: &Template, params: &ValidParams) -> Option<String> {
    let values: BTreeMap<&str, String> = template
        .params()
        .map(|name| params.text(name).map(|v| (name, v)))
        .collect::<Option<_>>()?;
    template.render(|name| values.get(name).map(String::as_str))
}

fn parse_params(raw: &[RawParam], origin: Origin, problems: &mut Problems) -> Vec<ParamSpec> {
    if raw.len() > 64 {
        problems.add("params", "must declare at most 64 parameters");
    }
    let mut seen = BTreeSet::new();
    let mut params = Vec::new();
    for (i, param) in raw.iter().enumerate() {
        let at = format!("params[{i}]");
        if !seen.insert(param.name.as_str()) {
            problems.add(
                format!("{at}.name"),
                format!("{:?} is declared twice", param.name),
            );
            continue;
        }
        if let Some(spec) = ParamSpec::parse(param, &at, origin, problems) {
            params.push(spec);
        }
    }
    params
}

/// `declared` maps each parameter name to whether it is a secret.
fn parse_args(
    raw: &[RawArg],
    declared: &BTreeMap<&str, bool>,
    problems: &mut Problems,
) -> Vec<Arg> {
    let elements: usize = raw
        .iter()
        .map(|arg| match arg {
            RawArg::One(_) => 1,
            RawArg::Group(group) => group.len(),
        })
        .sum();
    if elements > 128 {
        problems.add("args", "must have at most 128 elements, groups included");
    }
    let mut args = Vec::new();
    for (i, element) in raw.iter().enumerate() {
        let at = format!("args[{i}]");
        match element {
            RawArg::One(text) => {
                if let Some(template) = parse_arg(text, &at, declared, problems) {
                    args.push(Arg::One(template));
                }
            }
            RawArg::Group(group) => {
                let templates: Vec<Template> = group
                    .iter()
                    .enumerate()
                    .filter_map(|(j, text)| {
                        parse_arg(text, &format!("{at}[{j}]"), declared, problems)
                    })
                    .collect();
                let binds =
                    group.len() >= 2 && templates.iter().any(|t| t.params().next().is_some());
                // A member that did not parse is reported as itself.
                if templates.len() == group.len() && !binds {
                    problems.add(
                        &at,
                        "a group binds literals to a parameter's value: it needs two elements or more, one naming a parameter",
                    );
                } else if templates.len() == group.len() {
                    args.push(Arg::Group(templates));
                }
            }
        }
    }
    args
}

fn parse_arg(
    text: &str,
    at: &str,
    declared: &BTreeMap<&str, bool>,
    problems: &mut Problems,
) -> Option<Template> {
    let template = match Template::parse(text) {
        Ok(template) => template,
        Err(error) => {
            problems.add(at, error);
            return None;
        }
    };
    for name in template.params() {
        match declared.get(name) {
            None => problems.add(
                at,
                format!("refers to {{{name}}}, which is not a declared parameter"),
            ),
            Some(true) => problems.add(
                at,
                format!("secret parameter {name} cannot appear in argv (visible to every process); use env"),
            ),
            Some(_) => {}
        }
    }
    Some(template)
}

fn parse_env(
    raw: &BTreeMap<String, String>,
    declared: &BTreeMap<&str, bool>,
    problems: &mut Problems,
) -> BTreeMap<String, Template> {
    let mut env = BTreeMap::new();
    for (key, value) in raw {
        let at = format!("env.{key}");
        let key_ok = (1..=128).contains(&key.len())
            && key.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            problems.add(
                &at,
                "names must be 1 to 128 of A-Z, 0-9 and '_', not starting with a digit",
            );
            continue;
        }
        if RESERVED_ENV.contains(&key.as_str())
            || key.starts_with("LD_")
            || key.starts_with("SAGE_")
        {
            problems.add(
                &at,
                "is reserved: it changes how the interpreter or loader behaves",
            );
            continue;
        }
        match Template::parse(value) {
            Err(error) => problems.add(&at, error),
            Ok(template) => {
                if ToolInput::for_variable(key).is_some() && !template.is_single_param() {
                    problems.add(
                        &at,
                        "must be exactly one parameter: a tool reads it as a file whose contents are checked as data",
                    );
                }
                for name in template.params().filter(|n| !declared.contains_key(n)) {
                    problems.add(
                        &at,
                        format!("refers to {{{name}}}, which is not a declared parameter"),
                    );
                }
                env.insert(key.clone(), template);
            }
        }
    }
    env
}

fn parse_limits(raw: &RawLimits, ceiling: &Limits, problems: &mut Problems) -> Limits {
    let d = Limits::DEFAULT;
    let mut whole = |name: &str, value: &Option<Number>, default: u64, max: u64| -> u64 {
        match value {
            None => default.min(max),
            Some(n) => match n.as_u64().filter(|v| (1..=max).contains(v)) {
                Some(v) => v,
                None => {
                    problems.add(
                        format!("limits.{name}"),
                        format!("must be a whole number from 1 to {max}"),
                    );
                    default.min(max)
                }
            },
        }
    };
    let timeout_sec = whole(
        "timeout_sec",
        &raw.timeout_sec,
        d.timeout_sec,
        ceiling.timeout_sec,
    );
    let memory_mb = whole("memory_mb", &raw.memory_mb, d.memory_mb, ceiling.memory_mb);
    let pids = whole("pids", &raw.pids, d.pids, ceiling.pids);
    let open_files = whole(
        "open_files",
        &raw.open_files,
        d.open_files,
        ceiling.open_files,
    );
    let max_output_bytes = whole(
        "max_output_bytes",
        &raw.max_output_bytes,
        d.max_output_bytes,
        ceiling.max_output_bytes,
    );
    let memory_mb = if memory_mb < 6 {
        problems.add("limits.memory_mb", "must be at least 6 (Docker's minimum)");
        d.memory_mb
    } else {
        memory_mb
    };
    let cpus = match &raw.cpus {
        None => d.cpus.min(ceiling.cpus),
        Some(n) => match n.as_f64().filter(|v| *v >= 0.01 && *v <= ceiling.cpus) {
            Some(v) => v,
            None => {
                problems.add(
                    "limits.cpus",
                    format!("must be a number from 0.01 to {}", ceiling.cpus),
                );
                d.cpus
            }
        },
    };
    Limits {
        timeout_sec,
        memory_mb,
        cpus,
        pids,
        open_files,
        max_output_bytes,
    }
}
