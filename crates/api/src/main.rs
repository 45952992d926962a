use sage_api::catalog::seed;
use sage_api::settings::Settings;
use sage_api::startup::{Application, migrated_database};
use sage_infra::config::Env;

const USAGE: &str = "usage: sage-api [serve | migrate | seed | openapi]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1);
    // The HTTP contract, as /openapi.json serves it: no settings needed.
    if command.as_deref() == Some("openapi") {
        print_document()?;
        return Ok(());
    }
    let settings = match Settings::from_env(Env::from_process()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("sage-api: {error}");
            std::process::exit(2);
        }
    };
    let telemetry = sage_infra::telemetry::init(&settings.common.log, "sage-api");
    let outcome = Box::pin(run(command.as_deref(), settings)).await;
    telemetry.shutdown();
    outcome
}

#[allow(clippy::print_stdout, reason = "the command's output is the document")]
fn print_document() -> anyhow::Result<()> {
    println!("{}", sage_api::http::openapi::document()?);
    Ok(())
}

async fn run(command: Option<&str>, settings: Settings) -> anyhow::Result<()> {
    match command {
        None | Some("serve") => {
            let application = Application::build(settings).await?;
            application.run_until_stopped().await?;
        }
        // A deployment's migration step: the schema is ready before new replicas roll.
        Some("migrate") => {
            migrated_database(&settings).await?;
            tracing::info!("the database schema is up to date");
        }
        // The sample catalog of a demo or a fresh trial; deployments leave it out.
        Some("seed") => {
            let db = migrated_database(&settings).await?;
            let scripts = &settings.common.scripts_dir;
            for (module, outcome) in seed::seed(&db, scripts, &settings.limit_ceiling).await? {
                tracing::info!(module, ?outcome, "sample module");
            }
        }
        Some(other) => {
            eprintln!("sage-api: unknown command {other:?}; {USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}
