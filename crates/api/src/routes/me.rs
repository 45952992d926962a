use actix_web::{HttpResponse, get};
use serde_json::json;

use crate::auth::Caller;

/// The signed-in caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, description = "id, email, roles, groups"), (status = 401)))]
#[get("/api/v1/me")]
pub async fn me(caller: Caller) -> HttpResponse {
    let user = caller.user;
    HttpResponse::Ok().json(json!({
        "id": user.id, "email": user.email, "roles": user.roles, "groups": user.groups,
    }))
}
