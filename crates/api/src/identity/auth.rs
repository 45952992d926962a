//! Who is calling: the `Caller` extractor authenticates the request, provisions the
//! user on first sight, and carries what audit rows need (IP, user agent, request id).
//! A caller seen a moment ago is taken from [`crate::identity::signed_in`].

use sage_model::names::Email;
use sage_store::audit::AuditContext;
use sage_store::users::{Claims, OidcLogin, User};

use std::sync::Arc;
use std::time::Duration;

use crate::http::error::ApiError;
use crate::identity::oidc::{Identity, Verifier};
use crate::identity::signed_in::{DEMO_TTL, Key, TOKEN_TTL};
use crate::settings::AuthMode;

pub const DEMO_HEADER: &str = "X-Demo-User";

/// The configured way of telling who calls.
#[derive(Clone)]
pub enum Authenticator {
    DemoHeader,
    Oidc {
        verifier: Arc<Verifier>,
        /// Admins by configuration, whatever their token's roles say.
        admin_emails: Arc<Vec<Email>>,
    },
}

impl Authenticator {
    pub fn new(mode: &AuthMode, admin_emails: &[Email]) -> Self {
        match mode {
            AuthMode::DemoHeader => Self::DemoHeader,
            AuthMode::Oidc(settings) => Self::Oidc {
                verifier: Arc::new(Verifier::new((**settings).clone())),
                admin_emails: Arc::new(admin_emails.to_vec()),
            },
        }
    }

    /// What the sign-in cache knows these credentials by, when this mode reads them.
    pub(crate) fn cache_key(&self, credentials: &Credentials) -> Option<Key> {
        match self {
            Self::DemoHeader => credentials
                .demo_user
                .clone()
                .flatten()
                .map(|email| Key::of("demo", email.as_str())),
            Self::Oidc { .. } => credentials
                .bearer
                .as_deref()
                .map(|token| Key::of("bearer", token)),
        }
    }

    /// Who the caller is, or why they are not signed in.
    pub(crate) async fn authenticate(&self, credentials: Credentials) -> Result<SignIn, ApiError> {
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
pub(crate) enum SignIn {
    /// The demo header's email, trusted as it stands (local demos only).
    Demo(Email),
    Oidc(Identity),
}

impl SignIn {
    /// Who audit rows name: the email, marked when nobody vouches for it.
    pub(crate) fn actor(&self) -> String {
        match self {
            Self::Demo(email) => email.to_string(),
            Self::Oidc(identity) if identity.email_verified => identity.email.to_string(),
            Self::Oidc(identity) => format!("{} (unverified)", identity.email),
        }
    }

    /// How long this sign-in may be taken as it is without checking it again.
    pub(crate) fn trusted_for(&self) -> Duration {
        match self {
            Self::Demo(_) => DEMO_TTL,
            Self::Oidc(identity) => {
                let left = identity.expires_at - chrono::Utc::now().timestamp();
                Duration::from_secs(u64::try_from(left).unwrap_or(0)).min(TOKEN_TTL)
            }
        }
    }

    pub(crate) async fn user(
        self,
        db: &sage_store::Db,
        audit: &AuditContext,
    ) -> Result<User, ApiError> {
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
                    email: email.as_str(),
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
pub(crate) struct Credentials {
    pub(crate) demo_user: Option<Option<Email>>,
    pub(crate) bearer: Option<String>,
}
