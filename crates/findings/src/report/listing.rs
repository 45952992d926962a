//! What a report lists of its findings. A tool's output chooses its check ids, so both
//! the findings listed per check and the checks listed are capped: a report's memory
//! and page count are bounded whatever the files hold, and what was held back is
//! counted and said.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use crate::finding::{Finding, Tool};

/// The caps a report listed under, and what they held back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// `None`: every finding of a check is listed.
    pub per_check: Option<usize>,
    /// `None`: every check is listed.
    pub max_checks: Option<usize>,
    /// Per tool, the findings counted in the summaries but not listed (either cap).
    pub held_back: BTreeMap<Tool, u64>,
    /// The findings of checks beyond the first `max_checks`.
    pub over_checks: u64,
}

/// Collects findings for a report: at most `per_check` of each tool's check, of the
/// first `max_checks` checks seen.
#[derive(Debug)]
pub struct CappedFindings {
    per_check: usize,
    max_checks: usize,
    kept: Vec<Finding>,
    seen: HashMap<(Tool, String), usize>,
    listing: Listing,
}

impl CappedFindings {
    pub fn new(per_check: usize, max_checks: usize) -> Self {
        Self {
            per_check,
            max_checks,
            kept: Vec::new(),
            seen: HashMap::new(),
            listing: Listing {
                per_check: Some(per_check),
                max_checks: Some(max_checks),
                ..Listing::default()
            },
        }
    }

    pub fn push(&mut self, finding: Finding) {
        let key = (finding.tool, finding.check_id.clone());
        let room = self.seen.len() < self.max_checks;
        let listed = match self.seen.entry(key) {
            Entry::Occupied(listed) => listed.into_mut(),
            Entry::Vacant(new) if room => new.insert(0),
            Entry::Vacant(_) => {
                self.listing.over_checks += 1;
                *self.listing.held_back.entry(finding.tool).or_default() += 1;
                return;
            }
        };
        if *listed < self.per_check {
            *listed += 1;
            self.kept.push(finding);
        } else {
            *self.listing.held_back.entry(finding.tool).or_default() += 1;
        }
    }

    pub fn finish(self) -> (Vec<Finding>, Listing) {
        (self.kept, self.listing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Severity, Source, Status};

    fn finding(check: usize) -> Finding {
        Finding {
            tool: Tool::Prowler,
            check_id: format!("check-{check}"),
            title: String::new(),
            severity: Severity::High,
            status: Status::Fail,
            resource_id: String::new(),
            resource_type: String::new(),
            region: String::new(),
            account: String::new(),
            remediation: String::new(),
            compliance: Vec::new(),
            source: Source {
                file: "f".to_owned(),
                position: String::new(),
            },
        }
    }

    #[test]
    fn unique_check_ids_cannot_grow_a_report_past_its_caps() {
        let mut capped = CappedFindings::new(1, 10);
        // 3,000 checks of two findings each: the output chose its check ids.
        for check in 0..3_000 {
            capped.push(finding(check));
            capped.push(finding(check));
        }
        let (kept, listing) = capped.finish();
        assert_eq!(kept.len(), 10);
        assert_eq!(listing.over_checks, 2 * 2_990);
        assert_eq!(listing.held_back[&Tool::Prowler], 6_000 - 10);
        assert_eq!((listing.per_check, listing.max_checks), (Some(1), Some(10)));
    }
}
