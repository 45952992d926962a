//! The built-in scanner tools, installed at start: each tool's driver registered from
//! the script library and its module created, or brought up to date while nobody but
//! the system changed it. Idempotent, and audited as the system.

use std::path::Path;

use sage_model::catalog::FieldError;
use sage_model::catalog::module::{Limits, ModuleDefinition};
use sage_model::catalog::script::{Interpreter, ScriptPath};
use sage_model::tools::Tool;
use sage_store::Db;
use sage_store::catalog::NewScript;
use sage_store::tools::{Installed, SYSTEM_USER};

use crate::catalog::library;

/// Installs every tool whose driver is in the library; a tool that cannot be installed
/// is logged and left out (`GET /api/v1/tools` says why), never a failed start.
pub async fn install_tools(db: &Db, library_root: &Path, ceiling: &Limits) {
    for tool in Tool::ALL {
        match install(db, library_root, ceiling, tool).await {
            Ok(Installed::Unchanged) => {}
            Ok(Installed::LeftToAdmin) => tracing::info!(
                %tool,
                "the tool's latest module version is an admin's; the built-in one is not forced over it"
            ),
            Ok(done) => tracing::info!(%tool, ?done, "installed the built-in tool"),
            Err(why) => tracing::warn!(%tool, %why, "the built-in tool is not installed"),
        }
    }
}

async fn install(
    db: &Db,
    library_root: &Path,
    ceiling: &Limits,
    tool: Tool,
) -> Result<Installed, String> {
    let path = ScriptPath::parse(&tool.driver()).map_err(|why| why.to_string())?;
    let sha256 =
        library::pin(library_root, &path).map_err(|why| format!("its driver {path} {why}"))?;
    // The built-in definitions are tested to pass the checks of any module; a ceiling
    // set below their limits keeps the tool out, saying which limit.
    let definition = |script_id| {
        tool.module_request(script_id)
            .map_err(|e| e.to_string())
            .and_then(|request| {
                ModuleDefinition::parse(&request, ceiling).map_err(|problems| {
                    format!(
                        "its definition is over this deployment's limits: {}",
                        FieldError::list(&problems)
                    )
                })
            })
    };
    // The checks do not depend on the id: a definition over the ceiling is told here.
    definition(sage_model::ScriptId::new())?;
    let driver = NewScript {
        path,
        interpreter: Interpreter::Python3,
        sha256,
        description: format!("Sage Runner's driver of the {tool} scanner"),
        created_by: SYSTEM_USER,
    };
    db.install_tool(tool, &driver, definition)
        .await
        .map_err(|e| sage_infra::error_text(&e))
}
