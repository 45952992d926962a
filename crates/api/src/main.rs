use sage_api::settings::Settings;
use sage_api::startup::Application;
use sage_infra::config::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = match Settings::from_env(Env::from_process()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("sage-api: {error}");
            std::process::exit(2);
        }
    };
    sage_infra::telemetry::init(&settings.common.log);
    let application = Application::build(settings).await?;
    application.run_until_stopped().await?;
    Ok(())
}
