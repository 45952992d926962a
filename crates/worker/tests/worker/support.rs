//! The Docker engine and the sandboxes on it, for both the sandbox and pipeline tests.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;
use sage_infra::config::Env;
use sage_worker::sandbox::spec::LABEL_EXECUTION;

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
