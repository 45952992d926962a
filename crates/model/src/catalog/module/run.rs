//! A run of a module version: its admission (the parameters against the schema and
//! every check beyond it, the tool inputs, the AWS role) and what the admitted
//! parameters become: argv, environment and secret files.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ModuleDefinition;
use super::templates::Arg;
use crate::catalog::admission::AdmittedRun;
use crate::catalog::inputs::ToolInput;
use crate::catalog::params::{ParamKind, SecretAs, ValidParams, restore_params, validate_params};
use crate::catalog::template::Template;
use crate::catalog::{FieldError, Problems};

impl ModuleDefinition {
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
