//! The device authorization grant (RFC 8628): a code confirmed in any browser, polled
//! for at the issuer's pace.

use super::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Debug, Deserialize)]
pub(super) struct DeviceAuthorization {
    pub(super) device_code: String,
    pub(super) user_code: String,
    /// Google names it `verification_url`.
    #[serde(alias = "verification_url")]
    pub(super) verification_uri: String,
    pub(super) verification_uri_complete: Option<String>,
    #[serde(deserialize_with = "seconds")]
    pub(super) expires_in: Option<u64>,
    #[serde(default, deserialize_with = "seconds")]
    pub(super) interval: Option<u64>,
}

/// The device grant: the tokens, or the issuer's refusal to start it for this client.
pub(super) async fn device_flow(
    http: &reqwest::Client,
    at: &Registration,
    endpoint: &str,
) -> Result<Result<Tokens, DeviceRefused>, ClientError> {
    let mut form = vec![("client_id", at.client_id.as_str())];
    if !at.scopes.is_empty() {
        form.push(("scope", &at.scopes));
    }
    let started = match post_form::<DeviceAuthorization>(http, endpoint, &form).await? {
        Ok(started) => started,
        Err(refusal) => return Ok(Err(DeviceRefused(refusal))),
    };
    let address = printable(
        started
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&started.verification_uri),
    );
    let lifetime = clamp(started.expires_in.unwrap_or(600));
    eprintln!(
        "sage: to sign in, open {address} in a browser and confirm the code {} (it expires in {} minutes)",
        printable(&started.user_code),
        lifetime.div_ceil(60)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(lifetime);
    // RFC 8628 3.5: 5 seconds unless the issuer says otherwise, 5 more at each slow_down.
    let mut interval = Duration::from_secs(clamp(started.interval.unwrap_or(5)).max(1));
    loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() > deadline {
            return Err(refused(
                "the code expired before it was confirmed: run sage login again",
            ));
        }
        let answer = post_form::<Tokens>(
            http,
            &at.issuer.token_endpoint,
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", &started.device_code),
                ("client_id", &at.client_id),
            ],
        )
        .await;
        // RFC 8628 3.5: a poll that fails on the way is tried again, less often.
        let Ok(answer) = answer else {
            interval += Duration::from_secs(5);
            continue;
        };
        match answer {
            Ok(tokens) => return Ok(Ok(tokens)),
            Err(e) if e.error == "authorization_pending" => {}
            Err(e) if e.error == "slow_down" => interval += Duration::from_secs(5),
            Err(e) if e.error == "access_denied" => {
                return Err(refused("the sign-in was refused at the issuer"));
            }
            Err(e) if e.error == "expired_token" => {
                return Err(refused(
                    "the code expired before it was confirmed: run sage login again",
                ));
            }
            Err(e) => {
                return Err(refused(format!(
                    "the issuer refused the sign-in: {}",
                    printable(&e.to_string())
                )));
            }
        }
    }
}

/// The issuer would not start a device sign-in for this client: in `auto`, the browser
/// is tried instead (issuers list the grant whether or not a client may use it).
pub(super) struct DeviceRefused(pub(super) OAuthError);

impl DeviceRefused {
    pub(super) fn for_this_client(&self) -> bool {
        matches!(
            self.0.error.as_str(),
            "unauthorized_client"
                | "invalid_client"
                | "unsupported_grant_type"
                | "invalid_grant"
                | "invalid_request"
        )
    }
}

impl From<DeviceRefused> for ClientError {
    fn from(refusal: DeviceRefused) -> Self {
        refused(format!(
            "the issuer refused to start a sign-in: {}",
            printable(&refusal.0.to_string())
        ))
    }
}
