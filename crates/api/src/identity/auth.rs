//! Who is calling: the `Caller` extractor authenticates the request, provisions the
//! user on first sight, and carries what audit rows need (IP, user agent, request id).
//! A caller seen a moment ago is taken from [`crate::identity::signed_in`].

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use sage_store::audit::AuditContext;
use sage_store::users::{Claims, OidcLogin, User};

use std::sync::Arc;
use std::time::Duration;

use crate::http::error::ApiError;
use crate::http::request_id::RequestId;
use crate::identity::oidc::{Identity, Verifier};
use crate::identity::signed_in::{DEMO_TTL, Key, Known, TOKEN_TTL};
use crate::settings::AuthMode;
use crate::state::AppState;

pub const DEMO_HEADER: &str = "X-Demo-User";

/// The configured way of telling who calls.
#[derive(Clone)]
pub enum Authenticator {
    DemoHeader,
    Oidc {
        verifier: Arc<Verifier>,
        /// Admins by configuration, whatever their token's roles say.
        admin_emails: Arc<Vec<String>>,
    },
}

impl Authenticator {
    pub fn new(mode: &AuthMode, admin_emails: &[String]) -> Self {
        match mode {
            AuthMode::DemoHeader => Self::DemoHeader,
            AuthMode::Oidc(settings) => Self::Oidc {
                verifier: Arc::new(Verifier::new((**settings).clone())),
                admin_emails: Arc::new(admin_emails.to_vec()),
            },
        }
    }

    /// What the sign-in cache knows these credentials by, when this mode reads them.
    fn cache_key(&self, credentials: &Credentials) -> Option<Key> {
        match self {
            Self::DemoHeader => credentials
                .demo_user
                .clone()
                .flatten()
                .map(|email| Key::of("demo", &email)),
            Self::Oidc { .. } => credentials
                .bearer
                .as_deref()
                .map(|token| Key::of("bearer", token)),
        }
    }

    /// Who the caller is, or why they are not signed in.
    async fn authenticate(&self, credentials: Credentials) -> Result<SignIn, ApiError> {
        match self {
            Self::DemoHeader => {
                // A missing header and one that is not an email are both "not signed in".
                let email = credentials
                    .demo_user
                    .flatten()
                    .ok_or(ApiError::Unauthenticated)?;
                Ok(SignIn::Demo(email))
            }
            Self::Oidc {
                verifier,
                admin_emails,
            } => {
                let token = credentials.bearer.ok_or(ApiError::Unauthenticated)?;
                let mut identity = verifier.verify(&token).await.map_err(|error| {
                    tracing::info!(%error, "bearer token refused");
                    ApiError::Unauthenticated
                })?;
                // Configuration names admins by email: only a verified one is theirs.
                if identity.email_verified
                    && admin_emails.contains(&identity.email)
                    && !identity.roles.iter().any(|r| r == "admin")
                {
                    identity.roles.push("admin".to_owned());
                    identity.roles.sort();
                }
                Ok(SignIn::Oidc(identity))
            }
        }
    }
}

/// How a request signed in.
enum SignIn {
    /// The demo header's email, trusted as it stands (local demos only).
    Demo(String),
    Oidc(Identity),
}

impl SignIn {
    /// Who audit rows name: the email, marked when nobody vouches for it.
    fn actor(&self) -> String {
        match self {
            Self::Demo(email) => email.clone(),
            Self::Oidc(identity) if identity.email_verified => identity.email.clone(),
            Self::Oidc(identity) => format!("{} (unverified)", identity.email),
        }
    }

    /// How long this sign-in may be taken as it is without checking it again.
    fn trusted_for(&self) -> Duration {
        match self {
            Self::Demo(_) => DEMO_TTL,
            Self::Oidc(identity) => {
                let left = identity.expires_at - chrono::Utc::now().timestamp();
                Duration::from_secs(u64::try_from(left).unwrap_or(0)).min(TOKEN_TTL)
            }
        }
    }

    async fn user(self, db: &sage_store::Db, audit: &AuditContext) -> Result<User, ApiError> {
        let user = match self {
            Self::Demo(email) => db.sign_in(&email, &Claims::default(), audit).await,
            Self::Oidc(Identity {
                issuer,
                subject,
                email,
                email_verified,
                groups,
                roles,
                expires_at: _,
            }) => {
                let login = OidcLogin {
                    issuer: &issuer,
                    subject: &subject,
                    email: &email,
                    email_verified,
                };
                let claims = Claims {
                    roles: Some(roles),
                    groups: Some(groups),
                };
                db.sign_in_oidc(&login, &claims, audit).await
            }
        };
        user.map_err(ApiError::internal)
    }
}

/// What a request presents; read before the handler's future so nothing borrows it.
struct Credentials {
    demo_user: Option<Option<String>>,
    bearer: Option<String>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub audit: AuditContext,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.user.has_role("admin")
    }
}

fn audit_context(request: &HttpRequest) -> AuditContext {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect::<String>())
    };
    AuditContext {
        actor: String::new(),
        // The peer address, not X-Forwarded-For: a client can write any header.
        ip: request.peer_addr().map(|a| a.ip().to_string()),
        user_agent: header("user-agent"),
        request_id: request.extensions().get::<RequestId>().map(|r| r.0.clone()),
        // Read inside the request's span: the jobs this request queues join its trace.
        traceparent: sage_infra::telemetry::traceparent(),
    }
}

/// An email as a demo header or claim carries it: lower-cased, sane length and shape.
pub fn parse_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && email.chars().all(|c| c.is_ascii_graphic());
    ok.then_some(email)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<AppState>>().cloned();
        let mut audit = audit_context(request);
        let headers = request.headers();
        let credentials = Credentials {
            demo_user: headers
                .get(DEMO_HEADER)
                .map(|v| v.to_str().ok().and_then(parse_email)),
            bearer: headers
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| t.trim().to_owned()),
        };
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let key = state.auth.cache_key(&credentials);
            let sign_in = async {
                let sign_in = state.auth.authenticate(credentials).await?;
                let trusted_for = sign_in.trusted_for();
                let actor = sign_in.actor();
                let audit = AuditContext {
                    actor: actor.clone(),
                    ..audit.clone()
                };
                let user = sign_in.user(&state.db, &audit).await?;
                Ok::<_, ApiError>((Known { user, actor }, trusted_for))
            };
            let known = match key {
                Some(key) => state.signed_in.get_or_sign_in(key, sign_in).await?,
                None => sign_in.await?.0,
            };
            audit.actor = known.actor;
            Ok(Caller {
                user: known.user,
                audit,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            parse_email(" Analyst@Example.COM ").as_deref(),
            Some("analyst@example.com")
        );
        for bad in [
            "",
            "nobody",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@.com",
            "ä@example.com",
        ] {
            assert_eq!(parse_email(bad), None, "{bad}");
        }
    }
}
