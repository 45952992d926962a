//! `AUTH_MODE=oidc`: bearer JWTs checked against the issuer's JWKS (signature with an
//! allowlisted asymmetric algorithm, issuer, audience, expiry, not-before). An unknown
//! `kid` makes one refresh of the key set, at most every few seconds, so a rotated key
//! is picked up without letting garbage tokens hammer the issuer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use sage_infra::config::{Env, url_with_scheme};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use sage_model::names::Email;

/// Algorithms a token may use. Symmetric ones are never accepted: the verifying key
/// is public, so HMAC with it would let anyone sign.
const ALLOWED: &[(&str, Algorithm)] = &[
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];
const KNOWN_ROLES: &[&str] = &["admin", "approver", "auditor"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub algorithms: Vec<Algorithm>,
    pub email_claim: String,
    pub groups_claim: String,
    pub roles_claim: String,
    pub leeway_sec: u64,
    /// Shortest time between two fetches of the key set, however many unknown kids
    /// arrive meanwhile.
    pub refresh_gap: Duration,
    /// The deployment's word that this issuer verifies every email it puts in a token;
    /// otherwise only a token's own `email_verified: true` makes its email count.
    pub emails_verified: bool,
    /// Plain http for the issuer and its keys: local tests only.
    pub allow_http: bool,
    /// The web console's public client at the issuer (code flow with PKCE); without it
    /// the console cannot sign anyone in, and says so.
    pub console_client_id: Option<String>,
    /// What the console asks the issuer for; `sage` asks for the same.
    pub console_scopes: String,
    /// `sage login`'s public native client at the issuer (the device grant, else code
    /// with PKCE on a loopback redirect); without it `sage` cannot sign anyone in.
    pub cli_client_id: Option<String>,
    /// Origins besides the issuer's that the console's scripts must reach: an issuer
    /// whose token or revocation endpoint lives elsewhere (Amazon Cognito).
    pub console_origins: Vec<String>,
}

impl OidcSettings {
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let allow_http = env.flag("OIDC_ALLOW_HTTP", false);
        let schemes: &[&str] = if allow_http == Some(true) {
            &["https", "http"]
        } else {
            &["https"]
        };
        let issuer = env.required_with("OIDC_ISSUER", |v| url_with_scheme(v, schemes));
        let audience = env.required_with("OIDC_AUDIENCE", |v| Ok(v.to_owned()));
        let jwks_url = env.required_with("OIDC_JWKS_URL", |v| url_with_scheme(v, schemes));
        let emails_verified = env.flag("OIDC_EMAILS_VERIFIED", false);
        let algorithms = env.optional_with("OIDC_ALGORITHMS", vec![Algorithm::RS256, Algorithm::ES256], |v| {
            v.split(',')
                .map(str::trim)
                .map(|name| {
                    ALLOWED
                        .iter()
                        .find(|(known, _)| *known == name)
                        .map(|(_, alg)| *alg)
                        .ok_or_else(|| format!("{name:?} is not an allowed algorithm (asymmetric only: RS256, ES256, ...)"))
                })
                .collect()
        });
        let email_claim = env.string("OIDC_EMAIL_CLAIM", "email");
        let groups_claim = env.string("OIDC_GROUPS_CLAIM", "groups");
        let roles_claim = env.string("OIDC_ROLES_CLAIM", "roles");
        let leeway_sec = env.number("OIDC_LEEWAY_SEC", 30u64, 0, 300);
        let refresh_gap = env.seconds("OIDC_JWKS_REFRESH_GAP_SEC", 5, 1, 3600);
        let console_client_id =
            env.optional_with("OIDC_CLIENT_ID", None, |v| Ok(Some(v.to_owned())));
        let console_scopes = env.string("OIDC_SCOPES", "openid email profile");
        let cli_client_id =
            env.optional_with("OIDC_CLI_CLIENT_ID", None, |v| Ok(Some(v.to_owned())));
        let console_origins = origins(env, "OIDC_CONSOLE_ORIGINS", schemes);
        Some(Self {
            issuer: issuer?,
            audience: audience?,
            jwks_url: jwks_url?,
            algorithms: algorithms?,
            email_claim: email_claim?,
            groups_claim: groups_claim?,
            roles_claim: roles_claim?,
            leeway_sec: leeway_sec?,
            refresh_gap: refresh_gap?,
            emails_verified: emails_verified?,
            allow_http: allow_http?,
            console_client_id: console_client_id?,
            console_scopes: console_scopes?,
            cli_client_id: cli_client_id?,
            console_origins,
        })
    }
}

/// A list of bare origins (`https://host[:port]`, no path), each refused by name.
fn origins(env: &mut Env, name: &str, schemes: &[&str]) -> Vec<String> {
    let listed = env.list(name);
    let mut kept = Vec::new();
    for value in listed {
        let origin = url_with_scheme(&value, schemes).and_then(|url| {
            let parsed = reqwest::Url::parse(&url).map_err(|e| e.to_string())?;
            let origin = parsed.origin().ascii_serialization();
            if origin == url.trim_end_matches('/') {
                Ok(origin)
            } else {
                Err("must be an origin such as https://auth.example.com, without a path".to_owned())
            }
        });
        match origin {
            Ok(origin) => kept.push(origin),
            Err(problem) => env.refuse(name, format!("{value:?} {problem}")),
        }
    }
    kept
}

/// Who a valid token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Email,
    /// The issuer vouches for `email` (see [`OidcSettings::emails_verified`]).
    pub email_verified: bool,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    /// The token's `exp`, in seconds since the epoch.
    pub expires_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    #[error("the token names no signing key this issuer publishes")]
    UnknownKey,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token carries no usable email claim")]
    NoEmail,
    #[error("the token names no subject")]
    NoSubject,
    #[error("the issuer's keys cannot be fetched")]
    Jwks(String),
}

pub struct Verifier {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<JwkSet>,
    /// Held while the key set is fetched; holds when the last fetch started.
    fetching: Mutex<Option<Instant>>,
    /// Fetches finished (or failed), so a caller that waited for one knows it is done.
    fetches: AtomicU64,
}

impl Verifier {
    pub fn new(settings: OidcSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            settings,
            http,
            keys: RwLock::new(JwkSet { keys: Vec::new() }),
            fetching: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.key(&kid, header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = self.settings.leeway_sec;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = decode::<Value>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(format!("{:?}", e.kind())))?;
        self.identity(&data.claims)
    }

    fn identity(&self, claims: &Value) -> Result<Identity, TokenError> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| (1..=255).contains(&sub.len()))
            .ok_or(TokenError::NoSubject)?;
        // Some issuers write the flag as a string.
        let email_verified = self.settings.emails_verified
            || matches!(claims.get("email_verified"), Some(v) if v == true || v == "true");
        let email = claims
            .get(&self.settings.email_claim)
            .and_then(Value::as_str)
            .and_then(|e| Email::parse(e).ok())
            .ok_or(TokenError::NoEmail)?;
        let strings = |name: &str| -> Vec<String> {
            match claims.get(name) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            }
        };
        let mut groups = strings(&self.settings.groups_claim);
        groups.retain(|g| (1..=128).contains(&g.len()));
        groups.sort();
        groups.dedup();
        let mut roles = strings(&self.settings.roles_claim);
        roles.retain(|r| KNOWN_ROLES.contains(&r.as_str()));
        roles.sort();
        roles.dedup();
        // `decode` required it and checked it is in the future.
        let expires_at = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        Ok(Identity {
            expires_at,
            // `decode` checked it is the configured issuer.
            issuer: self.settings.issuer.clone(),
            subject: subject.to_owned(),
            email,
            email_verified,
            groups,
            roles,
        })
    }

    /// The decoding key for `kid`, fetching the key set when it is not known yet.
    async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, TokenError> {
        if let Some(key) = self.cached(kid, alg).await? {
            return Ok(key);
        }
        self.refresh().await?;
        self.cached(kid, alg).await?.ok_or(TokenError::UnknownKey)
    }

    async fn cached(&self, kid: &str, alg: Algorithm) -> Result<Option<DecodingKey>, TokenError> {
        let keys = self.keys.read().await;
        let Some(jwk) = keys.find(kid) else {
            return Ok(None);
        };
        // A key published for one algorithm is not used with another.
        if let Some(declared) = jwk.common.key_algorithm
            && declared.to_string() != format!("{alg:?}")
        {
            return Err(TokenError::Algorithm);
        }
        DecodingKey::from_jwk(jwk)
            .map(Some)
            .map_err(|_| TokenError::UnknownKey)
    }

    /// Fetches the key set, one fetch at a time: whoever waited for a fetch in flight
    /// uses its result instead of fetching again. The keys are only locked to swap
    /// them, never across the request, so tokens with known keys verify meanwhile.
    async fn refresh(&self) -> Result<(), TokenError> {
        let seen = self.fetches.load(Ordering::Acquire);
        let mut last_fetch = self.fetching.lock().await;
        let fetched_meanwhile = self.fetches.load(Ordering::Acquire) != seen;
        if fetched_meanwhile
            || last_fetch.is_some_and(|at| at.elapsed() < self.settings.refresh_gap)
        {
            return Ok(());
        }
        *last_fetch = Some(Instant::now());
        let fetched = self.fetch().await;
        self.fetches.fetch_add(1, Ordering::Release);
        fetched
    }

    async fn fetch(&self) -> Result<(), TokenError> {
        let set: JwkSet = self
            .http
            .get(&self.settings.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| TokenError::Jwks(e.to_string()))?
            .json()
            .await
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        tracing::info!(keys = set.keys.len(), "fetched the issuer's signing keys");
        *self.keys.write().await = set;
        Ok(())
    }
}
