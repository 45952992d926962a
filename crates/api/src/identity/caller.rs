//! The authenticated caller of a request, as handlers take it: the extractor signs the
//! request in through the app's authenticator and the cache of callers seen lately.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use sage_model::names::Email;
use sage_store::audit::AuditContext;
use sage_store::users::User;

use crate::http::error::ApiError;
use crate::http::request_id::RequestId;
use crate::identity::auth::{Credentials, DEMO_HEADER};
use crate::identity::signed_in::Known;
use crate::state::AppState;

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
                .map(|v| v.to_str().ok().and_then(|e| Email::parse(e).ok())),
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
