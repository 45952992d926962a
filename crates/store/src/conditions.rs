//! The WHERE clause of a filtered list, holding only the conditions a request gives.
//!
//! One statement with `($n IS NULL OR column = $n)` for every optional filter is planned
//! once for all of them (PostgreSQL's generic plan after five runs), and such a plan
//! cannot use an index for a filter it may not have: it scans and sorts the whole table.
//! A statement per shape of filter lets each use the index that fits it; there are few
//! shapes, so the prepared-statement cache stays small.

use tokio_postgres::types::ToSql;

#[derive(Default)]
pub(crate) struct Conditions {
    clauses: Vec<String>,
    values: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Conditions {
    /// Binds `value` as the next parameter and names its placeholder (`$3`). Values only
    /// ever travel as parameters; the SQL holds placeholders and the callers' literals.
    pub(crate) fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.values.push(Box::new(value));
        format!("${}", self.values.len())
    }

    /// Adds a condition that every row must meet.
    pub(crate) fn and(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// `WHERE a AND b`, or nothing without conditions.
    pub(crate) fn where_clause(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The bound values, in placeholder order.
    pub(crate) fn values(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}
