//! Documents that evidence a framework's requirements (ISMS-P's 75 that no check
//! assesses: minutes, policies, training records), kept in S3 under `evidence-docs/`,
//! each upload a version of its file name; and requirements an admin marks not
//! applicable. Reports cite both.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, put, web};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt as _;
use sage_model::artifacts::ArtifactName;
use sage_model::compliance::FrameworkName;
use sage_store::artifacts::Artifact;
use sage_store::evidence_documents::{Document, NewDocument};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::routes::artifacts::view;
use crate::state::AppState;

/// The largest document kept.
pub const MAX_DOCUMENT_BYTES: usize = 20 << 20;
const MAX_DESCRIPTION_CHARS: usize = 2000;

/// A kept document, with a fresh download link.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    pub requirement: String,
    pub name: String,
    /// 1 for a file name's first upload, then one more each time.
    pub version: i32,
    pub description: String,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    /// A presigned GET URL, served as an attachment.
    pub url: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentList {
    pub items: Vec<DocumentView>,
}

/// A description or a reason: 1 to 2000 characters, trimmed, lines but no other control
/// characters (they are printed in reports).
fn checked_text(field: &str, text: &str) -> Result<String, FieldProblem> {
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > MAX_DESCRIPTION_CHARS
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(FieldProblem::new(
            field,
            format!("must be 1 to {MAX_DESCRIPTION_CHARS} characters without control characters"),
        ));
    }
    Ok(text.to_owned())
}

/// The framework and requirement a path names, when the scanner image holds them.
async fn requirement_of(
    state: &AppState,
    framework: &str,
    requirement: &str,
) -> Result<FrameworkName, ApiError> {
    let name = FrameworkName::parse(framework).map_err(|_| ApiError::NotFound)?;
    let held = state.db.frameworks(std::slice::from_ref(&name)).await?;
    let exists = held
        .iter()
        .any(|h| h.framework.requirements.iter().any(|r| r.id == requirement));
    if exists {
        Ok(name)
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name (its type follows from its extension).
    pub file: Option<String>,
    pub description: Option<String>,
}

/// Keeps a document for a requirement: the body is the file itself. Admins and
/// approvers; 201 with the document (the next version of its file name).
#[utoipa::path(post, path = "/api/v1/compliance/frameworks/{name}/requirements/{requirement}/documents",
    tag = "evidence",
    params(
        ("name" = String, Path, description = "a framework the scanner image holds"),
        ("requirement" = String, Path, description = "the requirement's id, as `2.7.1`"),
        ("file" = String, Query, description = "the file's name"),
        ("description" = String, Query, description = "what it shows, 1 to 2000 characters"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = DocumentView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404)))]
#[post("/api/v1/compliance/frameworks/{name}/requirements/{requirement}/documents")]
pub async fn upload(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<UploadQuery>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).may_attest()?;
    let (framework, requirement) = path.into_inner();
    let framework = requirement_of(&state, &framework, &requirement).await?;
    let query = query.into_inner();
    let mut problems = Vec::new();
    let name = match query.file.as_deref().map(ArtifactName::parse) {
        Some(Ok(name)) if !name.as_str().contains('/') && name.as_str().len() <= 255 => Some(name),
        Some(Ok(_)) => {
            problems.push(FieldProblem::new(
                "file",
                "must be one file name of at most 255 bytes, without '/'",
            ));
            None
        }
        Some(Err(why)) => {
            problems.push(FieldProblem::new("file", why));
            None
        }
        None => {
            problems.push(FieldProblem::new(
                "file",
                "is required: the document's file name",
            ));
            None
        }
    };
    let description = checked_text(
        "description",
        query.description.as_deref().unwrap_or_default(),
    )
    .map_err(|problem| problems.push(problem))
    .unwrap_or_default();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::invalid(vec![FieldProblem::new("body", "is unreadable")]))?;
        if bytes.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(ApiError::invalid(vec![FieldProblem::new(
                "body",
                format!("is larger than {} MiB", MAX_DOCUMENT_BYTES >> 20),
            )]));
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() {
        problems.push(FieldProblem::new(
            "body",
            "is empty: send the file as the body",
        ));
    }
    let (Some(name), true) = (name, problems.is_empty()) else {
        return Err(ApiError::invalid(problems));
    };
    let sha256 = sage_model::hex(&Sha256::digest(&bytes));
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let s3_key = format!(
        "evidence-docs/{framework}/{requirement}/{}/{}",
        Uuid::new_v4(),
        name.as_str()
    );
    state
        .artifacts
        .s3
        .put_object()
        .bucket(&state.artifacts.bucket)
        .key(&s3_key)
        .content_type(name.content_type())
        .content_disposition(name.content_disposition())
        .metadata("sha256", &sha256)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(ApiError::internal)?;
    let new = NewDocument {
        framework,
        requirement,
        name: name.as_str().to_owned(),
        description,
        content_type: name.content_type().to_owned(),
        size,
        sha256,
        s3_key,
    };
    let document = state
        .db
        .add_document(&new, caller.user.id, &caller.audit)
        .await?;
    let view = document_view(&state, document).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// Every version of every document of a requirement, newest first, with fresh links.
/// Admins, auditors and approvers.
#[utoipa::path(get, path = "/api/v1/compliance/frameworks/{name}/requirements/{requirement}/documents",
    tag = "evidence",
    params(("name" = String, Path), ("requirement" = String, Path)),
    responses((status = 200, body = DocumentList), (status = 403), (status = 404)))]
#[get("/api/v1/compliance/frameworks/{name}/requirements/{requirement}/documents")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).may_read_documents()?;
    let (framework, requirement) = path.into_inner();
    let framework = requirement_of(&state, &framework, &requirement).await?;
    let mut items = Vec::new();
    for document in state.db.documents(&framework, &requirement).await? {
        items.push(document_view(&state, document).await?);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DocumentList { items }))
}

async fn document_view(state: &AppState, document: Document) -> Result<DocumentView, ApiError> {
    let expires_at = Utc::now() + state.artifacts.ttl;
    let d = &document.document;
    let link = view(
        state,
        Artifact {
            name: d.name.clone(),
            size: d.size,
            sha256: d.sha256.clone(),
            content_type: document.content_type.clone(),
            s3_key: document.s3_key.clone(),
            created_at: d.uploaded_at,
        },
        expires_at,
    )
    .await?;
    Ok(DocumentView {
        id: document.id,
        requirement: document.requirement,
        name: d.name.clone(),
        version: d.version,
        description: d.description.clone(),
        sha256: d.sha256.clone(),
        size: d.size,
        content_type: document.content_type,
        uploaded_by: d.uploaded_by.clone(),
        uploaded_at: d.uploaded_at,
        url: link.url,
        expires_at: expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

/// Whether a requirement applies, as an admin left it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequirementMark {
    pub framework: String,
    pub requirement: String,
    /// Why it does not apply; none: it applies.
    pub not_applicable: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExclusionBody {
    /// Why the requirement does not apply (kept, audited and printed in reports).
    pub reason: String,
}

/// Marks a requirement not applicable, with the reason: admins only.
#[utoipa::path(put, path = "/api/v1/compliance/frameworks/{name}/requirements/{requirement}/not-applicable",
    tag = "evidence", request_body = ExclusionBody,
    params(("name" = String, Path), ("requirement" = String, Path)),
    responses((status = 200, body = RequirementMark), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404)))]
#[put("/api/v1/compliance/frameworks/{name}/requirements/{requirement}/not-applicable")]
pub async fn exclude(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: ValidatedJson<ExclusionBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let (framework, requirement) = path.into_inner();
    let framework = requirement_of(&state, &framework, &requirement).await?;
    let reason = checked_text("reason", &body.0.reason)
        .map_err(|problem| ApiError::invalid(vec![problem]))?;
    state
        .db
        .mark_not_applicable(
            &framework,
            &requirement,
            Some(&reason),
            caller.user.id,
            &caller.audit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(RequirementMark {
        framework: framework.to_string(),
        requirement,
        not_applicable: Some(reason),
    }))
}

/// Takes the mark off: the requirement applies again. Admins only.
#[utoipa::path(delete, path = "/api/v1/compliance/frameworks/{name}/requirements/{requirement}/not-applicable",
    tag = "evidence",
    params(("name" = String, Path), ("requirement" = String, Path)),
    responses((status = 200, body = RequirementMark), (status = 403), (status = 404)))]
#[delete("/api/v1/compliance/frameworks/{name}/requirements/{requirement}/not-applicable")]
pub async fn include(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let (framework, requirement) = path.into_inner();
    let framework = requirement_of(&state, &framework, &requirement).await?;
    state
        .db
        .mark_not_applicable(
            &framework,
            &requirement,
            None,
            caller.user.id,
            &caller.audit,
        )
        .await?;
    Ok(HttpResponse::Ok().json(RequirementMark {
        framework: framework.to_string(),
        requirement,
        not_applicable: None,
    }))
}
