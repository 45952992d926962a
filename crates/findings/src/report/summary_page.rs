//! The report's summary page: posture by severity, by tool, requirements by status,
//! the change since the previous report of the same scope, and the weekly trend.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sage_model::compliance::RequirementStatus;

use super::{Bar, Block, Evidence, Words, tool_name};
use crate::finding::{Severity, Status};

/// Failing findings (not accepted) at the end of one day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrendPoint {
    pub day: chrono::NaiveDate,
    pub failing: u64,
}

/// The previous ready report over the same tools and framework, as the summary page
/// compares with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Previous {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// Its failing findings by severity.
    pub failing: BTreeMap<Severity, u64>,
    /// Its requirements by status (`summary.requirements.counts`).
    pub requirements: BTreeMap<String, u64>,
    /// Findings of the tools that became new, reopened or fixed since it was built.
    pub new: u64,
    pub reopened: u64,
    pub fixed: u64,
}

/// Each severity's colour in charts, beside its name.
fn severity_colour(severity: Severity) -> (u8, u8, u8) {
    match severity {
        Severity::Critical => (128, 0, 38),
        Severity::High => (215, 48, 39),
        Severity::Medium => (244, 140, 30),
        Severity::Low => (214, 182, 0),
        Severity::Informational => (69, 117, 180),
        Severity::Unknown => (120, 120, 120),
    }
}

/// Each requirement status's colour in charts, beside its name.
fn status_colour(status: RequirementStatus) -> (u8, u8, u8) {
    match status {
        RequirementStatus::Fail => (215, 48, 39),
        RequirementStatus::Accepted => (244, 140, 30),
        RequirementStatus::Pass => (26, 152, 80),
        RequirementStatus::Manual => (69, 117, 180),
        RequirementStatus::NotAssessed | RequirementStatus::NotApplicable => (120, 120, 120),
    }
}

impl Evidence<'_> {
    /// Failing findings of every tool by severity.
    pub(super) fn failing(&self) -> BTreeMap<Severity, u64> {
        let mut failing = BTreeMap::new();
        for statuses in self.summary.counts.values() {
            for (severity, n) in statuses.get(&Status::Fail).into_iter().flatten() {
                *failing.entry(*severity).or_insert(0) += n;
            }
        }
        failing
    }

    /// The first page after the cover: posture by severity (a bar each, coloured and
    /// named), by tool, requirements met, and what changed since the previous report of
    /// the same scope.
    pub(super) fn executive(&self) -> Vec<Block> {
        let l = self.lang.labels();
        let failing = self.failing();
        let total: u64 = failing.values().sum();
        let mut blocks = vec![
            Block::PageBreak,
            Block::Heading(l.executive.to_owned()),
            Block::Text(format!("{}: {total}", l.failing_findings)),
            Block::Bars(
                Severity::ALL
                    .into_iter()
                    .map(|severity| Bar {
                        label: self.lang.severity(severity).to_owned(),
                        value: failing.get(&severity).copied().unwrap_or(0),
                        colour: severity_colour(severity),
                    })
                    .collect(),
            ),
        ];
        let severities: Vec<Severity> = Severity::ALL
            .into_iter()
            .filter(|s| failing.contains_key(s))
            .collect();
        if !severities.is_empty() {
            let mut header = vec![l.tool.to_owned()];
            header.extend(severities.iter().map(|s| self.lang.severity(*s).to_owned()));
            let rows = self
                .summary
                .counts
                .iter()
                .map(|(tool, statuses)| {
                    let fails = statuses.get(&Status::Fail);
                    let mut row = vec![tool_name(*tool).to_owned()];
                    row.extend(severities.iter().map(|s| {
                        fails
                            .and_then(|f| f.get(s))
                            .copied()
                            .unwrap_or(0)
                            .to_string()
                    }));
                    row
                })
                .collect();
            let mut widths = vec![4];
            widths.extend(severities.iter().map(|_| 2));
            blocks.push(Block::Heading(l.failing_by_tool.to_owned()));
            blocks.push(Block::Table {
                widths,
                header,
                rows,
            });
        }
        if let Some(assessment) = self.assessment {
            let counts = assessment.counts();
            let count = |status| counts.get(&status).copied().unwrap_or(0);
            blocks.push(Block::Heading(format!(
                "{} ({} {})",
                l.requirements_met, assessment.title, assessment.version
            )));
            blocks.push(Block::Bars(
                RequirementStatus::ALL
                    .into_iter()
                    .map(|status| Bar {
                        label: self.lang.requirement_status(status).to_owned(),
                        value: count(status) as u64,
                        colour: status_colour(status),
                    })
                    .collect(),
            ));
        }
        blocks.extend(self.since_previous(&failing));
        if !self.trend.is_empty() {
            blocks.push(Block::Heading(l.trend.to_owned()));
            blocks.push(Block::Bars(
                self.trend
                    .iter()
                    .map(|point| Bar {
                        label: point.day.format("%Y-%m-%d").to_string(),
                        value: point.failing,
                        colour: (128, 0, 38),
                    })
                    .collect(),
            ));
            blocks.push(Block::Text(l.trend_note.to_owned()));
        }
        blocks
    }

    /// What changed since the previous report of the same scope, or that there is none.
    fn since_previous(&self, failing: &BTreeMap<Severity, u64>) -> Vec<Block> {
        let l = self.lang.labels();
        let Some(previous) = self.previous else {
            return vec![
                Block::Heading(l.since_previous.to_owned()),
                Block::Text(l.no_previous.to_owned()),
            ];
        };
        let signed = |now: u64, then: u64| {
            let change = i128::from(now) - i128::from(then);
            if change > 0 {
                format!("+{change}")
            } else {
                change.to_string()
            }
        };
        let rows = Severity::ALL
            .into_iter()
            .filter(|s| failing.contains_key(s) || previous.failing.contains_key(s))
            .map(|s| {
                let (then, now) = (
                    previous.failing.get(&s).copied().unwrap_or(0),
                    failing.get(&s).copied().unwrap_or(0),
                );
                vec![
                    self.lang.severity(s).to_owned(),
                    then.to_string(),
                    now.to_string(),
                    signed(now, then),
                ]
            })
            .collect();
        let mut blocks = vec![
            Block::Heading(l.since_previous.to_owned()),
            Block::Text(format!(
                "{} {} ({})",
                l.compared_with,
                previous.created_at.format("%Y-%m-%d %H:%M UTC"),
                previous.id
            )),
            Block::Table {
                widths: vec![4, 2, 2, 2],
                header: vec![
                    l.severity.to_owned(),
                    l.then.to_owned(),
                    l.now.to_owned(),
                    l.change.to_owned(),
                ],
                rows,
            },
        ];
        if let Some(assessment) = self.assessment
            && !previous.requirements.is_empty()
        {
            let counts = assessment.counts();
            let rows = RequirementStatus::ALL
                .into_iter()
                .map(|status| {
                    let then = previous
                        .requirements
                        .get(status.as_str())
                        .copied()
                        .unwrap_or(0);
                    let now = counts.get(&status).copied().unwrap_or(0) as u64;
                    vec![
                        self.lang.requirement_status(status).to_owned(),
                        then.to_string(),
                        now.to_string(),
                        signed(now, then),
                    ]
                })
                .collect();
            blocks.push(Block::Table {
                widths: vec![4, 2, 2, 2],
                header: vec![
                    l.requirement.to_owned(),
                    l.then.to_owned(),
                    l.now.to_owned(),
                    l.change.to_owned(),
                ],
                rows,
            });
        }
        blocks.push(Block::Bars(vec![
            Bar {
                label: l.new_since.to_owned(),
                value: previous.new,
                colour: (215, 48, 39),
            },
            Bar {
                label: l.reopened_since.to_owned(),
                value: previous.reopened,
                colour: (244, 140, 30),
            },
            Bar {
                label: l.fixed_since.to_owned(),
                value: previous.fixed,
                colour: (26, 152, 80),
            },
        ]));
        blocks
    }
}
