//! The scanner drivers' command lines for every cloud each tool scans: the credentials
//! each needs, no secret on a command line, and every option known to the real tool
//! (its `--help` in the scanner image, run with no network); the tool inputs (kubeconfig,
//! GCP key, Custodian policy) and the names of checks, services and frameworks checked
//! again by the drivers inside the sandbox. The checks themselves are
//! Python, like the drivers (`tests/drivers/check_drivers.py`).

use std::path::Path;

#[test]
fn each_cloud_gets_the_command_line_its_tool_takes() {
    let checks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/drivers/check_drivers.py");
    #[expect(
        clippy::disallowed_methods,
        reason = "the drivers are Python and are checked by Python"
    )]
    let output = std::process::Command::new("python3")
        .arg(&checks)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Ran 8 tests"), "{text}");
}
