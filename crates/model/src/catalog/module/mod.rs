//! A module version: which script, which parameters, how they become argv and
//! environment, under which limits and policies. Versions are immutable once stored.

mod run;
mod stored;
mod templates;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::cloud::{Credentials, SandboxImage};
use super::params::{ParamSpec, RawParam, params_schema};
use super::template::Template;
use super::{FieldError, Origin, Problems};
use crate::ScriptId;

pub use stored::StoredDefinitionError;
pub use templates::RawArg;

use templates::{Arg, parse_args, parse_env};

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
        templates::scanner_rules(image, &args, &env, &mut problems);
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

    /// The JSON Schema of a run's `params`.
    pub fn params_schema(&self) -> Value {
        params_schema(&self.params)
    }
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
