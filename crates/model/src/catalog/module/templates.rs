//! A version's `args` and `env`: templates of the run's parameters, checked once, and
//! the variables no version may set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::Problems;
use crate::catalog::cloud::SandboxImage;
use crate::catalog::inputs::ToolInput;
use crate::catalog::template::Template;

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
pub(super) enum Arg {
    One(Template),
    Group(Vec<Template>),
}

impl Arg {
    pub(super) fn templates(&self) -> &[Template] {
        match self {
            Self::One(template) => std::slice::from_ref(template),
            Self::Group(templates) => templates,
        }
    }

    pub(super) fn raw(&self) -> RawArg {
        match self {
            Self::One(template) => RawArg::One(template.as_str().to_owned()),
            Self::Group(templates) => {
                RawArg::Group(templates.iter().map(|t| t.as_str().to_owned()).collect())
            }
        }
    }
}

/// `declared` maps each parameter name to whether it is a secret.
pub(super) fn parse_args(
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

pub(super) fn parse_env(
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

/// The scanner image's own rules of a definition: its tools' other credential sources,
/// certificates and proxies are not the version's to set, and a tool input reaches its
/// tool only through its variable, checked, never also as an argument.
pub(super) fn scanner_rules(
    image: SandboxImage,
    args: &[Arg],
    env: &BTreeMap<String, Template>,
    problems: &mut Problems,
) {
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
    let inputs: Vec<&str> = env
        .iter()
        .filter(|(key, _)| ToolInput::for_variable(key).is_some())
        .filter_map(|(_, template)| template.params().next())
        .collect();
    for (i, arg) in args.iter().enumerate() {
        for name in &inputs {
            if arg
                .templates()
                .iter()
                .any(|t| t.params().any(|p| p == *name))
            {
                problems.add(
                    format!("args[{i}]"),
                    format!("uses {{{name}}}, a tool input: it goes to its tool through its variable only"),
                );
            }
        }
    }
}
