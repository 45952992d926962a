use sage_api::settings::Settings;
use sage_api::startup::{Application, migrated_database};
use sage_infra::config::Env;

const USAGE: &str = "usage: sage-api [serve | migrate]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1);
    let settings = match Settings::from_env(Env::from_process()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("sage-api: {error}");
            std::process::exit(2);
        }
    };
    sage_infra::telemetry::init(&settings.common.log);
    match command.as_deref() {
        None | Some("serve") => {
            let application = Application::build(settings).await?;
            application.run_until_stopped().await?;
        }
        // A deployment's migration step: the schema is ready before new replicas roll.
        Some("migrate") => {
            migrated_database(&settings).await?;
            tracing::info!("the database schema is up to date");
        }
        Some(other) => {
            eprintln!("sage-api: unknown command {other:?}; {USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}
