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
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::api;
use crate::client::{Client, ClientError, Identity, chain};
use crate::credentials::{Credentials, Store};

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
/// How long a browser sign-in may take before `sage` stops waiting.
const BROWSER_WAIT: Duration = Duration::from_secs(300);
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What `sage` needs of the issuer's discovery document.
#[derive(Debug, Deserialize)]
struct Issuer {
    issuer: String,
    token_endpoint: String,
    authorization_endpoint: String,
    device_authorization_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
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
    expires_in: Option<i64>,
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

#[derive(Debug, Deserialize)]
struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    interval: Option<u64>,
}

fn refused(message: impl Into<String>) -> ClientError {
    ClientError::SignIn(message.into())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        // Calls are seconds apart (a device grant's polls); an idle connection kept for
        // the next would race the issuer closing it (Node closes them after 5 s).
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_default()
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

async fn device_flow(
    http: &reqwest::Client,
    at: &Registration,
    endpoint: &str,
) -> Result<Tokens, ClientError> {
    let started = post_form::<DeviceAuthorization>(
        http,
        endpoint,
        &[("client_id", &at.client_id), ("scope", &at.scopes)],
    )
    .await?
    .map_err(|e| refused(format!("the issuer refused to start a sign-in: {e}")))?;
    let address = started
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&started.verification_uri);
    eprintln!(
        "sage: to sign in, open {address} in a browser and confirm the code {} (it expires in {} minutes)",
        started.user_code,
        started.expires_in.div_ceil(60)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(started.expires_in);
    // RFC 8628 3.5: 5 seconds unless the issuer says otherwise, 5 more at each slow_down.
    let mut interval = Duration::from_secs(started.interval.unwrap_or(5).max(1));
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
        .await?;
        match answer {
            Ok(tokens) => return Ok(tokens),
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
            Err(e) => return Err(refused(format!("the issuer refused the sign-in: {e}"))),
        }
    }
}

async fn browser_flow(http: &reqwest::Client, at: &Registration) -> Result<Tokens, ClientError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| refused(format!("no port on 127.0.0.1 to be redirected to: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| refused(format!("no port on 127.0.0.1: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let verifier = random(32)?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random(16)?;
    let mut address = Url::parse(&at.issuer.authorization_endpoint)
        .map_err(|e| ClientError::Unreadable(format!("authorization_endpoint: {e}")))?;
    address
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &at.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &at.scopes)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    eprintln!("sage: to sign in, open this address in a browser on this machine:\n  {address}");
    let code = tokio::time::timeout(BROWSER_WAIT, redirected(&listener, &state))
        .await
        .map_err(|_| refused("nobody signed in within 5 minutes: run sage login again"))??;
    post_form::<Tokens>(
        http,
        &at.issuer.token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", &at.client_id),
            ("code_verifier", &verifier),
        ],
    )
    .await?
    .map_err(|e| refused(format!("the issuer refused the code: {e}")))
}

/// Waits for the browser to come back to `/callback` with this sign-in's `state`, and
/// answers it; the code, or the issuer's refusal. Anything else asked of the port
/// (a favicon, a stranger) gets a 404 and changes nothing.
async fn redirected(listener: &TcpListener, state: &str) -> Result<String, ClientError> {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let Some(target) = request_target(&mut stream).await else {
            continue;
        };
        let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else {
            continue;
        };
        if url.path() != "/callback" {
            answer(&mut stream, "404 Not Found", "Not found.").await;
            continue;
        }
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        if query.get("state").map(String::as_str) != Some(state) {
            answer(
                &mut stream,
                "400 Bad Request",
                "This is not the sign-in sage asked for.",
            )
            .await;
            continue;
        }
        if let Some(error) = query.get("error") {
            answer(
                &mut stream,
                "200 OK",
                "The sign-in was refused. You may close this page.",
            )
            .await;
            let description = query
                .get("error_description")
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(refused(format!(
                "the issuer refused the sign-in: {error}{description}"
            )));
        }
        if let Some(code) = query.get("code") {
            answer(
                &mut stream,
                "200 OK",
                "Signed in to sage. You may close this page.",
            )
            .await;
            return Ok(code.clone());
        }
        answer(&mut stream, "400 Bad Request", "No code.").await;
    }
}

/// The target of an HTTP request line (`GET /callback?… HTTP/1.1`), read from at most
/// 16 KiB of headers.
async fn request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .ok()?
            .ok()?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = head.split(|b| *b == b'\n').next()?;
    let mut parts = std::str::from_utf8(line).ok()?.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    }
}

async fn answer(stream: &mut TcpStream, status: &str, text: &str) {
    let page = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    // The browser's page is a courtesy: the sign-in stands or falls without it.
    let _ = stream.write_all(page.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn expiry(tokens: &Tokens) -> chrono::DateTime<Utc> {
    // Without expires_in, a token is taken to last an hour; the api says when it does not.
    Utc::now() + chrono::TimeDelta::seconds(tokens.expires_in.unwrap_or(3600))
}

/// Signs in to the api at `api.base()` and keeps the sign-in.
pub async fn login(api: &Client, store: &Store, flow: Flow) -> Result<Credentials, ClientError> {
    let http = http();
    let at = discover(api, &http).await?;
    let tokens = match (flow, at.issuer.device_authorization_endpoint.as_deref()) {
        (Flow::Auto | Flow::Device, Some(endpoint)) => device_flow(&http, &at, endpoint).await?,
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
        &http(),
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
        Err(e) => {
            store.remove(url, &held)?;
            Err(refused(format!(
                "your sign-in to {url} has ended ({e}): run sage login"
            )))
        }
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
    let http = http();
    if let Some(refresh_token) = &kept.refresh_token {
        revoke(&http, endpoint, &kept.client_id, refresh_token, "refresh_token")
            .await?
            .map_err(|e| {
                refused(format!(
                    "the sign-in is forgotten here, but the issuer refused to revoke its refresh token: {e}"
                ))
            })?;
    }
    let revoked = match revoke(
        &http,
        endpoint,
        &kept.client_id,
        &kept.access_token,
        "access_token",
    )
    .await?
    {
        Ok(()) => Revoked::Both,
        // RFC 7009 2.2.1: an issuer may decline to revoke a kind of token.
        Err(e) if e.error == "unsupported_token_type" => Revoked::RefreshOnly {
            access_until: kept.expires_at,
        },
        Err(e) => {
            return Err(refused(format!(
                "the sign-in is forgotten here, but the issuer refused to revoke its access token: {e}"
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
    if status == StatusCode::OK {
        return Ok(Ok(()));
    }
    let body = response.bytes().await.unwrap_or_default();
    Ok(Err(serde_json::from_slice(&body).unwrap_or(OAuthError {
        error: format!("the issuer answered {status}"),
        error_description: None,
    })))
}
