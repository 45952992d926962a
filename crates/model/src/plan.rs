//! The run plan: everything a sandbox needs to run one execution, built in one place
//! from the script, the checked module version and the validated parameters. The worker
//! only opens the secrets, takes the plan and turns it into a container.

use std::fmt;

use crate::ExecutionId;
use crate::catalog::admission::AdmittedRun;
use crate::catalog::cloud::{AssumeRole, SandboxImage};
use crate::catalog::module::{Limits, ModuleDefinition, NetworkPolicy};
use crate::catalog::script::{Interpreter, ScriptPath};

/// Where the script appears inside the sandbox, by its file name.
pub const SCRIPTS_DIR: &str = "/opt/scripts";
/// Where `secret_as: file` secrets appear inside the sandbox, by parameter name.
pub const SECRETS_DIR: &str = "/run/secrets";

/// A run, ready for a sandbox. Its `Debug` leaves the environment's values out: a
/// `secret_as: env` secret is one of them.
#[derive(Clone, PartialEq)]
pub struct RunPlan {
    /// The whole argv: the interpreter, the script, then the module's arguments. No
    /// shell ever sees it.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Where the verified copy of the script is placed, read-only.
    pub script_path: String,
    /// Secrets to place as read-only files.
    pub secret_files: Vec<SecretFile>,
    pub limits: Limits,
    pub network: NetworkPolicy,
    pub image: SandboxImage,
    /// The role to assume for the run, with the session name already chosen.
    pub assume_role: Option<(AssumeRole, String)>,
}

/// One `secret_as: file` secret: its value and where the sandbox sees it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretFile {
    pub name: String,
    pub container_path: String,
    value: String,
}

impl SecretFile {
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretFile")
            .field("name", &self.name)
            .field("container_path", &self.container_path)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RunPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunPlan")
            .field("argv", &self.argv)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("script_path", &self.script_path)
            .field("secret_files", &self.secret_files)
            .field("limits", &self.limits)
            .field("network", &self.network)
            .field("image", &self.image)
            .field("assume_role", &self.assume_role)
            .finish()
    }
}

impl RunPlan {
    /// The plan of a run `definition` admitted: what admission derived (the role, the
    /// rebuilt tool inputs) is taken as it is, never derived again.
    pub fn new(
        execution_id: ExecutionId,
        script: &ScriptPath,
        interpreter: Interpreter,
        definition: &ModuleDefinition,
        run: &AdmittedRun,
    ) -> Self {
        let params = run.params();
        let script_path = format!("{SCRIPTS_DIR}/{}", script.file_name());
        let mut argv = vec![interpreter.program().to_owned(), script_path.clone()];
        argv.extend(definition.build_args(params));
        let secret_path = |name: &str| format!("{SECRETS_DIR}/{name}");
        let secret_files = definition
            .file_secrets(params)
            .into_iter()
            .map(|(name, value)| SecretFile {
                name: name.to_owned(),
                container_path: secret_path(name),
                value: value.to_owned(),
            })
            .collect();
        Self {
            argv,
            env: definition.build_env(params, secret_path),
            script_path,
            secret_files,
            limits: definition.limits(),
            network: definition.network(),
            image: definition.image(),
            assume_role: run.role().map(|role| {
                let session = role.session_name(execution_id);
                (
                    role.clone().within_run(definition.limits().timeout_sec),
                    session,
                )
            }),
        }
    }
}
