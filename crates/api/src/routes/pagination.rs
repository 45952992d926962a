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

/// Where a page ordered by a time and an id, newest first, ends: its last item's time
/// (microseconds) and id, as an opaque URL-safe cursor.
pub fn time_cursor(at: chrono::DateTime<chrono::Utc>, id: uuid::Uuid) -> String {
    format!("{}_{}", at.timestamp_micros(), id.simple())
}

/// A cursor of [`time_cursor`]; `None` for one this api did not give.
pub fn read_time_cursor(cursor: &str) -> Option<(chrono::DateTime<chrono::Utc>, uuid::Uuid)> {
    let (micros, id) = cursor.split_once('_')?;
    let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, uuid::Uuid::parse_str(id).ok()?))
}

/// The first `limit` of `items` (fetched as `limit + 1`), and the cursor after them
/// when there are more.
pub fn page_of<T>(
    mut items: Vec<T>,
    limit: i64,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if items.len() as i64 > limit {
        items.truncate(usize::try_from(limit).unwrap_or_default());
        let next = items.last().map(cursor_of);
        (items, next)
    } else {
        (items, None)
    }
}
