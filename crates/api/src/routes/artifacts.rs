//! An execution's artifacts, each with a presigned download URL: the client fetches
//! the file from S3 directly and never sees S3 credentials; the URL expires.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, SecondsFormat, Utc};
use sage_model::ExecutionId;
use sage_model::artifacts::ArtifactName;
use sage_store::artifacts::Artifact;
use serde::Serialize;

use crate::http::error::ApiError;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArtifactView {
    /// The file's path below `/work/out`.
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    /// A presigned GET URL; the download is served as an attachment.
    pub url: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArtifactList {
    pub items: Vec<ArtifactView>,
}

#[utoipa::path(get, path = "/api/v1/executions/{id}/artifacts", tag = "executions",
    params(("id" = uuid::Uuid, Path, description = "The execution's id")),
    responses((status = 200, body = ArtifactList), (status = 404)))]
#[get("/api/v1/executions/{id}/artifacts")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ExecutionId>,
) -> Result<HttpResponse, ApiError> {
    let execution = Access::new(&state, &caller).execution(*id).await?;
    let expires_at = Utc::now() + state.artifacts.ttl;
    let mut items = Vec::new();
    for artifact in state.db.artifacts(execution.id).await? {
        items.push(view(&state, artifact, expires_at).await?);
    }
    Ok(HttpResponse::Ok()
        // The URLs are credentials for a while: no cache keeps them.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ArtifactList { items }))
}

pub(crate) async fn view(
    state: &AppState,
    artifact: Artifact,
    expires_at: DateTime<Utc>,
) -> Result<ArtifactView, ApiError> {
    let name = ArtifactName::parse(&artifact.name)
        .map_err(|why| ApiError::internal(anyhow::anyhow!("stored artifact name {why}")))?;
    let presigning =
        PresigningConfig::expires_in(state.artifacts.ttl).map_err(ApiError::internal)?;
    let request = state
        .artifacts
        .presigner
        .get_object()
        .bucket(&state.artifacts.bucket)
        .key(&artifact.s3_key)
        .response_content_disposition(name.content_disposition())
        .response_content_type(&artifact.content_type)
        .presigned(presigning)
        .await
        .map_err(ApiError::internal)?;
    Ok(ArtifactView {
        url: request.uri().to_owned(),
        expires_at: expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        name: artifact.name,
        size: artifact.size,
        sha256: artifact.sha256,
        content_type: artifact.content_type,
    })
}
