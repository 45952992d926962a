//! `GET /api/v1/me`: the signed-in caller.

use actix_web::{HttpResponse, get};
use serde::Serialize;
use uuid::Uuid;

use crate::identity::caller::Caller;

/// The signed-in caller, as Sage Runner knows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, body = MeView), (status = 401)))]
#[get("/api/v1/me")]
pub async fn me(caller: Caller) -> HttpResponse {
    let user = caller.user;
    HttpResponse::Ok().json(MeView {
        id: user.id.as_uuid(),
        email: user.email,
        roles: user.roles,
        groups: user.groups,
    })
}
