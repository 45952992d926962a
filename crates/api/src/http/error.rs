//! The one mapping from failures to HTTP answers. Every error leaves as
//! `{"error": {"code", "message", "fields"}}`; internal failures are logged with their
//! whole cause chain and reach the client only as an opaque 500 with the request id.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::request_id;

/// One failing input, named the way the client wrote it (`params.retention_days`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation {
        message: String,
        fields: Vec<FieldProblem>,
    },
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// The request names something whose state refuses it (a retired version).
    #[error("{}: {}", .0.field, .0.message)]
    FieldConflict(FieldProblem),
    /// The caller holds, or the process serves, as much of something as it may.
    #[error("{0}")]
    TooMany(String),
    /// A deployment limit the request would pass, named as the field.
    #[error("{}: {}", .0.field, .0.message)]
    OverLimit(FieldProblem),
    /// A scanner tool that the workers' scanner image does not hold.
    #[error("{0}")]
    ToolUnavailable(String),
    #[error("the service is shutting down or a dependency is unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(fields: Vec<FieldProblem>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self::Validation { message, fields }
    }

    /// The whole refusal in one line, every field named (`params.db_name: …; regions: …`):
    /// what a scan's refused account or a schedule's refused fire records.
    pub fn in_words(&self) -> String {
        match self {
            Self::Validation { fields, .. } if !fields.is_empty() => fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "validation_failed",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict(_) | Self::FieldConflict(_) => "conflict",
            Self::TooMany(_) => "too_many_requests",
            Self::OverLimit(_) => "limit_reached",
            Self::ToolUnavailable(_) => "tool_unavailable",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        if let Self::Internal(error) = self {
            for cause in error.chain() {
                write!(f, ": {cause}")?;
            }
        }
        Ok(())
    }
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::FieldConflict(_) | Self::ToolUnavailable(_) => {
                StatusCode::CONFLICT
            }
            Self::TooMany(_) | Self::OverLimit(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = request_id::current();
        let message = match self {
            Self::Internal(_) => {
                tracing::error!(error = ?self, %request_id, "request failed");
                format!("internal error (request id {request_id})")
            }
            other => other.to_string(),
        };
        let fields = match self {
            Self::Validation { fields, .. } => fields.clone(),
            Self::FieldConflict(field) | Self::OverLimit(field) => vec![field.clone()],
            _ => Vec::new(),
        };
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unauthenticated => drop(response.insert_header(("WWW-Authenticate", "Bearer"))),
            Self::TooMany(_) => drop(response.insert_header(("Retry-After", "5"))),
            Self::OverLimit(_) => drop(response.insert_header(("Retry-After", "30"))),
            _ => {}
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message,
                fields,
            },
        })
    }
}

impl From<sage_store::StoreError> for ApiError {
    fn from(error: sage_store::StoreError) -> Self {
        match error {
            sage_store::StoreError::Conflict(message) => Self::Conflict(message.to_owned()),
            sage_store::StoreError::OverLimit(over) => Self::OverLimit(over_limit(over)),
            other => Self::internal(other),
        }
    }
}

impl From<sage_model::FieldError> for FieldProblem {
    fn from(error: sage_model::FieldError) -> Self {
        Self::new(error.field, error.message)
    }
}

impl From<Vec<sage_model::FieldError>> for ApiError {
    fn from(errors: Vec<sage_model::FieldError>) -> Self {
        Self::invalid(errors.into_iter().map(FieldProblem::from).collect())
    }
}

/// Query strings that fail to parse answer 400 naming the parameter.
pub fn query_error(
    error: actix_web::error::QueryPayloadError,
    _: &HttpRequest,
) -> actix_web::Error {
    let text = error.to_string();
    let field = serde_field(&text).unwrap_or("query").to_owned();
    ApiError::invalid(vec![FieldProblem::new(field, text)]).into()
}

/// Path segments that fail to parse (an id that is not a UUID) are objects that do not
/// exist, so they answer 404 like any other unknown id.
pub fn path_error(_: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound.into()
}

/// serde names the offending field in backticks: "unknown field `run_as`, expected …".
fn serde_field(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

/// A limit of runs in flight, named by its setting.
fn over_limit(over: sage_store::executions::OverLimit) -> FieldProblem {
    use sage_store::executions::InFlightLimit;
    let (field, whose) = match over.limit {
        InFlightLimit::PerUser => ("runs_in_flight_per_user", "you have"),
        InFlightLimit::PerModule => ("runs_in_flight_per_module", "this module has"),
    };
    FieldProblem::new(
        field,
        format!(
            "{whose} {} runs queued or running, the most allowed ({}); wait for some to end, or cancel some",
            over.max,
            field.to_uppercase()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            serde_field("unknown field `run_as`, expected one of `path`"),
            Some("run_as")
        );
        assert_eq!(serde_field("missing field `path` at line 1"), Some("path"));
        assert_eq!(serde_field("expected value at line 1 column 2"), None);
    }

    #[test]
    fn one_problem_is_the_message() {
        let error = ApiError::invalid(vec![FieldProblem::new("path", "must be relative")]);
        assert_eq!(error.to_string(), "path: must be relative");
        let error = ApiError::invalid(vec![
            FieldProblem::new("a", "x"),
            FieldProblem::new("b", "y"),
        ]);
        assert_eq!(error.to_string(), "2 fields are invalid");
    }
}
