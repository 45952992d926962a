//! The Docker engine and the sandboxes on it, for both the sandbox and pipeline tests.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use sage_infra::config::Env;
use sage_worker::sandbox::spec::LABEL_EXECUTION;
use sage_worker::settings::Settings;

pub async fn docker() -> Docker {
    let env = Env::for_tests();
    let host = env
        .raw("DOCKER_HOST")
        .unwrap_or("unix:///var/run/docker.sock")
        .to_owned();
    sage_worker::docker::connect(&host)
        .await
        .expect("the Docker engine answers")
}

pub async fn containers_labelled(docker: &Docker, id: &str) -> usize {
    let filters = HashMap::from([("label", vec![format!("{LABEL_EXECUTION}={id}")])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker.list_containers(Some(options)).await.unwrap().len()
}

/// A worker's settings as the tests start them, with `overrides`.
pub fn worker_settings(overrides: &[(&str, &str)]) -> Settings {
    let mut env = Env::for_tests();
    env.set(
        "QUEUE_PREFIX",
        format!("test-{}", uuid::Uuid::new_v4().simple()),
    );
    // Tests start workers side by side (and beside `just up`'s): any free port.
    env.set("WORKER_METRICS_BIND", "127.0.0.1:0");
    for (name, value) in overrides {
        env.set(name, *value);
    }
    Settings::from_env(env).unwrap()
}
