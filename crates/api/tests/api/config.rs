//! The binary refuses bad configuration at start, naming each bad variable.

use std::process::{Command, Stdio};

#[test]
#[allow(clippy::disallowed_methods, reason = "runs the real binary")]
fn the_binary_refuses_bad_values_naming_each_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_sage-api"))
        .env_clear()
        .env("DATABASE_URL", "mysql://nope")
        .env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
        .env("REDIS_URL", "redis://127.0.0.1:6379/0")
        .env("S3_BUCKET", "sage-artifacts")
        .env("API_BIND", "not-an-address")
        .env("LOG_FORMAT", "xml")
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in ["DATABASE_URL", "API_BIND", "LOG_FORMAT"] {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
    assert!(
        !stderr.contains("mysql://nope"),
        "values that may hold secrets are not echoed"
    );
}

#[test]
#[allow(clippy::disallowed_methods, reason = "runs the real binary")]
fn the_binary_names_every_missing_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_sage-api"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in ["DATABASE_URL", "AMQP_URL", "REDIS_URL", "S3_BUCKET"] {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
}
