//! The compliance frameworks the workers' scanner image holds (CIS, KISA ISMS-P), and
//! findings grouped under the requirements whose checks reported them.

use actix_web::{HttpResponse, get, web};
use sage_model::compliance::{FrameworkName, default_frameworks};
use sage_store::compliance::HeldFramework;
use sage_store::finding_history::TrackedFinding;
use serde::Serialize;

use crate::http::error::{ApiError, FieldProblem};
use crate::identity::caller::Caller;
use crate::state::AppState;

/// At most this many frameworks to group one answer under.
const MAX_FRAMEWORKS: usize = 10;

/// A framework, and where it was read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FrameworkView {
    /// Its name as Prowler spells it (`cis_5.0_aws`, `kisa_isms_p_2023_aws`).
    pub name: String,
    /// The framework's own name (`CIS`, `KISA-ISMS-P`).
    pub framework: String,
    pub title: String,
    pub version: String,
    /// The cloud its checks scan.
    pub provider: String,
    /// The tool whose checks its requirements name, its version, and the file read.
    pub tool: String,
    pub source: String,
    pub requirements: usize,
    /// Requirements a tool can assess; the rest take documents.
    pub automated: usize,
}

impl From<&HeldFramework> for FrameworkView {
    fn from(held: &HeldFramework) -> Self {
        let framework = &held.framework;
        Self {
            name: held.name.to_string(),
            framework: framework.framework.clone(),
            title: framework.title.clone(),
            version: framework.version.clone(),
            provider: framework.provider.clone(),
            tool: held.tool.as_str().to_owned(),
            source: framework.source.clone(),
            requirements: framework.requirements.len(),
            automated: framework
                .requirements
                .iter()
                .filter(|requirement| !requirement.checks.is_empty())
                .count(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FrameworkList {
    pub items: Vec<FrameworkView>,
}

/// The frameworks the workers' scanner image holds, read from its Prowler package.
#[utoipa::path(get, path = "/api/v1/compliance/frameworks", tag = "findings",
    responses((status = 200, body = FrameworkList)))]
#[get("/api/v1/compliance/frameworks")]
pub async fn list_frameworks(
    _caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let held = state.db.all_frameworks().await?;
    Ok(HttpResponse::Ok().json(FrameworkList {
        items: held.iter().map(FrameworkView::from).collect(),
    }))
}

/// A requirement and the findings of the checks that assess it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ControlView {
    /// The framework's name, as in `frameworks`.
    pub framework: String,
    pub requirement: String,
    pub title: String,
    /// CIS's section, ISMS-P's subdomain.
    pub section: String,
    /// The findings it gathers, in the answer's order.
    pub fingerprints: Vec<String>,
}

/// The frameworks `named` (`compliance=a,b`; absent: the newest CIS of each cloud and
/// ISMS-P), each held, or the field's refusal.
pub async fn chosen_frameworks(
    state: &AppState,
    named: Option<&str>,
) -> Result<Vec<HeldFramework>, ApiError> {
    let held = state.db.framework_names().await?;
    let names = match named {
        None => default_frameworks(&held),
        Some(list) => {
            let names = list.split(',').filter(|name| !name.is_empty());
            let mut chosen = Vec::new();
            let mut unknown = Vec::new();
            for name in names {
                match FrameworkName::parse(name) {
                    Ok(name) if held.contains(&name) => {
                        if !chosen.contains(&name) {
                            chosen.push(name);
                        }
                    }
                    _ => unknown.push(name),
                }
            }
            if !unknown.is_empty() {
                return Err(ApiError::invalid(vec![FieldProblem::new(
                    "compliance",
                    format!(
                        "{} not held by the scanner image (GET /api/v1/compliance/frameworks lists them)",
                        unknown.join(", ")
                    ),
                )]));
            }
            if chosen.len() > MAX_FRAMEWORKS {
                return Err(ApiError::invalid(vec![FieldProblem::new(
                    "compliance",
                    format!("names at most {MAX_FRAMEWORKS} frameworks"),
                )]));
            }
            chosen
        }
    };
    Ok(state.db.frameworks(&names).await?)
}

/// The requirements of `frameworks` that name a check of `findings`, each with those
/// findings (a framework names the checks of one tool: the others' findings sit under
/// none).
pub fn controls(frameworks: &[HeldFramework], findings: &[TrackedFinding]) -> Vec<ControlView> {
    frameworks
        .iter()
        .flat_map(|held| {
            let own: Vec<&TrackedFinding> = findings
                .iter()
                .filter(|finding| finding.tool == held.tool)
                .collect();
            let checks: Vec<&str> = own
                .iter()
                .map(|finding| finding.check_id.as_str())
                .collect();
            held.framework
                .group(&checks)
                .into_iter()
                .map(|(requirement, members)| ControlView {
                    framework: held.name.to_string(),
                    requirement: requirement.id.clone(),
                    title: requirement.title.clone(),
                    section: requirement.section.clone(),
                    fingerprints: members
                        .into_iter()
                        .map(|index| own[index].fingerprint.clone())
                        .collect(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
