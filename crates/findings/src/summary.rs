//! The numbers of an evidence report, accumulated record by record so they cost the
//! same memory for ten findings or ten million.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::finding::{Finding, Severity, Status, Tool};
use crate::parse::{ComplianceResult, Record};

/// tool → status → severity → findings: what `sage-findings parse --summary` prints.
pub type Counts = BTreeMap<Tool, BTreeMap<Status, BTreeMap<Severity, u64>>>;

/// A check that failed, with how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedCheck {
    pub tool: Tool,
    pub check_id: String,
    pub title: String,
    pub severity: Severity,
    pub failed: u64,
}

/// How a framework's mapped requirements fared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FrameworkResult {
    pub requirements: u64,
    pub statuses: BTreeMap<Status, u64>,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub counts: Counts,
    pub total: u64,
    pub accounts: BTreeSet<String>,
    failed: HashMap<(Tool, String), FailedCheck>,
    /// The most failed checks followed, as a report lists at most so many checks;
    /// `None`: all.
    max_checks: Option<usize>,
    /// framework → requirement → statuses seen.
    compliance: BTreeMap<String, BTreeMap<String, BTreeSet<Status>>>,
}

impl Summary {
    /// A summary that follows the failures of at most `max_checks` checks (the first
    /// seen) for its most failed list; it counts every finding all the same.
    pub fn with_max_checks(max_checks: usize) -> Self {
        Self {
            max_checks: Some(max_checks),
            ..Self::default()
        }
    }

    pub fn add(&mut self, record: &Record) {
        match record {
            Record::Finding(finding) => self.add_finding(finding),
            Record::Compliance(row) => self.add_compliance(row),
        }
    }

    fn add_finding(&mut self, finding: &Finding) {
        *self
            .counts
            .entry(finding.tool)
            .or_default()
            .entry(finding.status)
            .or_default()
            .entry(finding.severity)
            .or_default() += 1;
        self.total += 1;
        if !finding.account.is_empty() && !self.accounts.contains(&finding.account) {
            self.accounts.insert(finding.account.clone());
        }
        if finding.status == Status::Fail {
            let key = (finding.tool, finding.check_id.clone());
            if let Some(check) = self.failed.get_mut(&key) {
                check.failed += 1;
            } else if self.max_checks.is_none_or(|max| self.failed.len() < max) {
                let check = FailedCheck {
                    tool: finding.tool,
                    check_id: finding.check_id.clone(),
                    title: finding.title.clone(),
                    severity: finding.severity,
                    failed: 1,
                };
                self.failed.insert(key, check);
            }
        }
        for reference in &finding.compliance {
            let (framework, requirement) = reference.split_once(": ").unwrap_or((reference, ""));
            self.map(framework, requirement, finding.status);
        }
    }

    fn add_compliance(&mut self, row: &ComplianceResult) {
        self.map(&row.framework, &row.requirement, row.status);
    }

    fn map(&mut self, framework: &str, requirement: &str, status: Status) {
        let requirements = match self.compliance.get_mut(framework) {
            Some(requirements) => requirements,
            None => self.compliance.entry(framework.to_owned()).or_default(),
        };
        match requirements.get_mut(requirement) {
            Some(statuses) => {
                statuses.insert(status);
            }
            None => {
                requirements.insert(requirement.to_owned(), BTreeSet::from([status]));
            }
        }
    }

    /// The `limit` checks with the most failures, most first.
    pub fn most_failed(&self, limit: usize) -> Vec<FailedCheck> {
        let mut checks: Vec<FailedCheck> = self.failed.values().cloned().collect();
        checks.sort_by(|a, b| {
            b.failed
                .cmp(&a.failed)
                .then(a.severity.cmp(&b.severity))
                .then(a.check_id.cmp(&b.check_id))
        });
        checks.truncate(limit);
        checks
    }

    /// Per framework: each requirement counted once, under its worst status (statuses
    /// sort worst first).
    pub fn frameworks(&self) -> BTreeMap<String, FrameworkResult> {
        self.compliance
            .iter()
            .map(|(framework, requirements)| {
                let mut result = FrameworkResult::default();
                for statuses in requirements.values() {
                    result.requirements += 1;
                    if let Some(worst) = statuses.first() {
                        *result.statuses.entry(*worst).or_default() += 1;
                    }
                }
                (framework.clone(), result)
            })
            .collect()
    }

    /// Findings of `tool` with `status`, any severity.
    pub fn count(&self, tool: Tool, status: Status) -> u64 {
        self.counts
            .get(&tool)
            .and_then(|s| s.get(&status))
            .map_or(0, |s| s.values().sum())
    }
}
