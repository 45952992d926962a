//! Who may run or view a module (admin).

use std::collections::BTreeSet;

use actix_web::{HttpResponse, get, put, web};
use sage_model::ModuleId;
use sage_model::names::Email;
use sage_store::catalog::{Assignment, Principal};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::ValidatedJson;
use crate::identity::access::Access;
use crate::identity::caller::Caller;
use crate::state::AppState;

const MAX_ASSIGNMENTS: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentsBody {
    pub assignments: Vec<AssignmentBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentBody {
    pub user: Option<String>,
    pub group: Option<String>,
    pub permissions: Vec<String>,
}

/// A module's assignments, as the HTTP contract writes them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentsView {
    pub assignments: Vec<AssignmentView>,
}

/// One assignment: a user (by email) or a group, and what they may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `run`, `view` or both.
    pub permissions: Vec<&'static str>,
}

impl AssignmentsView {
    fn new(assignments: &[Assignment]) -> Self {
        let view = |assignment: &Assignment| {
            let (user, group) = match &assignment.principal {
                Principal::User(email) => (Some(email.clone()), None),
                Principal::Group(group) => (None, Some(group.clone())),
            };
            let permissions = [("run", assignment.can_run), ("view", assignment.can_view)]
                .into_iter()
                .filter_map(|(name, granted)| granted.then_some(name))
                .collect();
            AssignmentView {
                user,
                group,
                permissions,
            }
        };
        Self {
            assignments: assignments.iter().map(view).collect(),
        }
    }
}

fn parse_assignments(body: AssignmentsBody) -> Result<Vec<Assignment>, ApiError> {
    let mut problems = Vec::new();
    if body.assignments.len() > MAX_ASSIGNMENTS {
        problems.push(FieldProblem::new(
            "assignments",
            format!("must have at most {MAX_ASSIGNMENTS} entries"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut assignments = Vec::new();
    for (i, entry) in body.assignments.into_iter().enumerate() {
        let at = format!("assignments[{i}]");
        let principal = match (entry.user, entry.group) {
            (Some(user), None) => match Email::parse(&user) {
                Ok(email) => Some(Principal::User(email.as_str().to_owned())),
                Err(_) => {
                    problems.push(FieldProblem::new(
                        format!("{at}.user"),
                        "is not an email address",
                    ));
                    None
                }
            },
            (None, Some(group)) => {
                let ok =
                    (1..=128).contains(&group.len()) && group.chars().all(|c| c.is_ascii_graphic());
                if ok {
                    Some(Principal::Group(group))
                } else {
                    problems.push(FieldProblem::new(
                        format!("{at}.group"),
                        "must be 1 to 128 visible ASCII characters",
                    ));
                    None
                }
            }
            _ => {
                problems.push(FieldProblem::new(&at, "needs exactly one of user or group"));
                None
            }
        };
        let mut can = (false, false);
        for permission in &entry.permissions {
            match permission.as_str() {
                "run" => can.0 = true,
                "view" => can.1 = true,
                other => problems.push(FieldProblem::new(
                    format!("{at}.permissions"),
                    format!("{other:?} is not one of run, view"),
                )),
            }
        }
        if entry.permissions.is_empty() {
            problems.push(FieldProblem::new(
                format!("{at}.permissions"),
                "must name run, view or both",
            ));
        }
        if let Some(principal) = principal {
            if !seen.insert(principal.clone()) {
                problems.push(FieldProblem::new(&at, "is listed twice"));
            }
            assignments.push(Assignment {
                principal,
                can_run: can.0,
                can_view: can.1,
            });
        }
    }
    if problems.is_empty() {
        Ok(assignments)
    } else {
        Err(ApiError::invalid(problems))
    }
}

/// Replaces the module's assignments.
#[utoipa::path(put, path = "/api/v1/modules/{id}/assignments", tag = "modules", request_body = AssignmentsBody,
    params(("id" = uuid::Uuid, Path, description = "The module's id")),
    responses((status = 200, body = AssignmentsView), (status = 400, body = crate::http::error::ErrorBody), (status = 403), (status = 404)))]
#[put("/api/v1/modules/{id}/assignments")]
pub async fn replace(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ModuleId>,
    body: ValidatedJson<AssignmentsBody>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let module = state.db.module(*id).await?.ok_or(ApiError::NotFound)?;
    let assignments = parse_assignments(body.0)?;
    state
        .db
        .replace_assignments(module.id, &assignments, &caller.audit)
        .await?;
    Ok(HttpResponse::Ok().json(AssignmentsView::new(&assignments)))
}

#[utoipa::path(get, path = "/api/v1/modules/{id}/assignments", tag = "modules",
    params(("id" = uuid::Uuid, Path, description = "The module's id")),
    responses((status = 200, body = AssignmentsView), (status = 403), (status = 404)))]
#[get("/api/v1/modules/{id}/assignments")]
pub async fn read(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<ModuleId>,
) -> Result<HttpResponse, ApiError> {
    Access::new(&state, &caller).require_admin()?;
    let module = state.db.module(*id).await?.ok_or(ApiError::NotFound)?;
    let assignments = state.db.assignments(module.id).await?;
    Ok(HttpResponse::Ok().json(AssignmentsView::new(&assignments)))
}
