//! Scripts, modules with immutable versions, and who may run or view them. Every
//! change is written together with its audit event.

mod assignments;
mod modules;
mod scripts;

pub(crate) use assignments::write_assignments;
pub use assignments::{Assignment, Permissions, Principal};
pub use modules::{Module, ModuleVersion, NewVersion};
pub(crate) use modules::{insert_module, next_version, read_definition};
pub use scripts::{NewScript, Script};
pub(crate) use scripts::{insert_script, script_ref};

/// A page of a list ordered by a unique text key; `next` continues after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says more exist.
    fn from_rows(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Self {
        let more = items.len() as i64 > limit;
        items.truncate(limit.max(0) as usize);
        let next = if more { items.last().map(key) } else { None };
        Self { items, next }
    }
}
