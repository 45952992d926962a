//! The authorization code with PKCE on a loopback redirect (RFC 8252): a browser on this
//! machine, sent back to a port of 127.0.0.1 that `sage` listens on alone.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// How long a browser sign-in may take before `sage` stops waiting.
const BROWSER_WAIT: Duration = Duration::from_secs(300);

pub(super) async fn browser_flow(
    http: &reqwest::Client,
    at: &Registration,
) -> Result<Tokens, ClientError> {
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
    {
        let mut query = address.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &at.client_id)
            .append_pair("redirect_uri", &redirect_uri);
        if !at.scopes.is_empty() {
            query.append_pair("scope", &at.scopes);
        }
    }
    address
        .query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    eprintln!("sage: to sign in, open this address in a browser on this machine:\n  {address}");
    let code = tokio::time::timeout(
        BROWSER_WAIT,
        redirected(&listener, &state, &at.issuer.issuer),
    )
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
    .map_err(|e| {
        refused(format!(
            "the issuer refused the code: {}",
            printable(&e.to_string())
        ))
    })
}

/// Waits for the browser to come back to `/callback` with this sign-in's `state` (and,
/// where the issuer names itself there, RFC 9207, its `iss`), and answers it; the code,
/// or the issuer's refusal. Each connection is read on a task of its own within 5
/// seconds, so an idle one (a browser's preconnect) holds nothing up; anything else
/// asked of the port gets a 4xx and changes nothing.
async fn redirected(
    listener: &TcpListener,
    state: &str,
    issuer: &str,
) -> Result<String, ClientError> {
    let (found, mut callbacks) = tokio::sync::mpsc::channel::<(TcpStream, Url)>(8);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut stream, _)) = accepted else { continue };
                let found = found.clone();
                tokio::spawn(async move {
                    let target = tokio::time::timeout(Duration::from_secs(5), request_target(&mut stream)).await;
                    let url = target.ok().flatten().and_then(|t| Url::parse(&format!("http://127.0.0.1{t}")).ok());
                    match url {
                        Some(url) if url.path() == "/callback" => drop(found.send((stream, url)).await),
                        Some(_) => answer(&mut stream, "404 Not Found", "Not found.").await,
                        None => answer(&mut stream, "400 Bad Request", "Not a request.").await,
                    }
                });
            }
            Some((mut stream, url)) = callbacks.recv() => {
                let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
                let from_issuer = query.get("iss").is_none_or(|iss| iss.trim_end_matches('/') == issuer.trim_end_matches('/'));
                if query.get("state").map(String::as_str) != Some(state) || !from_issuer {
                    answer(&mut stream, "400 Bad Request", "This is not the sign-in sage asked for.").await;
                    continue;
                }
                if let Some(error) = query.get("error") {
                    answer(&mut stream, "200 OK", "The sign-in was refused. You may close this page.").await;
                    let description = query.get("error_description").map(|d| format!(" ({d})")).unwrap_or_default();
                    return Err(refused(printable(&format!("the issuer refused the sign-in: {error}{description}"))));
                }
                if let Some(code) = query.get("code") {
                    answer(&mut stream, "200 OK", "Signed in to sage. You may close this page.").await;
                    return Ok(code.clone());
                }
                answer(&mut stream, "400 Bad Request", "No code.").await;
            }
        }
    }
}

/// The target of an HTTP request line (`GET /callback?… HTTP/1.1`), read from at most
/// 16 KiB of headers.
async fn request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let read = stream.read(&mut buffer).await.ok()?;
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
