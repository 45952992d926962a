//! The report's two tables of counts (findings by tool and by severity, each by
//! status): one function draws them for the report and for `verify`, which reads them
//! back out of a pack's PDF and compares them with what `findings.jsonl` counts.

use crate::finding::{Severity, Status};
use crate::summary::Summary;

use super::Block;
use super::labels::{Lang, Words as _};

/// How many findings have a given status, within one row of a table.
type Count<'a> = Box<dyn Fn(Status) -> u64 + 'a>;

/// Findings per tool (and the total), then per severity, each split by status.
pub fn count_tables(summary: &Summary, lang: Lang) -> [Block; 2] {
    let l = lang.labels();
    let counts = &summary.counts;
    let mut by_tool: Vec<(String, Count)> = counts
        .keys()
        .map(|tool| {
            (
                tool.to_string(),
                Box::new(move |s| summary.count(*tool, s)) as Count,
            )
        })
        .collect();
    by_tool.push((
        l.total.to_owned(),
        Box::new(|s| counts.keys().map(|t| summary.count(*t, s)).sum()),
    ));
    let by_severity = Severity::ALL
        .into_iter()
        .map(|severity| {
            let count: Count = Box::new(move |status| {
                counts
                    .values()
                    .filter_map(|by| by.get(&status)?.get(&severity))
                    .sum()
            });
            (lang.severity(severity).to_owned(), count)
        })
        .collect();
    [
        status_table(summary, lang, l.tool, by_tool, true),
        status_table(summary, lang, l.severity, by_severity, false),
    ]
}

/// Rows of a total and a count per status; empty rows are left out unless `all`.
fn status_table(
    summary: &Summary,
    lang: Lang,
    first: &str,
    rows: Vec<(String, Count)>,
    all: bool,
) -> Block {
    let statuses: Vec<Status> = Status::ALL
        .into_iter()
        .filter(|s| summary.counts.values().any(|by| by.contains_key(s)))
        .collect();
    let mut header = vec![first.to_owned(), lang.labels().total.to_owned()];
    header.extend(statuses.iter().map(|s| lang.status(*s).to_owned()));
    let rows = rows
        .into_iter()
        .filter_map(|(name, count)| {
            let counts: Vec<u64> = statuses.iter().map(|s| count(*s)).collect();
            let total: u64 = counts.iter().sum();
            let mut row = vec![name, total.to_string()];
            row.extend(counts.iter().map(u64::to_string));
            (all || total > 0).then_some(row)
        })
        .collect();
    Block::Table {
        widths: vec![3; statuses.len() + 2],
        header,
        rows,
    }
}
