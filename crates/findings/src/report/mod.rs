//! The evidence report: its content laid out as plain blocks (so tests and the font
//! subset can see every string), the JSON summary beside it, and the PDF.

mod figures;
mod fonts;
mod labels;
mod listing;
mod pdf;
mod requirements;
mod summary_page;
mod text;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub use figures::count_tables;
pub use fonts::{FontError, FontFiles, NANUM_DIR};
pub use labels::{Lang, Words};
pub use listing::{CappedFindings, Listing};
pub use pdf::{PdfError, render};
pub use requirements::AcceptedRisk;
pub use summary_page::{Previous, TrendPoint};
pub use text::pdf_lines;

use sage_model::compliance::Assessment;

use crate::finding::{Finding, Status, Tool};
use crate::parse::Parsed;
use crate::summary::Summary;

/// One piece of the report, in reading order.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Title(String),
    Heading(String),
    Text(String),
    PageBreak,
    Table {
        /// Relative column widths.
        widths: Vec<usize>,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A bar chart: each row a label (which names what the colour shows, so colour is
    /// never the only sign), a bar in its colour as long as its share of the largest,
    /// and its number.
    Bars(Vec<Bar>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub colour: (u8, u8, u8),
}

/// Everything a report is made from.
pub struct Evidence<'a> {
    pub title: Option<&'a str>,
    pub lang: Lang,
    pub generated_at: DateTime<Utc>,
    pub summary: &'a Summary,
    pub findings: &'a [Finding],
    pub parsed: &'a Parsed,
    /// How many findings of each check are listed; the summaries count them all.
    pub listing: &'a Listing,
    /// The framework the request named, each requirement assessed.
    pub assessment: Option<&'a Assessment>,
    /// The risk acceptances in effect over the report's tools when it was built.
    pub accepted_risks: &'a [AcceptedRisk],
    /// The previous report of the same scope, and what changed since.
    pub previous: Option<&'a Previous>,
    /// Failing findings of the report's tools at the end of each of the last weeks,
    /// oldest first.
    pub trend: &'a [TrendPoint],
}

/// What a bar is drawn with (the Korean fonts hold it).
pub const BAR_MARK: char = '■';

/// Checks listed in "most failed".
const MOST_FAILED: usize = 15;
/// Long remediation texts are cut here: the source file has the rest.
const REMEDIATION_CHARS: usize = 240;
/// Table cells are narrow; words longer than this get a break so they wrap.
const WORD_CHARS: usize = 28;

impl<'a> Evidence<'a> {
    /// A report of parsed findings alone, listing them all: no framework, acceptances,
    /// previous report or trend (what `sage-findings pdf` makes).
    pub fn of_findings(
        lang: Lang,
        summary: &'a Summary,
        findings: &'a [Finding],
        parsed: &'a Parsed,
        listing: &'a Listing,
    ) -> Self {
        Self {
            title: None,
            lang,
            generated_at: Utc::now(),
            summary,
            findings,
            parsed,
            listing,
            assessment: None,
            accepted_risks: &[],
            previous: None,
            trend: &[],
        }
    }

    pub fn title(&self) -> String {
        self.title
            .map_or_else(|| self.lang.default_title().to_owned(), str::to_owned)
    }

    pub fn blocks(&self) -> Vec<Block> {
        let mut blocks = self.cover();
        blocks.extend(self.executive());
        blocks.extend(self.summaries());
        blocks.extend(self.per_tool());
        blocks.extend(self.compliance());
        blocks.extend(self.requirements());
        blocks.extend(self.accepted_risks());
        blocks.extend(self.appendix());
        blocks
    }

    fn runs(&self) -> BTreeSet<&str> {
        self.parsed
            .sources
            .iter()
            .filter_map(|s| s.run.as_deref())
            .collect()
    }

    fn cover(&self) -> Vec<Block> {
        let l = self.lang.labels();
        let list = |items: Vec<String>| {
            if items.is_empty() {
                l.none.to_owned()
            } else {
                items.join(", ")
            }
        };
        let tools: Vec<String> = self.summary.counts.keys().map(|t| t.to_string()).collect();
        let mut cover = vec![
            Block::Title(self.title()),
            Block::Text(format!(
                "{}: {}",
                l.generated,
                self.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
            )),
            Block::Text(format!("{}: {}", l.findings, self.summary.total)),
            Block::Text(format!("{}: {}", l.tools, list(tools))),
            Block::Text(format!(
                "{}: {}",
                l.accounts,
                list(self.summary.accounts.iter().cloned().collect())
            )),
            Block::Text(format!(
                "{}: {}",
                l.runs,
                list(self.runs().into_iter().map(str::to_owned).collect())
            )),
        ];
        if let Some(cap) = self.listing.per_check {
            cover.push(Block::Text(format!("{}: {cap}", l.listed_per_check)));
        }
        if let Some(cap) = self.listing.max_checks {
            cover.push(Block::Text(format!("{}: {cap}", l.listed_checks)));
        }
        if self.listing.over_checks > 0 {
            let over = self.listing.over_checks;
            cover.push(Block::Text(format!("{over} {}", l.over_checks)));
        }
        cover
    }

    fn summaries(&self) -> Vec<Block> {
        let l = self.lang.labels();
        let [by_tool, by_severity] = figures::count_tables(self.summary, self.lang);
        vec![
            Block::Heading(l.by_tool.to_owned()),
            by_tool,
            Block::Heading(l.by_severity.to_owned()),
            by_severity,
            Block::Heading(l.most_failed.to_owned()),
            self.most_failed(),
        ]
    }

    fn most_failed(&self) -> Block {
        let l = self.lang.labels();
        let rows = self
            .summary
            .most_failed(MOST_FAILED)
            .into_iter()
            .map(|c| {
                vec![
                    c.tool.to_string(),
                    breakable(&format!("{} — {}", c.check_id, c.title), 200),
                    self.lang.severity(c.severity).to_owned(),
                    c.failed.to_string(),
                ]
            })
            .collect();
        Block::Table {
            widths: vec![2, 12, 2, 2],
            header: vec![
                l.tool.into(),
                l.check.into(),
                l.severity.into(),
                l.failed.into(),
            ],
            rows,
        }
    }

    fn per_tool(&self) -> Vec<Block> {
        let l = self.lang.labels();
        let mut blocks = Vec::new();
        for tool in self.summary.counts.keys() {
            let mut findings: Vec<&Finding> =
                self.findings.iter().filter(|f| f.tool == *tool).collect();
            findings.sort_by(|a, b| {
                (a.status, a.severity, &a.check_id).cmp(&(b.status, b.severity, &b.check_id))
            });
            let rows = findings
                .into_iter()
                .map(|f| {
                    vec![
                        self.lang.severity(f.severity).to_owned(),
                        self.lang.status(f.status).to_owned(),
                        breakable(&f.check_id, 120),
                        breakable(&f.resource_id, 160),
                        breakable(&f.region, 40),
                        breakable(&f.remediation, REMEDIATION_CHARS),
                    ]
                })
                .collect();
            blocks.push(Block::PageBreak);
            blocks.push(Block::Heading(format!(
                "{} {}",
                l.findings_of,
                tool_name(*tool)
            )));
            blocks.push(Block::Table {
                widths: vec![2, 2, 5, 7, 2, 9],
                header: vec![
                    l.severity.into(),
                    l.status.into(),
                    l.check.into(),
                    l.resource.into(),
                    l.region.into(),
                    l.remediation.into(),
                ],
                rows,
            });
            if let Some(held) = self.listing.held_back.get(tool).filter(|n| **n > 0) {
                blocks.push(Block::Text(format!("{held} {}", l.held_back)));
            }
        }
        blocks
    }

    fn compliance(&self) -> Vec<Block> {
        let l = self.lang.labels();
        let frameworks = self.summary.frameworks();
        if frameworks.is_empty() {
            return Vec::new();
        }
        let statuses: Vec<Status> = Status::ALL
            .into_iter()
            .filter(|s| frameworks.values().any(|f| f.statuses.contains_key(s)))
            .collect();
        let mut header = vec![l.framework.to_owned(), l.requirements.to_owned()];
        header.extend(statuses.iter().map(|s| self.lang.status(*s).to_owned()));
        let rows = frameworks
            .iter()
            .map(|(name, result)| {
                let mut row = vec![breakable(name, 120), result.requirements.to_string()];
                row.extend(
                    statuses
                        .iter()
                        .map(|s| result.statuses.get(s).copied().unwrap_or(0).to_string()),
                );
                row
            })
            .collect();
        let mut widths = vec![8, 3];
        widths.extend(statuses.iter().map(|_| 2));
        vec![
            Block::PageBreak,
            Block::Heading(l.compliance.to_owned()),
            Block::Table {
                widths,
                header,
                rows,
            },
        ]
    }

    fn appendix(&self) -> Vec<Block> {
        let l = self.lang.labels();
        let rows = self
            .parsed
            .sources
            .iter()
            .map(|s| {
                let mut file = breakable(&s.file, 200);
                if let Some(note) = &s.note {
                    file = format!("{file} ({note})");
                }
                vec![
                    file,
                    s.run.clone().unwrap_or_default(),
                    s.format.clone(),
                    s.findings.to_string(),
                    breakable(&s.sha256, 64),
                ]
            })
            .collect();
        let mut blocks = vec![
            Block::PageBreak,
            Block::Heading(l.appendix.to_owned()),
            Block::Table {
                widths: vec![8, 6, 4, 2, 8],
                header: vec![
                    l.file.into(),
                    l.run.into(),
                    l.tool.into(),
                    l.findings.into(),
                    "SHA-256".into(),
                ],
                rows,
            },
        ];
        if !self.parsed.skipped.is_empty() {
            blocks.push(Block::Heading(l.skipped.to_owned()));
            blocks.push(Block::Table {
                widths: vec![1, 1],
                header: vec![l.file.into(), l.notes.into()],
                rows: self
                    .parsed
                    .skipped
                    .iter()
                    .map(|s| vec![breakable(&s.file, 200), s.reason.clone()])
                    .collect(),
            });
        }
        blocks
    }

    /// The JSON summary stored beside the PDF: the same numbers, machine-readable.
    pub fn summary_json(&self) -> Value {
        json!({
            "title": self.title(),
            "generated_at": self.generated_at,
            "total": self.summary.total,
            "counts": self.summary.counts,
            "accounts": self.summary.accounts,
            "runs": self.runs(),
            "most_failed": self.summary.most_failed(MOST_FAILED),
            "compliance": self.summary.frameworks(),
            "accepted_risks": self.accepted_risks,
            "failing": self.failing(),
            "previous": self.previous,
            "trend": self.trend,
            "requirements": self.assessment.map(|a| json!({
                "name": a.name,
                "framework": a.framework,
                "title": a.title,
                "version": a.version,
                "source": a.source,
                "counts": a.counts().into_iter()
                    .map(|(status, n)| (status.as_str(), n))
                    .collect::<std::collections::BTreeMap<_, _>>(),
                "items": a.requirements,
            })),
            "sources": self.parsed.sources,
            "skipped": self.parsed.skipped,
            "listing": {
                "per_check": self.listing.per_check,
                "max_checks": self.listing.max_checks,
                "held_back": self.listing.held_back.values().sum::<u64>(),
                "over_checks": self.listing.over_checks,
            },
        })
    }
}

fn tool_name(tool: Tool) -> &'static str {
    match tool {
        Tool::Prowler => "Prowler",
        Tool::Scout => "Scout Suite",
        Tool::Steampipe => "Powerpipe / Steampipe",
        Tool::Custodian => "Cloud Custodian",
    }
}

/// `text` cut to `max` characters, its long words broken so a narrow cell can wrap
/// them (genpdf wraps at spaces only).
fn breakable(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        out.push(if c.is_whitespace() { ' ' } else { c });
        let word = out.rsplit(' ').next().map_or(0, |w| w.chars().count());
        if word >= WORD_CHARS {
            out.push(' ');
        }
    }
    out
}

/// Every character the blocks show, for the font subset.
pub fn characters(blocks: &[Block], extra: &str) -> BTreeSet<char> {
    let mut chars: BTreeSet<char> = extra.chars().collect();
    for block in blocks {
        match block {
            Block::Title(t) | Block::Heading(t) | Block::Text(t) => chars.extend(t.chars()),
            Block::PageBreak => {}
            Block::Bars(bars) => {
                chars.insert(BAR_MARK);
                for bar in bars {
                    chars.extend(bar.label.chars());
                    chars.extend(bar.value.to_string().chars());
                }
            }
            Block::Table { header, rows, .. } => {
                for cell in header.iter().chain(rows.iter().flatten()) {
                    chars.extend(cell.chars());
                }
            }
        }
    }
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_words_are_broken_and_long_texts_cut() {
        let arn = "arn:aws:iam::123456789012:role/a-very-long-role-name-indeed";
        let broken = breakable(arn, 200);
        assert!(broken.split(' ').all(|w| w.chars().count() <= WORD_CHARS));
        assert_eq!(broken.replace(' ', ""), arn);
        assert_eq!(breakable("abc def", 3), "abc…");
        assert_eq!(breakable("a\nb", 10), "a b");
    }
}
