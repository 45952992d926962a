//! `sage login` and `logout`, and the bearer token of a kept sign-in. The api names its
//! issuer and `sage`'s public client there (`GET /api/v1/sign-in`); `sage` signs in with
//! the OAuth 2.0 device authorization grant (RFC 8628) when the issuer offers it, else
//! the authorization code with PKCE on a loopback redirect (RFC 8252), renews tokens
//! with the refresh token and revokes them at sign-out (RFC 7009).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use clap::ValueEnum;
use reqwest::Url;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::api;
use crate::client::{Client, ClientError, Identity, chain};
use crate::credentials::{Credentials, Store};

mod browser;
mod device;
#[cfg(test)]
mod tests;

use browser::browser_flow;
use device::device_flow;

/// How `sage login` reaches the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flow {
    /// The device grant when the issuer offers it, else the browser on this machine.
    Auto,
    /// A code confirmed on any device's browser (RFC 8628).
    Device,
    /// A browser on this machine, redirected back to a port of 127.0.0.1 (RFC 8252).
    Browser,
}

/// A token counts as spent this long before it expires, so a request never carries one
/// that lapses on the way.
const EARLY: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// What `sage` needs of the issuer's discovery document.
#[derive(Debug, Deserialize)]
struct Issuer {
    issuer: String,
    token_endpoint: String,
    authorization_endpoint: String,
    device_authorization_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
}

/// The api's issuer and `sage`'s client registered there.
struct Registration {
    issuer: Issuer,
    client_id: String,
    scopes: String,
}

#[derive(Debug, Deserialize)]
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<u64>,
}

/// A number of seconds, as a number or (Azure AD v1, ADFS) a string of digits.
fn seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
    }
    match Option::<Seconds>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Seconds::Number(n)) => Ok(Some(n)),
        Some(Seconds::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// At most a year: an issuer's figure is clamped before it is added to a time.
fn clamp(seconds: u64) -> u64 {
    seconds.min(366 * 24 * 3600)
}

/// An OAuth error answer (RFC 6749 5.2).
#[derive(Debug, Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error_description {
            Some(description) => write!(f, "{} ({description})", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// Text from the issuer as it may be printed: no control characters (a terminal's
/// escape sequences).
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// Whether plain http may carry tokens to `url`: only to this machine.
pub fn loopback(url: &str) -> bool {
    Url::parse(url).is_ok_and(|url| {
        let host = url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// Refuses an address tokens would travel to in the clear, beyond this machine.
pub fn require_https(what: &str, url: &str) -> Result<(), ClientError> {
    if url.starts_with("https://") || (url.starts_with("http://") && loopback(url)) {
        Ok(())
    } else {
        Err(refused(format!(
            "{what} {url} is not https: tokens go only over https (or plain http to this machine)"
        )))
    }
}

fn refused(message: impl Into<String>) -> ClientError {
    ClientError::SignIn(message.into())
}

fn http() -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        // Calls are seconds apart (a device grant's polls); an idle connection kept for
        // the next would race the issuer closing it (Node closes them after 5 s).
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| ClientError::Unreadable(format!("no HTTP client: {}", chain(&e))))
}

async fn get_json<T: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, ClientError> {
    let unreachable = |e: reqwest::Error| ClientError::Unreachable {
        url: url.to_owned(),
        why: chain(&e),
    };
    let response = http.get(url).send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(ClientError::Unreachable {
            url: url.to_owned(),
            why: format!("it answered {status}"),
        });
    }
    serde_json::from_slice(&body).map_err(|e| ClientError::Unreadable(format!("{url}: {e}")))
}

/// Posts a form to the issuer: its tokens, or its OAuth error.
async fn post_form<T: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Result<T, OAuthError>, ClientError> {
    let unreachable = |e: reqwest::Error| ClientError::Unreachable {
        url: url.to_owned(),
        why: chain(&e),
    };
    let response = http
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if status.is_success() {
        serde_json::from_slice(&body)
            .map(Ok)
            .map_err(|e| ClientError::Unreadable(format!("{url}: {e}")))
    } else {
        Ok(Err(serde_json::from_slice(&body).unwrap_or(OAuthError {
            error: format!("the issuer answered {status}"),
            error_description: None,
        })))
    }
}

/// The api's issuer, from its sign-in view and the issuer's own discovery document.
async fn discover(api: &Client, http: &reqwest::Client) -> Result<Registration, ClientError> {
    let view = api.sign_in().await?;
    let (issuer, client_id, scopes) = match view {
        api::SignInView::DemoHeader { .. } => {
            return Err(refused(format!(
                "{} signs nobody in: it runs in demo mode (use --demo-user EMAIL)",
                api.base()
            )));
        }
        api::SignInView::Oidc {
            issuer,
            cli_client_id,
            scopes,
            ..
        } => (
            issuer,
            cli_client_id.ok_or_else(|| {
                refused(format!(
                    "{} names no client for sage at its issuer (its OIDC_CLI_CLIENT_ID is not set)",
                    api.base()
                ))
            })?,
            scopes,
        ),
    };
    let well_known = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let document: Issuer = get_json(http, &well_known).await?;
    // RFC 8414 3.3: the document must be the named issuer's own.
    if document.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(refused(format!(
            "{well_known} says it is issuer {}, not {issuer}",
            document.issuer
        )));
    }
    for (what, endpoint) in [
        ("token_endpoint", Some(&document.token_endpoint)),
        (
            "authorization_endpoint",
            Some(&document.authorization_endpoint),
        ),
        (
            "device_authorization_endpoint",
            document.device_authorization_endpoint.as_ref(),
        ),
        ("revocation_endpoint", document.revocation_endpoint.as_ref()),
    ] {
        if let Some(endpoint) = endpoint {
            require_https(what, endpoint)?;
        }
    }
    // A refresh token, where the issuer makes it depend on offline_access (Okta,
    // Azure AD, Auth0), so a sign-in outlives its first access token.
    let mut scopes: Vec<&str> = scopes.split_whitespace().collect();
    if document
        .scopes_supported
        .iter()
        .any(|s| s == "offline_access")
        && !scopes.contains(&"offline_access")
    {
        scopes.push("offline_access");
    }
    let scopes = scopes.join(" ");
    Ok(Registration {
        issuer: document,
        client_id,
        scopes,
    })
}

fn random(bytes: usize) -> Result<String, ClientError> {
    let mut buffer = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buffer)
        .map_err(|_| refused("no randomness from the system"))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

fn expiry(tokens: &Tokens) -> chrono::DateTime<Utc> {
    // Without expires_in, a token is taken to last an hour; the api says when it does not.
    let seconds = i64::try_from(clamp(tokens.expires_in.unwrap_or(3600))).unwrap_or(3600);
    Utc::now() + chrono::TimeDelta::seconds(seconds)
}

/// Signs in to the api at `api.base()` and keeps the sign-in.
pub async fn login(api: &Client, store: &Store, flow: Flow) -> Result<Credentials, ClientError> {
    let http = http()?;
    let at = discover(api, &http).await?;
    let tokens = match (flow, at.issuer.device_authorization_endpoint.as_deref()) {
        (Flow::Device, Some(endpoint)) => device_flow(&http, &at, endpoint)
            .await?
            .map_err(ClientError::from)?,
        (Flow::Auto, Some(endpoint)) => match device_flow(&http, &at, endpoint).await? {
            Ok(tokens) => tokens,
            Err(refusal) if refusal.for_this_client() => {
                eprintln!(
                    "sage: the issuer lists the device grant but refused it to this client ({}); signing in through a browser instead",
                    printable(&refusal.0.to_string())
                );
                browser_flow(&http, &at).await?
            }
            Err(refusal) => return Err(refusal.into()),
        },
        (Flow::Device, None) => {
            return Err(refused(format!(
                "{} offers no device authorization grant: use --flow browser",
                at.issuer.issuer
            )));
        }
        (Flow::Auto | Flow::Browser, _) => browser_flow(&http, &at).await?,
    };
    // The api must take the token before it is kept.
    let me = api
        .with_identity(Identity::Token(tokens.access_token.clone()))
        .me()
        .await?;
    let credentials = Credentials {
        issuer: at.issuer.issuer.clone(),
        client_id: at.client_id,
        token_endpoint: at.issuer.token_endpoint,
        revocation_endpoint: at.issuer.revocation_endpoint,
        expires_at: expiry(&tokens),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        email: me.email,
    };
    let held = store.lock()?;
    store.put(api.base(), credentials.clone(), &held)?;
    Ok(credentials)
}

/// The access token kept for `url`, renewed first when it is about to expire; `None`
/// when nobody signed in there.
pub async fn bearer(store: &Store, url: &str) -> Result<Option<String>, ClientError> {
    let fresh = |c: &Credentials| c.expires_at - EARLY > Utc::now();
    match store.get(url)? {
        None => return Ok(None),
        Some(kept) if fresh(&kept) => return Ok(Some(kept.access_token)),
        Some(_) => {}
    }
    // Another process may have renewed it while this one waited for the lock.
    let held = store.lock()?;
    let Some(mut kept) = store.get(url)? else {
        return Ok(None);
    };
    if fresh(&kept) {
        return Ok(Some(kept.access_token));
    }
    let Some(refresh_token) = kept.refresh_token.clone() else {
        return Err(refused(format!(
            "your sign-in to {url} has expired: run sage login"
        )));
    };
    let answer = post_form::<Tokens>(
        &http()?,
        &kept.token_endpoint,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", &kept.client_id),
        ],
    )
    .await?;
    match answer {
        Ok(tokens) => {
            kept.expires_at = expiry(&tokens);
            kept.access_token = tokens.access_token;
            if tokens.refresh_token.is_some() {
                kept.refresh_token = tokens.refresh_token;
            }
            store.put(url, kept.clone(), &held)?;
            Ok(Some(kept.access_token))
        }
        // The grant itself is gone: forget it.
        Err(e)
            if matches!(
                e.error.as_str(),
                "invalid_grant" | "invalid_client" | "unauthorized_client"
            ) =>
        {
            store.remove(url, &held)?;
            Err(refused(format!(
                "your sign-in to {url} has ended ({}): run sage login",
                printable(&e.to_string())
            )))
        }
        // The issuer is down or overloaded: the sign-in is kept for the next try.
        Err(e) => Err(ClientError::Unreachable {
            url: kept.token_endpoint.clone(),
            why: format!(
                "the token could not be renewed ({}); try again",
                printable(&e.to_string())
            ),
        }),
    }
}

/// What `sage logout` did.
pub enum SignedOut {
    NotSignedIn,
    /// Forgotten here, and at the issuer as far as it revokes.
    Forgotten {
        email: String,
        revoked: Revoked,
    },
}

pub enum Revoked {
    /// The issuer offers no revocation: the tokens live until they expire.
    Nothing,
    Both,
    /// The issuer revoked the refresh token but not the access token (a JWT, checked
    /// by the api on its own), which lives until this moment.
    RefreshOnly {
        access_until: chrono::DateTime<Utc>,
    },
}

/// Forgets the sign-in for `url` and revokes its tokens at the issuer: the refresh
/// token first, since it outlives the access token.
pub async fn logout(store: &Store, url: &str) -> Result<SignedOut, ClientError> {
    let held = store.lock()?;
    let Some(kept) = store.remove(url, &held)? else {
        return Ok(SignedOut::NotSignedIn);
    };
    drop(held);
    let Some(endpoint) = &kept.revocation_endpoint else {
        return Ok(SignedOut::Forgotten {
            email: kept.email,
            revoked: Revoked::Nothing,
        });
    };
    let http = http()?;
    // Both are tried whatever the first answers; the refresh token first, since it
    // outlives the access token.
    let refresh = match &kept.refresh_token {
        Some(token) => Some(revoke(&http, endpoint, &kept.client_id, token, "refresh_token").await),
        None => None,
    };
    let access = revoke(
        &http,
        endpoint,
        &kept.client_id,
        &kept.access_token,
        "access_token",
    )
    .await;
    if let Some(refresh) = refresh {
        refresh?.map_err(|e| {
            refused(format!(
                "the sign-in is forgotten here, but the issuer refused to revoke its refresh token: {}",
                printable(&e.to_string())
            ))
        })?;
    }
    let revoked = match access? {
        Ok(()) => Revoked::Both,
        // RFC 7009 2.2.1: an issuer may decline to revoke a kind of token.
        Err(e) if e.error == "unsupported_token_type" => Revoked::RefreshOnly {
            access_until: kept.expires_at,
        },
        Err(e) => {
            return Err(refused(format!(
                "the sign-in is forgotten here, but the issuer refused to revoke its access token: {}",
                printable(&e.to_string())
            )));
        }
    };
    Ok(SignedOut::Forgotten {
        email: kept.email,
        revoked,
    })
}

async fn revoke(
    http: &reqwest::Client,
    endpoint: &str,
    client_id: &str,
    token: &str,
    hint: &str,
) -> Result<Result<(), OAuthError>, ClientError> {
    let form = [
        ("token", token),
        ("token_type_hint", hint),
        ("client_id", client_id),
    ];
    let response =
        http.post(endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: endpoint.to_owned(),
                why: format!(
                    "the sign-in is forgotten here, but its {hint} was not revoked: {}",
                    chain(&e)
                ),
            })?;
    // RFC 7009 2.2: 200 whether or not the token was still valid.
    let status = response.status();
    if status.is_success() {
        return Ok(Ok(()));
    }
    let body = response.bytes().await.unwrap_or_default();
    Ok(Err(serde_json::from_slice(&body).unwrap_or(OAuthError {
        error: format!("the issuer answered {status}"),
        error_description: None,
    })))
}
