//! What `sage` prints on standard output: a table for people, or one JSON object per
//! line (the api's own fields) for scripts.

#![allow(clippy::print_stdout, reason = "a command line prints its answers")]

use serde::Serialize;

use crate::Format;
use crate::api;

pub struct Output {
    format: Format,
}

impl Output {
    pub fn new(format: Format) -> Self {
        Self { format }
    }

    fn lines<T: Serialize>(&self, items: &[T]) {
        for item in items {
            match serde_json::to_string(item) {
                Ok(line) => println!("{line}"),
                Err(error) => eprintln!("sage: {error}"),
            }
        }
    }

    fn table(&self, headers: &[&str], rows: Vec<Vec<String>>) {
        let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<String>| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            println!("{}", padded.join("  ").trim_end());
        };
        line(headers.iter().map(|h| (*h).to_owned()).collect());
        for row in rows {
            line(row);
        }
    }

    pub fn modules(&self, modules: &[api::ModuleSummaryView]) {
        if self.format == Format::Json {
            return self.lines(modules);
        }
        let rows = modules
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    m.latest_version.to_string(),
                    format!("{} days", m.retention.effective_days),
                    m.id.to_string(),
                ]
            })
            .collect();
        self.table(&["NAME", "LATEST", "KEPT", "ID"], rows);
    }

    pub fn module(&self, module: &api::ModuleVersionView) {
        if self.format == Format::Json {
            return self.lines(std::slice::from_ref(module));
        }
        println!("{} v{} ({})", module.name, module.version, module.id);
        if !module.description.is_empty() {
            println!("{}", module.description);
        }
        let required: Vec<&str> = module.params_schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let rows = module.params_schema["properties"]
            .as_object()
            .map(|properties| {
                properties
                    .iter()
                    .map(|(name, p)| {
                        vec![
                            name.clone(),
                            p["type"].as_str().unwrap_or("").to_owned(),
                            if required.contains(&name.as_str()) {
                                "yes"
                            } else {
                                ""
                            }
                            .to_owned(),
                            p["description"].as_str().unwrap_or("").to_owned(),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.table(&["PARAMETER", "TYPE", "REQUIRED", "DESCRIPTION"], rows);
    }

    pub fn runs(&self, runs: &[api::ExecutionView]) {
        if self.format == Format::Json {
            return self.lines(runs);
        }
        let rows = runs.iter().map(row).collect();
        self.table(&["ID", "STATUS", "REASON", "REQUESTED BY", "CREATED"], rows);
    }

    pub fn run(&self, run: &api::ExecutionView) {
        if self.format == Format::Json {
            return self.lines(std::slice::from_ref(run));
        }
        self.table(
            &["ID", "STATUS", "REASON", "REQUESTED BY", "CREATED"],
            vec![row(run)],
        );
    }

    pub fn artifacts(&self, artifacts: &[api::ArtifactView]) {
        if self.format == Format::Json {
            return self.lines(artifacts);
        }
        let rows = artifacts
            .iter()
            .map(|a| vec![a.name.clone(), a.size.to_string(), a.sha256.clone()])
            .collect();
        self.table(&["NAME", "SIZE", "SHA256"], rows);
    }

    pub fn me(&self, me: &api::MeView) {
        if self.format == Format::Json {
            return self.lines(std::slice::from_ref(me));
        }
        self.table(
            &["EMAIL", "ROLES", "GROUPS"],
            vec![vec![
                me.email.clone(),
                me.roles.join(","),
                me.groups.join(","),
            ]],
        );
    }

    pub fn tools(&self, tools: &[api::ToolView]) {
        if self.format == Format::Json {
            return self.lines(tools);
        }
        let rows = tools
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    if t.available { "yes" } else { "no" }.to_owned(),
                    t.tool_version.clone().unwrap_or_default(),
                    t.latest_execution_id
                        .map(|id| id.to_string())
                        .unwrap_or_default(),
                ]
            })
            .collect();
        self.table(&["TOOL", "AVAILABLE", "VERSION", "LATEST RUN"], rows);
    }

    /// Objects of a listing, the named fields as columns.
    pub fn values(&self, items: &[serde_json::Value], columns: &[&str]) {
        if self.format == Format::Json {
            return self.lines(items);
        }
        let headers: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
        let rows = items
            .iter()
            .map(|item| {
                columns
                    .iter()
                    .map(|c| match &item[*c] {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        self.table(&headers, rows);
    }

    pub fn chain(&self, report: &api::ChainReportView) {
        if self.format == Format::Json {
            return self.lines(std::slice::from_ref(report));
        }
        if report.ok {
            println!(
                "the audit trail verifies: {} events checked",
                report.checked
            );
        } else {
            println!(
                "the audit trail is broken at event {}: {}",
                report
                    .broken_at
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                report.reason.clone().unwrap_or_default()
            );
        }
    }

    pub fn latest(&self, latest: &api::LatestRun) {
        if self.format == Format::Json {
            return self.lines(std::slice::from_ref(latest));
        }
        println!(
            "{} {}: run {} ended {} at {}",
            latest.tool,
            latest
                .tool_version
                .as_deref()
                .unwrap_or("(version unknown)"),
            latest.execution.id,
            latest.execution.status,
            latest.finished_at.format("%Y-%m-%d %H:%M:%S")
        );
        let mut rows = Vec::new();
        for (status, severities) in &latest.counts {
            for (severity, n) in severities.as_object().into_iter().flatten() {
                rows.push(vec![status.clone(), severity.clone(), n.to_string()]);
            }
        }
        self.table(&["STATUS", "SEVERITY", "FINDINGS"], rows);
    }

    pub fn finding(&self, finding: &api::FindingDetail) {
        if self.format == Format::Json {
            return self.lines(std::slice::from_ref(finding));
        }
        let fields = [
            ("fingerprint", finding.fingerprint.clone()),
            ("title", finding.title.clone()),
            ("severity", finding.severity.clone()),
            ("state", finding.state.clone()),
            ("tool", finding.tool.clone()),
            ("check", finding.check.clone()),
            ("resource", finding.resource.clone()),
            ("account", finding.account.clone()),
            ("region", finding.region.clone()),
            ("first seen", finding.first_seen.to_rfc3339()),
            ("last seen", finding.last_seen.to_rfc3339()),
        ];
        for (name, value) in fields {
            println!("{name:<12} {value}");
        }
        if let Some(acceptance) = &finding.acceptance {
            println!(
                "{:<12} {}",
                "accepted",
                serde_json::to_string(acceptance).unwrap_or_default()
            );
        }
        println!();
        let rows = finding
            .history
            .iter()
            .map(|event| {
                vec![
                    event.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    event.from.clone().unwrap_or_default(),
                    event.to.clone(),
                    event.run.map(|r| r.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        self.table(&["AT", "FROM", "TO", "RUN"], rows);
    }

    pub fn diff(&self, diff: &api::DiffView) {
        if self.format == Format::Json {
            return self.lines(std::slice::from_ref(diff));
        }
        println!("{}: run {} to run {}", diff.tool, diff.from, diff.to);
        let changes = [
            ("new", &diff.new),
            ("reopened", &diff.reopened),
            ("fixed", &diff.fixed),
            ("still open", &diff.still_open),
            ("not covered", &diff.not_covered),
        ];
        let mut rows = Vec::new();
        for (change, view) in changes {
            println!("{change}: {}", view.total);
            for f in &view.findings {
                rows.push(vec![
                    change.to_owned(),
                    f.severity.clone(),
                    f.check.clone(),
                    f.resource.clone(),
                    f.region.clone(),
                ]);
            }
        }
        if !rows.is_empty() {
            println!();
            self.table(&["CHANGE", "SEVERITY", "CHECK", "RESOURCE", "REGION"], rows);
        }
    }

    pub fn reports(&self, reports: &[api::EvidenceView]) {
        if self.format == Format::Json {
            return self.lines(reports);
        }
        let rows = reports.iter().map(report_row).collect();
        self.table(
            &["ID", "STATUS", "LANG", "COVERS", "REQUESTED BY", "CREATED"],
            rows,
        );
    }

    pub fn report(&self, report: &api::EvidenceView) {
        if self.format == Format::Json {
            return self.lines(std::slice::from_ref(report));
        }
        self.table(
            &["ID", "STATUS", "LANG", "COVERS", "REQUESTED BY", "CREATED"],
            vec![report_row(report)],
        );
        if let Some(error) = &report.error {
            println!("error: {error}");
        }
    }

    pub fn text(&self, text: &str) {
        print!("{text}");
    }
}

fn report_row(report: &api::EvidenceView) -> Vec<String> {
    let covers = match (&report.tools, &report.compliance) {
        (Some(tools), Some(framework)) => format!("{} ({framework})", tools.join(",")),
        (Some(tools), None) => tools.join(","),
        (None, _) => format!("{} runs", report.execution_ids.len()),
    };
    vec![
        report.id.to_string(),
        report.status.clone(),
        report.lang.clone(),
        covers,
        report.created_by.clone(),
        report.created_at.clone(),
    ]
}

fn row(run: &api::ExecutionView) -> Vec<String> {
    vec![
        run.id.to_string(),
        run.status.to_string(),
        run.reason.clone().unwrap_or_default(),
        run.requested_by.clone(),
        run.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
    ]
}
