//! The engine runtime each kind of sandbox runs under (`SANDBOX_RUNTIME_RUNNER`,
//! `SANDBOX_RUNTIME_SCANNER`): checked against the engine at start, and a run that
//! needs a network under a runtime that gives none ends at once, saying why.

use serde_json::json;

use sage_testkit::{ADMIN, ANALYST, ScriptModule, spawn_app, spawn_worker_with};
use sage_worker::sandbox::Runtime;
use sage_worker::sandbox::spec::GVISOR_OWN_PIDS;
use sage_worker::startup::connect;

use crate::support::{containers_labelled, worker_settings as settings};

#[tokio::test]
async fn a_runtime_the_engine_lacks_is_refused_at_start_naming_its_variable() {
    let error = connect(&settings(&[("SANDBOX_RUNTIME_SCANNER", "nosuch")]))
        .await
        .err()
        .expect("start-up fails");
    assert_eq!(error.0.len(), 1, "{error}");
    assert_eq!(error.0[0].0, "SANDBOX_RUNTIME_SCANNER");
    assert!(error.0[0].1.contains("no runtime nosuch"), "{error}");
    assert!(error.0[0].1.contains("runsc"), "names what it has: {error}");
}

#[tokio::test]
async fn gvisor_as_the_local_stack_registers_it_gives_its_containers_no_network() {
    let dependencies = connect(&settings(&[("SANDBOX_RUNTIME_RUNNER", "runsc")]))
        .await
        .unwrap();
    let runner = &dependencies.runtimes.runner;
    assert_eq!(runner.name, "runsc");
    assert!(!runner.networks, "registered with --network=none");
    assert_eq!(runner.own_pids, GVISOR_OWN_PIDS);
    assert_eq!(dependencies.runtimes.scanner, Runtime::runc());
}

#[tokio::test]
async fn under_gvisor_a_run_without_network_runs_and_one_with_egress_ends_saying_why() {
    let app = spawn_app().await;
    let worker = spawn_worker_with(&app, |env| env.set("SANDBOX_RUNTIME_RUNNER", "runsc")).await;

    // gVisor's own kernel answers uname.
    let code = "import os\nprint('kernel', os.uname().release)\n";
    let module = app
        .module_with(ScriptModule {
            code,
            ..ScriptModule::default()
        })
        .await;
    let id = app.submit(&module, json!({})).await;
    let ended = app.wait_terminal(&id).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert!(
        app.log_text(&id).await.contains("kernel 4.4.0"),
        "{}",
        app.log_text(&id).await
    );

    // The same script in a module that says egress: it would have no network.
    let (_, script) = app
        .get_as(&format!("/api/v1/modules/{module}"), ADMIN)
        .await;
    let definition = json!({
        "name": format!("egress-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "script_id": script["script_id"], "network": "egress",
        "limits": {"timeout_sec": 30, "memory_mb": 128, "cpus": 1.0, "pids": 32,
                   "max_output_bytes": 1_048_576},
    });
    let (status, created) = app.post_as("/api/v1/modules", ADMIN, &definition).await;
    assert_eq!(status, 201, "{created}");
    let egress = created["id"].as_str().unwrap().to_owned();
    app.assign(
        &egress,
        json!([{"user": ANALYST, "permissions": ["run", "view"]}]),
    )
    .await;
    let id = app.submit(&egress, json!({})).await;
    let ended = app.wait_terminal(&id).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    assert_eq!(ended["reason"], "sandbox_error", "{ended}");
    let log = app.log_text(&id).await;
    assert!(
        log.contains("needs a network") && log.contains("SANDBOX_RUNTIME_RUNNER"),
        "{log}"
    );
    assert_eq!(
        containers_labelled(&crate::support::docker().await, &id).await,
        0
    );
    worker.stop().await;
}
