//! Who is calling: the `Caller` extractor authenticates the request, provisions the
//! user on first sight, and carries what audit rows need (IP, user agent, request id).

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use sage_store::audit::AuditContext;
use sage_store::users::{Claims, User};

use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::settings::AuthMode;
use crate::state::AppState;

pub const DEMO_HEADER: &str = "X-Demo-User";

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

    /// Admin-only routes answer 403 to everyone else: the route itself is no secret.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this needs the admin role".into()))
        }
    }

    pub fn require_any_role(&self, roles: &[&str]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.user.has_role(r)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs one of the roles {}",
                roles.join(", ")
            )))
        }
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
        let demo_user = request
            .headers()
            .get(DEMO_HEADER)
            .map(|v| v.to_str().ok().and_then(parse_email));
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let email = match state.auth {
                // A missing header and one that is not an email are both "not signed in".
                AuthMode::DemoHeader => demo_user.flatten().ok_or(ApiError::Unauthenticated)?,
            };
            audit.actor = email.clone();
            let user = state
                .db
                .sign_in(&email, &Claims::default(), &audit)
                .await
                .map_err(ApiError::internal)?;
            Ok(Caller { user, audit })
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
