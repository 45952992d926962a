use sage_worker::startup::connect;

use crate::support::worker_settings as settings;

#[tokio::test]
async fn connects_to_every_dependency() {
    let dependencies = connect(&settings(&[])).await.unwrap();
    dependencies.docker.ping().await.unwrap();
}

#[tokio::test]
async fn names_each_dependency_it_cannot_reach() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_bind = taken.local_addr().unwrap().to_string();
    let error = connect(&settings(&[
        ("REDIS_URL", "redis://127.0.0.1:1/0"),
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ("WORKER_METRICS_BIND", &metrics_bind),
    ]))
    .await
    .err()
    .expect("start-up fails");
    let names: Vec<&str> = error.0.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["redis", "docker", "WORKER_METRICS_BIND"]);
    let text = error.to_string();
    assert!(text.contains("/nonexistent/docker.sock"), "{text}");
    assert!(
        text.contains(&format!("cannot listen on {metrics_bind}")),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_runner_image_is_reported() {
    let error = connect(&settings(&[("RUNNER_IMAGE", "sage-runner:does-not-exist")]))
        .await
        .err()
        .expect("start-up fails");
    assert_eq!(error.0.len(), 1);
    assert!(
        error.0[0].1.contains("sage-runner:does-not-exist"),
        "{error}"
    );
}

#[tokio::test]
async fn a_secrets_folder_someone_else_made_or_left_open_is_refused_and_its_own_is_private() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let root = std::env::temp_dir().join(format!("sage-folders-{}", uuid::Uuid::new_v4()));
    let foreign = root.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(&foreign, Some(54321), Some(54321)).unwrap();
    let error = connect(&settings(&[("SECRETS_DIR", foreign.to_str().unwrap())]))
        .await
        .err()
        .expect("start-up fails");
    let names: Vec<&str> = error.0.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["SECRETS_DIR"], "{error}");
    assert!(error.to_string().contains("54321"), "{error}");

    let open = root.join("ours-but-open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o770)).unwrap();
    let error = connect(&settings(&[("STAGING_DIR", open.to_str().unwrap())]))
        .await
        .err()
        .expect("start-up fails");
    let names: Vec<&str> = error.0.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["STAGING_DIR"], "{error}");
    assert!(error.to_string().contains("mode 0770"), "{error}");
    let meta = std::fs::metadata(&open).unwrap();
    assert_eq!(
        meta.mode() & 0o777,
        0o770,
        "a refused folder is left as found"
    );

    let private = root.join("ours-and-private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let fresh = root.join("made/by/the/worker");
    connect(&settings(&[
        ("SECRETS_DIR", private.to_str().unwrap()),
        ("STAGING_DIR", fresh.to_str().unwrap()),
    ]))
    .await
    .unwrap();
    let meta = std::fs::metadata(&fresh).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "{}", fresh.display());
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn an_egress_network_that_lets_sandboxes_reach_each_other_is_refused() {
    let docker = crate::support::docker().await;
    let name = format!(
        "sage-open-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    docker
        .create_network(bollard::models::NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    let refusal = network_refusal(&docker, "EGRESS_NETWORK", &name, &[]).await;
    assert!(
        refusal.contains("lets sandboxes reach each other"),
        "{refusal}"
    );
}

#[tokio::test]
async fn an_emulator_network_that_lets_sandboxes_reach_each_other_is_refused() {
    let docker = crate::support::docker().await;
    let name = format!(
        "sage-emu-open-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    docker
        .create_network(bollard::models::NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".to_owned()),
            internal: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let refusal = network_refusal(&docker, "EMULATOR_NETWORK", &name, &[]).await;
    assert!(
        refusal.contains("lets sandboxes reach each other"),
        "{refusal}"
    );
}

/// Starts a worker on the network `name` the test made, as its `variable`
/// (EGRESS_NETWORK or EMULATOR_NETWORK), removes the network and returns why start-up
/// refused it.
async fn network_refusal(
    docker: &bollard::Docker,
    variable: &'static str,
    name: &str,
    more: &[(&str, &str)],
) -> String {
    let mut overrides = vec![(variable, name)];
    overrides.extend_from_slice(more);
    let error = connect(&settings(&overrides))
        .await
        .err()
        .expect("start-up fails");
    docker.remove_network(name).await.unwrap();
    assert_eq!(error.0.len(), 1, "{error}");
    assert_eq!(error.0[0].0, variable);
    error.0[0].1.clone()
}

#[tokio::test]
async fn an_egress_network_with_ipv6_is_refused() {
    let docker = crate::support::docker().await;
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (name, bridge) = (format!("sage-v6-{suffix}"), format!("sv6{suffix}"));
    docker
        .create_network(bollard::models::NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".to_owned()),
            enable_ipv6: Some(true),
            ipam: Some(bollard::models::Ipam {
                config: Some(vec![bollard::models::IpamConfig {
                    subnet: Some(format!("fd00:{}::/64", &suffix[..4])),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(
                [
                    (
                        "com.docker.network.bridge.enable_icc".to_owned(),
                        "false".to_owned(),
                    ),
                    ("com.docker.network.bridge.name".to_owned(), bridge.clone()),
                ]
                .into(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let refusal = network_refusal(
        &docker,
        "EGRESS_NETWORK",
        &name,
        &[("EGRESS_BRIDGE", &bridge)],
    )
    .await;
    assert!(refusal.contains("has IPv6"), "{refusal}");
}
