use sage_infra::config::Env;
use sage_worker::settings::Settings;
use sage_worker::startup;

#[tokio::main]
async fn main() {
    let settings = match Settings::from_env(Env::from_process()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("sage-worker: {error}");
            std::process::exit(2);
        }
    };
    let telemetry = sage_infra::telemetry::init(&settings.common.log, "sage-worker");
    let shutdown = sage_infra::shutdown::on_signal();
    let dependencies = match startup::connect(&settings).await {
        Ok(dependencies) => dependencies,
        Err(unreachable) => {
            tracing::error!(%unreachable, "worker cannot start");
            eprintln!("sage-worker: {unreachable}");
            std::process::exit(1);
        }
    };
    startup::run_until_stopped(settings, dependencies, shutdown).await;
    telemetry.shutdown();
}
