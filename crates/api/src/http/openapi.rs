//! The OpenAPI document of the HTTP contract, generated from the handlers; the console's bundle
//! carries the page that renders it at `/docs`.

use actix_web::{HttpResponse, get};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sage Runner",
        description = "Runs registered scripts and cloud security scanners, each in its own locked-down container."
    ),
    paths(
        crate::routes::service::health,
        crate::routes::service::ready,
        crate::routes::me::me,
        crate::routes::sign_in::sign_in,
        crate::routes::scripts::create,
        crate::routes::scripts::list,
        crate::routes::scripts::get_one,
        crate::routes::modules::create,
        crate::routes::modules::list,
        crate::routes::modules::get_one,
        crate::routes::modules::create_version,
        crate::routes::modules::get_version,
        crate::routes::modules::retire_version,
        crate::routes::assignments::replace,
        crate::routes::assignments::read,
        crate::routes::executions::submit,
        crate::routes::executions::list,
        crate::routes::executions::get_one,
        crate::routes::executions::cancel,
        crate::routes::executions::approve,
        crate::routes::executions::reject,
        crate::routes::logs::logs,
        crate::routes::artifacts::list,
        crate::routes::tools::list,
        crate::routes::tools::start,
        crate::routes::tools::latest,
        crate::routes::evidence::create_report,
        crate::routes::evidence::list_reports,
        crate::routes::evidence::get_report,
        crate::routes::evidence::get_pack,
        crate::routes::evidence::public_key,
        crate::routes::findings::list,
        crate::routes::findings::get_one,
        crate::routes::finding_changes::diff,
        crate::routes::finding_changes::trends,
        crate::routes::findings::by_resource,
        crate::routes::compliance::list_frameworks,
        crate::routes::evidence_documents::upload,
        crate::routes::evidence_documents::list,
        crate::routes::evidence_documents::exclude,
        crate::routes::evidence_documents::include,
        crate::routes::risk_acceptances::list,
        crate::routes::risk_acceptances::create,
        crate::routes::risk_acceptances::get_one,
        crate::routes::risk_acceptances::approve,
        crate::routes::risk_acceptances::reject,
        crate::routes::risk_acceptances::revoke,
        crate::routes::audit::list,
        crate::routes::audit::verify,
    ),
    components(schemas(
        crate::http::error::ErrorBody,
        crate::http::error::ErrorDetail,
        crate::http::error::FieldProblem,
        crate::routes::artifacts::ArtifactList,
        crate::routes::artifacts::ArtifactView,
        crate::routes::tools::ToolView,
        crate::routes::tools::ToolList,
        crate::routes::tools::LatestRun,
        crate::routes::evidence::EvidenceRequest,
        crate::routes::evidence::EvidenceView,
        crate::routes::findings::FindingView,
        crate::routes::findings::FindingDetail,
        crate::routes::findings::FindingEventView,
        crate::routes::finding_changes::ChangeView,
        crate::routes::finding_changes::DiffView,
        crate::routes::finding_changes::DayView,
        crate::routes::finding_changes::TrendView,
        crate::routes::findings::ResourceView,
        crate::routes::compliance::FrameworkView,
        crate::routes::compliance::FrameworkList,
        crate::routes::compliance::ControlView,
        crate::routes::evidence_documents::DocumentView,
        crate::routes::evidence_documents::DocumentList,
        crate::routes::evidence_documents::ExclusionBody,
        crate::routes::evidence_documents::RequirementMark,
        crate::routes::evidence::PublicKeyView,
        crate::routes::risk_acceptances::AcceptanceBody,
        crate::routes::risk_acceptances::AcceptanceView,
        crate::routes::risk_acceptances::StepBody,
    )),
    tags(
        (name = "service", description = "Liveness, readiness, documentation"),
        (name = "identity", description = "The signed-in caller"),
        (name = "scripts", description = "The script library (admin)"),
        (name = "modules", description = "Modules, versions and assignments"),
        (name = "executions", description = "Runs of modules"),
        (name = "tools", description = "The cloud scanners: Prowler, Scout Suite, Steampipe/Powerpipe, Cloud Custodian"),
        (name = "findings", description = "Every finding of the scanners' runs over time: new, open, fixed, reopened, accepted"),
        (name = "audit", description = "The hash-chained audit trail (admin, auditor)")
    )
)]
pub struct ApiDoc;

/// The OpenAPI 3 document.
#[get("/openapi.json")]
pub async fn spec() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
