//! Google credentials: a service account key with its own fields and Google's
//! endpoints; no other credential type.

use serde_json::{Value, json};

use super::{CheckedInput, InputError, is_base64, not_accepted, object, required, text};

pub(super) const RULE: &str = "a GCP credential here is a service account key (type service_account) with its own fields only";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

pub(super) fn check(document: &Value) -> Result<CheckedInput, InputError> {
    let key = object(
        document,
        "",
        &[
            "type",
            "project_id",
            "private_key_id",
            "private_key",
            "client_email",
            "client_id",
            "auth_uri",
            "token_uri",
            "auth_provider_x509_cert_url",
            "client_x509_cert_url",
            "universe_domain",
        ],
        RULE,
    )?;
    if key.get("type").and_then(Value::as_str) != Some("service_account") {
        return Err(not_accepted(
            "type",
            "only a service account key (type service_account) is a credential here: other types (external_account, authorized_user, impersonated_service_account) can read files and call URLs",
        ));
    }
    let private_key = required(
        key,
        "",
        "private_key",
        is_pem_private_key,
        "must be a PEM private key (-----BEGIN PRIVATE KEY-----)",
    )?;
    let email = required(
        key,
        "",
        "client_email",
        is_service_account_email,
        "must be a service account's email (…@….gserviceaccount.com)",
    )?;
    let project = text(
        key,
        "",
        "project_id",
        is_project_id,
        "must be a GCP project id",
    )?;
    let key_id = text(
        key,
        "",
        "private_key_id",
        |id| (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit()),
        "must be hexadecimal",
    )?;
    let client_id = text(
        key,
        "",
        "client_id",
        |id| (1..=32).contains(&id.len()) && id.chars().all(|c| c.is_ascii_digit()),
        "must be digits",
    )?;
    // Google's own endpoints only: a key's token_uri is where the signed grant goes.
    for (field, expected) in [
        ("token_uri", GOOGLE_TOKEN_URI),
        ("auth_uri", "https://accounts.google.com/o/oauth2/auth"),
        (
            "auth_provider_x509_cert_url",
            "https://www.googleapis.com/oauth2/v1/certs",
        ),
        ("universe_domain", "googleapis.com"),
    ] {
        if key.get(field).is_some_and(|v| v.as_str() != Some(expected)) {
            return Err(not_accepted(field, "must be Google's own endpoint"));
        }
    }
    let cert_url_ok = |url: &str| {
        url.strip_prefix("https://www.googleapis.com/robot/v1/metadata/x509/")
            .is_some_and(|rest| {
                rest.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "%@.-_".contains(c))
            })
    };
    text(
        key,
        "",
        "client_x509_cert_url",
        cert_url_ok,
        "must be Google's own endpoint",
    )?;
    let mut rebuilt = json!({
        "type": "service_account",
        "private_key": private_key,
        "client_email": email,
        "token_uri": GOOGLE_TOKEN_URI,
    });
    for (field, value) in [
        ("project_id", project),
        ("private_key_id", key_id),
        ("client_id", client_id),
    ] {
        if let Some(value) = value {
            rebuilt[field] = json!(value);
        }
    }
    Ok(CheckedInput {
        content: rebuilt.to_string(),
        secrets: vec![private_key.to_owned()],
    })
}

fn is_pem_private_key(pem: &str) -> bool {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")
        .and_then(|rest| rest.strip_suffix("-----END PRIVATE KEY-----"));
    body.is_some_and(is_base64)
}

fn is_service_account_email(email: &str) -> bool {
    let Some((account, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !account.is_empty()
        && account
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && domain.ends_with(".gserviceaccount.com")
        && domain
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c))
}

/// GCP project ids: 6 to 30 of a-z, 0-9 and '-', starting with a letter; older ones may
/// carry a domain (`example.com:project`).
fn is_project_id(id: &str) -> bool {
    let name = id.rsplit(':').next().unwrap_or_default();
    id.len() <= 100
        && (6..=30).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-:".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::inputs::{ToolInput, refusal};

    fn gcp(fields: Value) -> String {
        let mut key = json!({
            "type": "service_account",
            "project_id": "sage-scan-1",
            "private_key_id": "0123abcd",
            "private_key": "-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NCS2N3Z2dTakFnRUFBb0lCQVFD\n-----END PRIVATE KEY-----\n",
            "client_email": "scanner@sage-scan-1.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        for (field, value) in fields.as_object().unwrap() {
            key[field] = value.clone();
        }
        key.to_string()
    }

    #[test]
    fn a_gcp_credential_is_a_service_account_key_and_nothing_else() {
        let checked = ToolInput::GcpServiceAccountKey
            .check(&gcp(json!({})))
            .unwrap();
        let rebuilt: Value = serde_json::from_str(&checked.content).unwrap();
        assert_eq!(rebuilt["token_uri"], GOOGLE_TOKEN_URI);
        assert_eq!(checked.secrets.len(), 1);
        let external = json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://attacker.example/token",
            "credential_source": {"file": "/proc/self/environ"},
        });
        // Keys are read in order: the first foreign one is named.
        assert!(
            refusal(ToolInput::GcpServiceAccountKey, &external.to_string())
                .starts_with("audience is not accepted")
        );
        for (fields, expected) in [
            (json!({"type": "external_account"}), "type is not accepted"),
            (json!({"type": "authorized_user"}), "type is not accepted"),
            (
                json!({"token_uri": "https://attacker.example/token"}),
                "token_uri is not accepted",
            ),
            (
                json!({"credential_source": {"file": "/proc/self/environ"}}),
                "credential_source is not accepted",
            ),
            (
                json!({"private_key": "not a key"}),
                "private_key must be a PEM",
            ),
            (
                json!({"client_email": "someone@example.com"}),
                "client_email must be a service account",
            ),
        ] {
            let why = refusal(ToolInput::GcpServiceAccountKey, &gcp(fields.clone()));
            assert!(why.starts_with(expected), "{fields}: {why}");
        }
    }
}
