//! The sample catalog of `sage-api seed`, which `just up` runs: `backup_db.py` from the
//! script library; the module `backup-db` that the analyst may run and view; and
//! `backup-db-approved`, the same run behind one approval, for the approval walk. Each
//! is created once and audited as the system; a module of either name that exists is
//! left alone (see [`Db::seed_module`]). Deployments leave the command out.

use std::path::Path;

use anyhow::anyhow;
use sage_model::ScriptId;
use sage_model::catalog::FieldError;
use sage_model::catalog::module::{Limits, ModuleDefinition, ModuleRequest};
use sage_model::catalog::script::{Interpreter, ScriptPath};
use sage_model::names::ModuleName;
use sage_store::Db;
use sage_store::catalog::{Assignment, NewScript, Principal};
use sage_store::seed::Seeded;
use sage_store::tools::SYSTEM_USER;
use serde_json::json;

use crate::catalog::library;

/// Who the sample modules are assigned to (run and view).
pub const ANALYST: &str = "analyst@example.com";
const SCRIPT: &str = "backup_db.py";

/// The sample modules: name and the approvals a run needs.
pub const MODULES: [(&str, u32); 2] = [("backup-db", 0), ("backup-db-approved", 1)];

/// The `backup-db` module, needing `approvals`.
pub fn backup_db_request(
    script_id: ScriptId,
    approvals: u32,
) -> Result<ModuleRequest, serde_json::Error> {
    serde_json::from_value(backup_db_body(&script_id.to_string(), approvals))
}

/// The body of `backup-db` as an admin would post it to `/api/v1/modules` (without its
/// name), needing `approvals`: the sample the seed makes and the tests build on.
pub fn backup_db_body(script_id: &str, approvals: u32) -> serde_json::Value {
    json!({
        "description": "Back up one database",
        "script_id": script_id,
        "params": [
            {"name": "db_name", "type": "enum", "values": ["orders", "users"], "required": true},
            {"name": "retention_days", "type": "integer", "min": 1, "max": 365, "default": 7},
            {"name": "notify_email", "type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$",
             "max_length": 254},
            {"name": "backup_key", "type": "secret", "required": true, "secret_as": "env"}],
        "args": ["--db", "{db_name}", "--retention-days", "{retention_days}",
                 ["--notify", "{notify_email}"]],
        "env": {"BACKUP_KEY": "{backup_key}"},
        "limits": {"timeout_sec": 60, "memory_mb": 256, "cpus": 1.0, "pids": 64,
                   "max_output_bytes": 1_048_576},
        "network": "none",
        "approval": {"required": approvals}
    })
}

/// Seeds the sample modules; says for each whether it was made now.
pub async fn seed(
    db: &Db,
    library_root: &Path,
    ceiling: &Limits,
) -> anyhow::Result<Vec<(&'static str, Seeded)>> {
    let path = ScriptPath::parse(SCRIPT)?;
    let sha256 = library::pin(library_root, &path)
        .map_err(|why| anyhow!("the sample script {SCRIPT} in SCRIPTS_DIR {why}"))?;
    let script = NewScript {
        path,
        interpreter: Interpreter::Python3,
        sha256,
        description: "The sample: backs up one database".to_owned(),
        created_by: SYSTEM_USER,
    };
    let assignments = [Assignment {
        principal: Principal::User(ANALYST.to_owned()),
        can_run: true,
        can_view: true,
    }];
    let mut seeded = Vec::new();
    for (name, approvals) in MODULES {
        let definition = |script_id| {
            let request = backup_db_request(script_id, approvals).map_err(|e| e.to_string())?;
            ModuleDefinition::parse(&request, ceiling)
                .map_err(|problems| FieldError::list(&problems))
        };
        let module =
            ModuleName::parse(name).map_err(|why| anyhow!("sample module {name:?} {why}"))?;
        let outcome = db
            .seed_module(&module, &script, definition, &assignments)
            .await?;
        seeded.push((name, outcome));
    }
    Ok(seeded)
}
