//! AUTH_MODE=oidc against a JWKS server of the test's own, with keys it generates.

use std::process::Command;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, backup_module, spawn_app_with, test_env};

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "sage";

/// A private key made by openssl for this test run, in PKCS#8 PEM.
#[allow(
    clippy::disallowed_methods,
    reason = "tests generate keys with the openssl CLI"
)]
fn generate_pem(kind: &str) -> Vec<u8> {
    let args: &[&str] = match kind {
        "rsa" => &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
        _ => &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
    };
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[allow(
    clippy::disallowed_methods,
    reason = "tests derive the public key with the openssl CLI"
)]
fn public_pem(private: &[u8]) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("sage-key-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&path, private).unwrap();
    let output = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    output.stdout
}

struct Key {
    kid: String,
    alg: Algorithm,
    pem: Vec<u8>,
    encoding: EncodingKey,
}

impl Key {
    fn new(kid: &str, alg: Algorithm) -> Self {
        let pem = generate_pem(if alg == Algorithm::RS256 { "rsa" } else { "ec" });
        let encoding = if alg == Algorithm::RS256 {
            EncodingKey::from_rsa_pem(&pem).unwrap()
        } else {
            EncodingKey::from_ec_pem(&pem).unwrap()
        };
        Self {
            kid: kid.to_owned(),
            alg,
            pem,
            encoding,
        }
    }

    fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.clone());
        jwk
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding).unwrap()
    }
}

fn claims(email: &str, exp_offset: i64, nbf_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "email": email, "email_verified": true,
        "exp": now + exp_offset, "nbf": now + nbf_offset, "iat": now,
        "groups": ["sec-team", "ops"], "roles": ["auditor", "superuser"],
    })
}

struct Issuer {
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<Mutex<usize>>,
    /// How long the key set takes to answer.
    delay: Arc<Mutex<std::time::Duration>>,
    url: String,
}

async fn start_issuer(keys: Vec<Jwk>) -> Issuer {
    let keys = Arc::new(Mutex::new(keys));
    let fetches = Arc::new(Mutex::new(0usize));
    let delay = Arc::new(Mutex::new(std::time::Duration::ZERO));
    let (served, counted, slow) = (keys.clone(), fetches.clone(), delay.clone());
    let server = HttpServer::new(move || {
        let (served, counted, slow) = (served.clone(), counted.clone(), slow.clone());
        App::new().route(
            "/jwks",
            web::get().to(move || {
                let (served, counted, slow) = (served.clone(), counted.clone(), slow.clone());
                async move {
                    *counted.lock().unwrap() += 1;
                    let pause = *slow.lock().unwrap();
                    tokio::time::sleep(pause).await;
                    let set = JwkSet {
                        keys: served.lock().unwrap().clone(),
                    };
                    HttpResponse::Ok().json(set)
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://127.0.0.1:{}/jwks", server.addrs()[0].port());
    tokio::spawn(server.run());
    Issuer {
        keys,
        fetches,
        delay,
        url,
    }
}

async fn oidc_app(issuer: &Issuer) -> TestApp {
    let mut env = test_env();
    env.set("AUTH_MODE", "oidc");
    env.set(
        "ASSUME_ROLE_ALLOWED",
        "arn:aws:iam::123456789012:role/SageScanner",
    );
    env.set("OIDC_ISSUER", ISSUER);
    env.set("OIDC_AUDIENCE", AUDIENCE);
    env.set("OIDC_JWKS_URL", issuer.url.clone());
    env.set("OIDC_LEEWAY_SEC", "0");
    env.set("OIDC_JWKS_REFRESH_GAP_SEC", "1");
    // The test's own key server speaks plain http on loopback.
    env.set("OIDC_ALLOW_HTTP", "true");
    spawn_app_with(env).await
}

async fn me(app: &TestApp, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.client.get(format!("{}/api/v1/me", app.address));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn tokens_are_checked_against_the_issuers_keys() {
    let rsa = Key::new("rsa-1", Algorithm::RS256);
    let ec = Key::new("ec-1", Algorithm::ES256);
    let issuer = start_issuer(vec![rsa.jwk(), ec.jwk()]).await;
    let app = oidc_app(&issuer).await;

    // Valid tokens: users appear on first sight with groups and known roles from claims.
    let good = rsa.sign(&claims("Token.User@Example.com", 300, -10));
    let (status, body) = me(&app, Some(&format!("Bearer {good}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "token.user@example.com");
    assert_eq!(body["groups"], json!(["ops", "sec-team"]));
    assert_eq!(
        body["roles"],
        json!(["auditor"]),
        "unknown roles are dropped"
    );
    let (status, _) = me(
        &app,
        Some(&format!(
            "Bearer {}",
            ec.sign(&claims("ec@example.com", 300, -10))
        )),
    )
    .await;
    assert_eq!(status, 200);

    let mut wrong_issuer = claims("a@example.com", 300, -10);
    wrong_issuer["iss"] = json!("https://evil.test");
    let mut wrong_audience = claims("a@example.com", 300, -10);
    wrong_audience["aud"] = json!("other-app");
    let mut no_email = claims("a@example.com", 300, -10);
    no_email.as_object_mut().unwrap().remove("email");
    let header_none = b64(br#"{"alg":"none","typ":"JWT","kid":"rsa-1"}"#);
    let payload = b64(claims("a@example.com", 300, -10).to_string().as_bytes());
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".into());
        let key = EncodingKey::from_secret(&public_pem(&rsa.pem));
        encode(&header, &claims("a@example.com", 300, -10), &key).unwrap()
    };
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let mut forged = claims("admin@example.com", 300, -10);
        forged["roles"] = json!(["admin"]);
        format!(
            "{}.{}.{}",
            parts[0],
            b64(forged.to_string().as_bytes()),
            parts[2]
        )
    };
    let refused = [
        (
            "expired",
            Some(format!(
                "Bearer {}",
                rsa.sign(&claims("a@example.com", -60, -120))
            )),
        ),
        (
            "not yet valid",
            Some(format!(
                "Bearer {}",
                rsa.sign(&claims("a@example.com", 600, 300))
            )),
        ),
        (
            "wrong issuer",
            Some(format!("Bearer {}", rsa.sign(&wrong_issuer))),
        ),
        (
            "wrong audience",
            Some(format!("Bearer {}", rsa.sign(&wrong_audience))),
        ),
        ("no email", Some(format!("Bearer {}", rsa.sign(&no_email)))),
        ("alg none", Some(format!("Bearer {header_none}.{payload}."))),
        (
            "HS256 signed with the public key",
            Some(format!("Bearer {hs256_with_public_key}")),
        ),
        ("tampered payload", Some(format!("Bearer {tampered}"))),
        ("missing header", None),
        ("garbage", Some("Bearer not.a.jwt".to_owned())),
        ("not bearer", Some(format!("Basic {good}"))),
    ];
    for (label, authorization) in refused {
        let (status, body) = me(&app, authorization.as_deref()).await;
        assert_eq!(status, 401, "{label}: {body}");
        assert_eq!(body["error"]["code"], "unauthenticated", "{label}");
    }
    // The demo header means nothing in oidc mode.
    let (status, _) = app.get_as("/api/v1/me", "admin@example.com").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_once_and_rotation_works() {
    let old = Key::new("old", Algorithm::ES256);
    let issuer = start_issuer(vec![old.jwk()]).await;
    let app = oidc_app(&issuer).await;
    let (status, _) = me(
        &app,
        Some(&format!(
            "Bearer {}",
            old.sign(&claims("r@example.com", 300, -10))
        )),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(*issuer.fetches.lock().unwrap(), 1);

    // A kid nobody publishes: one refresh, then refusals without further fetches.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let stranger = Key::new("stranger", Algorithm::ES256);
    for _ in 0..3 {
        let (status, _) = me(
            &app,
            Some(&format!(
                "Bearer {}",
                stranger.sign(&claims("r@example.com", 300, -10))
            )),
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        *issuer.fetches.lock().unwrap(),
        2,
        "one refresh for the unknown kid"
    );

    // The issuer rotates: the new key is fetched on first use (after the refresh gap).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let new = Key::new("new", Algorithm::ES256);
    issuer.keys.lock().unwrap().push(new.jwk());
    let (status, body) = me(
        &app,
        Some(&format!(
            "Bearer {}",
            new.sign(&claims("r@example.com", 300, -10))
        )),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(*issuer.fetches.lock().unwrap(), 3);
}

#[tokio::test]
async fn admin_emails_are_admins_whatever_the_token_says() {
    let key = Key::new("k", Algorithm::RS256);
    let issuer = start_issuer(vec![key.jwk()]).await;
    let app = oidc_app(&issuer).await;
    let (status, body) = me(
        &app,
        Some(&format!(
            "Bearer {}",
            key.sign(&claims("admin@example.com", 300, -10))
        )),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["roles"], json!(["admin", "auditor"]));
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &Value,
) -> Value {
    let response = app
        .client
        .request(method, format!("{}{path}", app.address))
        .header("Authorization", token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// The sample module, made by the admin behind `token` and assigned to the analyst's
/// email.
async fn backup_db_module_as(app: &TestApp, token: &str) -> String {
    use reqwest::Method;
    let body = json!({"path": "backup_db.py", "interpreter": "python3"});
    let script = send(app, Method::POST, "/api/v1/scripts", token, &body).await;
    let definition = backup_module(script["id"].as_str().unwrap());
    let module = send(app, Method::POST, "/api/v1/modules", token, &definition).await;
    let id = module["id"].as_str().unwrap().to_owned();
    let assignments =
        json!({"assignments": [{"user": "analyst@example.com", "permissions": ["run", "view"]}]});
    let path = format!("/api/v1/modules/{id}/assignments");
    send(app, Method::PUT, &path, token, &assignments).await;
    id
}

fn bearer(key: &Key, claims: &Value) -> String {
    format!("Bearer {}", key.sign(claims))
}

/// Claims of subject `sub` with `email`, verified or not (`None`: no such claim).
fn person(sub: &str, email: &str, verified: Option<bool>) -> Value {
    let mut claims = claims(email, 300, -10);
    claims["sub"] = json!(sub);
    claims["roles"] = json!([]);
    match verified {
        Some(flag) => claims["email_verified"] = json!(flag),
        None => {
            claims.as_object_mut().unwrap().remove("email_verified");
        }
    }
    claims
}

#[tokio::test]
async fn an_unverified_email_grants_nothing() {
    let key = Key::new("k", Algorithm::RS256);
    let issuer = start_issuer(vec![key.jwk()]).await;
    let app = oidc_app(&issuer).await;
    let admin = bearer(&key, &person("real-admin", "admin@example.com", Some(true)));
    let (status, body) = me(&app, Some(&admin)).await;
    assert_eq!((status.as_u16(), &body["roles"]), (200, &json!(["admin"])));

    // Another account of the same issuer claims the admin's and the analyst's emails.
    for verified in [None, Some(false)] {
        let forged = bearer(&key, &person("mallory", "admin@example.com", verified));
        let (status, body) = me(&app, Some(&forged)).await;
        assert_eq!(status, 200);
        assert_eq!(body["roles"], json!([]), "{verified:?}: no admin by email");
        assert_ne!(body["id"], me(&app, Some(&admin)).await.1["id"]);
    }
    let module = backup_db_module_as(&app, &admin).await;
    let list = |token: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .get(format!("{}/api/v1/modules", app.address))
                .header("Authorization", token)
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()["items"].clone()
        }
    };
    let unverified = bearer(&key, &person("eve", "analyst@example.com", None));
    assert_eq!(list(unverified).await, json!([]), "no assignment by email");
    let verified = bearer(&key, &person("anna", "analyst@example.com", Some(true)));
    assert_eq!(list(verified).await[0]["id"], json!(module));
}

#[tokio::test]
async fn a_changed_email_follows_the_same_user() {
    let key = Key::new("k", Algorithm::RS256);
    let issuer = start_issuer(vec![key.jwk()]).await;
    let app = oidc_app(&issuer).await;
    let before = bearer(&key, &person("sub-7", "old@example.com", Some(true)));
    let (_, first) = me(&app, Some(&before)).await;
    let after = bearer(&key, &person("sub-7", "new@example.com", Some(true)));
    let (_, second) = me(&app, Some(&after)).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["email"], "new@example.com");
    // The old address is free again: someone else may verify it.
    let other = bearer(&key, &person("sub-8", "old@example.com", Some(true)));
    let (_, third) = me(&app, Some(&other)).await;
    assert_ne!(third["id"], first["id"]);
    let filter = sage_store::audit::AuditFilter {
        action: Some("user.email.change".to_owned()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(app.db().audit_events(&filter).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_deployment_may_vouch_for_its_issuers_emails() {
    let key = Key::new("k", Algorithm::RS256);
    let issuer = start_issuer(vec![key.jwk()]).await;
    let mut env = test_env();
    for (name, value) in [
        ("AUTH_MODE", "oidc"),
        (
            "ASSUME_ROLE_ALLOWED",
            "arn:aws:iam::123456789012:role/SageScanner",
        ),
        ("OIDC_ISSUER", ISSUER),
        ("OIDC_AUDIENCE", AUDIENCE),
        ("OIDC_JWKS_URL", &issuer.url),
        ("OIDC_ALLOW_HTTP", "true"),
        ("OIDC_EMAILS_VERIFIED", "true"),
    ] {
        env.set(name, value);
    }
    let app = spawn_app_with(env).await;
    let token = bearer(&key, &person("boss", "admin@example.com", None));
    let (status, body) = me(&app, Some(&token)).await;
    assert_eq!((status.as_u16(), &body["roles"]), (200, &json!(["admin"])));
}

#[tokio::test]
async fn a_burst_of_unknown_kids_costs_one_fetch_and_known_keys_verify_meanwhile() {
    let known = Key::new("known", Algorithm::ES256);
    let issuer = start_issuer(vec![known.jwk()]).await;
    let app = oidc_app(&issuer).await;
    let good = bearer(&known, &claims("r@example.com", 300, -10));
    assert_eq!(me(&app, Some(&good)).await.0, 200);
    assert_eq!(*issuer.fetches.lock().unwrap(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    *issuer.delay.lock().unwrap() = std::time::Duration::from_secs(2);
    let strangers: Vec<String> = (0..20)
        .map(|i| {
            let stranger = Key::new(&format!("stranger-{i}"), Algorithm::ES256);
            bearer(&stranger, &claims("r@example.com", 300, -10))
        })
        .collect();
    let burst: Vec<_> = strangers
        .into_iter()
        .map(|token| {
            let (client, url) = (app.client.clone(), format!("{}/api/v1/me", app.address));
            tokio::spawn(async move {
                let response = client.get(url).header("Authorization", token).send().await;
                response.unwrap().status()
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // While the slow fetch is in flight, a token with a known key is not held up by it.
    assert_eq!(me(&app, Some(&good)).await.0, 200);
    assert!(
        burst.iter().any(|request| !request.is_finished()),
        "the known key verified while the fetch was still in flight"
    );
    for request in burst {
        assert_eq!(request.await.unwrap(), 401);
    }
    assert_eq!(
        *issuer.fetches.lock().unwrap(),
        2,
        "one fetch for the burst"
    );
}
