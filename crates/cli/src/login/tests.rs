use super::device::DeviceAuthorization;
use super::*;
#[test]
fn tokens_travel_over_https_or_to_this_machine_only() {
    for allowed in [
        "https://id.example.com",
        "http://127.0.0.1:8080",
        "http://localhost:3000/x",
        "http://[::1]:9/",
    ] {
        assert!(require_https("the issuer", allowed).is_ok(), "{allowed}");
    }
    for refused in [
        "http://id.example.com",
        "http://10.0.0.1",
        "ftp://127.0.0.1",
        "id.example.com",
    ] {
        let why = require_https("the issuer", refused)
            .err()
            .unwrap()
            .to_string();
        assert!(why.contains("is not https"), "{refused}: {why}");
    }
}

#[test]
fn issuers_answers_are_read_as_the_common_ones_write_them() {
    // Google's field name; Azure AD v1's figures as strings.
    let device: DeviceAuthorization = serde_json::from_value(serde_json::json!({
        "device_code": "d", "user_code": "U", "verification_url": "https://g.co/device",
        "expires_in": "1800", "interval": "5"
    }))
    .unwrap();
    assert_eq!(device.verification_uri, "https://g.co/device");
    assert_eq!((device.expires_in, device.interval), (Some(1800), Some(5)));
    let tokens: Tokens = serde_json::from_value(
        serde_json::json!({"access_token": "a", "expires_in": 99999999999u64}),
    )
    .unwrap();
    assert!(
        expiry(&tokens) < Utc::now() + chrono::TimeDelta::days(367),
        "clamped to a year"
    );
}

#[test]
fn the_issuers_text_cannot_drive_the_terminal() {
    assert_eq!(printable("ABCD\u{1b}[2J-EFGH\u{7}"), "ABCD[2J-EFGH");
}
