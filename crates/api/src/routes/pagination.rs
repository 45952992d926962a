//! `?limit=&cursor=` of every list, and the `{"items", "next_cursor"}` answer.

use serde::{Deserialize, Serialize};

use crate::http::error::{ApiError, FieldProblem};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid(vec![FieldProblem::new(
                "limit",
                format!("must be from 1 to {MAX_LIMIT}"),
            )])),
        }
    }
}

/// A page of a list; `next_cursor` continues after it, `null` on the last page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listing<T: Serialize + utoipa::ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
