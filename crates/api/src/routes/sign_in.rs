//! `GET /api/v1/sign-in`: how the web console and `sage` sign a user in, read before
//! anyone is.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::settings::{AuthMode, Settings};

/// What the console needs to sign in: the demo users to pick from, or the OpenID issuer
/// and the console's public client there.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SignInView {
    /// `X-Demo-User`: anyone may act as any of these users (local demos only).
    DemoHeader { demo_users: Vec<DemoUserView> },
    /// Authorization Code with PKCE at `issuer`; `client_id` is `null` when the
    /// deployment did not set `OIDC_CLIENT_ID`, and then the console cannot sign in.
    /// `cli_client_id` is `sage login`'s native client (`OIDC_CLI_CLIENT_ID`), `null`
    /// when `sage` cannot sign in.
    Oidc {
        issuer: String,
        client_id: Option<String>,
        cli_client_id: Option<String>,
        scopes: String,
    },
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DemoUserView {
    pub email: String,
    pub admin: bool,
}

impl SignInView {
    pub fn new(settings: &Settings) -> Self {
        match &settings.auth {
            AuthMode::DemoHeader => {
                let admins = settings.admin_emails.iter().map(|email| (email, true));
                let users = settings.seed_users.iter().map(|email| (email, false));
                Self::DemoHeader {
                    demo_users: admins
                        .chain(users)
                        .map(|(email, admin)| DemoUserView {
                            email: email.to_string(),
                            admin,
                        })
                        .collect(),
                }
            }
            AuthMode::Oidc(oidc) => Self::Oidc {
                issuer: oidc.issuer.clone(),
                client_id: oidc.console_client_id.clone(),
                cli_client_id: oidc.cli_client_id.clone(),
                scopes: oidc.console_scopes.clone(),
            },
        }
    }
}

/// The origins beyond its own that the console's scripts call: the issuer's, and those
/// the deployment adds for an issuer whose endpoints live elsewhere.
pub fn connect_origins(auth: &AuthMode) -> Vec<String> {
    match auth {
        AuthMode::DemoHeader => Vec::new(),
        AuthMode::Oidc(oidc) => reqwest::Url::parse(&oidc.issuer)
            .map(|url| url.origin().ascii_serialization())
            .into_iter()
            .chain(oidc.console_origins.iter().cloned())
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/sign-in", tag = "identity",
    responses((status = 200, body = SignInView)))]
#[get("/api/v1/sign-in")]
pub async fn sign_in(view: web::Data<SignInView>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(&**view)
}
