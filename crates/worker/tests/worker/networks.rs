//! The networks of egress runs: the worker's own egress network, fenced from the host,
//! and the local emulator's, on which a sandbox reaches the emulator and nothing else.

use std::time::{Duration, Instant};

use sage_model::catalog::module::NetworkPolicy;
use sage_worker::sandbox::{End, EndReason, Network};

use crate::sandbox::{bounds, python, run};
use crate::support::docker;

#[tokio::test]
async fn an_egress_sandbox_sits_on_the_workers_own_network_whose_host_side_is_fenced() {
    let docker = docker().await;
    let egress = sage_worker::settings::EgressNetwork {
        name: "sage-egress".to_owned(),
        bridge: "sage-egress0".to_owned(),
    };
    sage_worker::docker::ensure_egress_network(&docker, &egress)
        .await
        .unwrap();
    let network = docker.inspect_network(&egress.name, None).await.unwrap();
    let options = network.options.unwrap();
    assert_eq!(options["com.docker.network.bridge.enable_icc"], "false");
    assert_eq!(options["com.docker.network.bridge.name"], "sage-egress0");
    let gateway = network.ipam.unwrap().config.unwrap()[0]
        .gateway
        .clone()
        .unwrap();

    // The sandbox only reads its own routing table: no packet leaves it.
    let code = r#"
import socket, struct
for row in open("/proc/net/route").read().splitlines()[1:]:
    device, destination, gateway = row.split()[:3]
    if destination == "00000000":
        print("default via", socket.inet_ntoa(struct.pack("<L", int(gateway, 16))), "on", device)
"#;
    let (id, mut spec) = python(code);
    spec.network = Network::for_module(NetworkPolicy::Egress, &egress.name);
    let (finished, output) = run(&docker, &id, &spec, bounds(30, 1 << 20)).await;
    assert_eq!(finished.end, End::As(EndReason::Succeeded));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.trim(), format!("default via {gateway} on eth0"));

    // The rules of dev/egress-firewall.sh, read back from the host's tables.
    let rules = |table: &str, chain: &str| {
        #[allow(clippy::disallowed_methods, reason = "reads the host's firewall rules")]
        let output = std::process::Command::new("iptables")
            .args(["-t", table, "-S", chain])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // Only answers to connections the host opened itself come through.
    assert!(
        rules("mangle", "PREROUTING").contains(
            "-A PREROUTING -i sage-egress0 -m addrtype --dst-type LOCAL \
             -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP"
        ),
        "egress sandboxes reach none of the host's own addresses, published ports included"
    );
    assert!(
        rules("filter", "DOCKER-USER")
            .contains("-A DOCKER-USER -d 169.254.0.0/16 -i sage-egress0 -j DROP"),
        "nor the link-local metadata addresses"
    );
}

/// The emulator's network, as dev/emulator.env names it for the tests' workers.
const EMULATOR_NETWORK: &str = "sage-emulator";

#[tokio::test]
async fn a_sandbox_on_the_emulators_network_reaches_the_emulator_and_no_other_sandbox() {
    let docker = docker().await;
    // A neighbour: another sandbox on the same network, listening on a port.
    let listen = "import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', 8000))\ns.listen()\ntime.sleep(60)";
    let (neighbour_id, mut neighbour) = python(listen);
    neighbour.network = Network::for_module(NetworkPolicy::Egress, EMULATOR_NETWORK);
    let neighbour_task = {
        let (docker, id) = (docker.clone(), neighbour_id.clone());
        tokio::spawn(async move { run(&docker, &id, &neighbour, bounds(60, 1 << 20)).await })
    };
    let name = format!("sage-test-{neighbour_id}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let address = loop {
        let address = docker
            .inspect_container(&name, None)
            .await
            .ok()
            .and_then(|container| container.network_settings?.networks)
            .and_then(|networks| networks.get(EMULATOR_NETWORK)?.ip_address.clone())
            .filter(|address| !address.is_empty());
        if let Some(address) = address {
            break address;
        }
        assert!(Instant::now() < deadline, "the neighbour never started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The neighbour does listen: the host reaches it, so "unreachable" below is the
    // network's doing.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect((address.as_str(), 8000))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the neighbour never listened");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let probe = format!(
        r#"
import socket
for label, target in (("emulator", ("moto", 5000)), ("neighbour", ("{address}", 8000))):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(target)
        print(label, "reached")
    except OSError:
        print(label, "unreachable")
"#
    );
    let (id, mut spec) = python(&probe);
    spec.network = Network::for_module(NetworkPolicy::Egress, EMULATOR_NETWORK);
    let (finished, output) = run(&docker, &id, &spec, bounds(30, 1 << 20)).await;
    neighbour_task.abort();
    let _ = docker
        .remove_container(
            &name,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await;
    assert_eq!(finished.end, End::As(EndReason::Succeeded));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "emulator reached\nneighbour unreachable"
    );
}
