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

    pub fn text(&self, text: &str) {
        print!("{text}");
    }
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
