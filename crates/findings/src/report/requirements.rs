//! The report's compliance sections: each requirement of the framework assessed,
//! domain by domain, the documents it cites, and the accepted risks.

use chrono::{DateTime, Utc};
use sage_model::compliance::{AssessedRequirement, Assessment};

use super::{Block, Evidence, WORD_CHARS, Words, breakable};

/// A risk accepted by two people, as a report shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AcceptedRisk {
    pub tool: String,
    /// One finding, or a check across accounts, regions and resources, in words.
    pub scope: String,
    pub reason: String,
    pub requested_by: String,
    pub approved_by: String,
    pub approved_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The findings it holds accepted.
    pub findings: i64,
}

impl Evidence<'_> {
    /// Every requirement of the framework the request named, domain by domain (ISMS-P's
    /// three; CIS's sections), with its status and its checks' findings.
    pub(super) fn requirements(&self) -> Vec<Block> {
        let Some(assessment) = self.assessment else {
            return Vec::new();
        };
        let l = self.lang.labels();
        let counts = assessment
            .counts()
            .into_iter()
            .map(|(status, n)| format!("{} {n}", self.lang.requirement_status(status)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut blocks = vec![
            Block::PageBreak,
            Block::Heading(format!("{} {}", assessment.title, assessment.version)),
            Block::Text(format!(
                "{}: {} ({})",
                l.assessed,
                assessment.requirements.len(),
                counts
            )),
            Block::Text(format!("{}: {}", l.source, assessment.source)),
        ];
        let mut domains: Vec<&str> = Vec::new();
        for requirement in &assessment.requirements {
            let domain = group_of(requirement);
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        for domain in domains {
            let rows = assessment
                .requirements
                .iter()
                .filter(|r| group_of(r) == domain)
                .map(|r| {
                    let f = r.findings;
                    let documents: Vec<&str> =
                        r.documents.iter().map(|d| d.name.as_str()).collect();
                    vec![
                        r.id.clone(),
                        breakable(&r.title, 160),
                        reported_checks(r, l.not_run),
                        self.lang.requirement_status(r.status).to_owned(),
                        match (&r.not_applicable, r.checks) {
                            (Some(reason), _) => breakable(reason, 160),
                            (None, 0) if documents.is_empty() => "—".to_owned(),
                            (None, 0) => breakable(&documents.join(", "), 160),
                            (None, _) => format!("{} / {} / {}", f.failed, f.accepted, f.passed),
                        },
                    ]
                })
                .collect();
            blocks.push(Block::Heading(domain.to_owned()));
            blocks.push(Block::Table {
                widths: vec![2, 6, 7, 3, 3],
                header: vec![
                    "#".to_owned(),
                    l.requirement.to_owned(),
                    l.checks.to_owned(),
                    l.status.to_owned(),
                    l.requirement_findings.to_owned(),
                ],
                rows,
            });
        }
        blocks.extend(self.documents(assessment));
        blocks
    }

    /// Every document cited, with its digest: what an auditor checks the files against.
    fn documents(&self, assessment: &Assessment) -> Vec<Block> {
        let l = self.lang.labels();
        let rows: Vec<Vec<String>> = assessment
            .requirements
            .iter()
            .flat_map(|r| {
                r.documents.iter().map(|d| {
                    vec![
                        r.id.clone(),
                        format!("{} (v{})", breakable(&d.name, 120), d.version),
                        breakable(&d.description, 300),
                        format!(
                            "{} / {}",
                            d.uploaded_by,
                            d.uploaded_at.format("%Y-%m-%d %H:%M UTC")
                        ),
                        breakable(&d.sha256, WORD_CHARS),
                    ]
                })
            })
            .collect();
        if rows.is_empty() {
            return Vec::new();
        }
        vec![
            Block::Heading(l.documents.to_owned()),
            Block::Table {
                widths: vec![2, 4, 5, 4, 5],
                header: vec![
                    "#".to_owned(),
                    l.document.to_owned(),
                    l.description.to_owned(),
                    l.uploaded.to_owned(),
                    "sha256".to_owned(),
                ],
                rows,
            },
        ]
    }

    /// The risks accepted, each with who asked, who approved, why and until when.
    pub(super) fn accepted_risks(&self) -> Vec<Block> {
        if self.accepted_risks.is_empty() {
            return Vec::new();
        }
        let l = self.lang.labels();
        let day = |at: &DateTime<Utc>| at.format("%Y-%m-%d").to_string();
        let rows = self
            .accepted_risks
            .iter()
            .map(|risk| {
                vec![
                    format!("{}: {}", risk.tool, breakable(&risk.scope, 200)),
                    breakable(&risk.reason, 300),
                    format!("{} / {}", risk.requested_by, risk.approved_by),
                    format!("{} / {}", day(&risk.approved_at), day(&risk.expires_at)),
                    risk.findings.to_string(),
                ]
            })
            .collect();
        vec![
            Block::PageBreak,
            Block::Heading(l.accepted_risks.to_owned()),
            Block::Table {
                widths: vec![6, 6, 4, 3, 2],
                header: vec![
                    l.accepted_scope.to_owned(),
                    l.accepted_reason.to_owned(),
                    l.accepted_by.to_owned(),
                    l.accepted_until.to_owned(),
                    l.findings.to_owned(),
                ],
                rows,
            },
        ]
    }
}

/// The checks of a requirement that the report's runs reported, each with its failing,
/// accepted and passed findings, and how many more checks did not run.
fn reported_checks(requirement: &AssessedRequirement, not_run: &str) -> String {
    if requirement.check_ids.is_empty() {
        return "—".to_owned();
    }
    let mut parts: Vec<String> = requirement
        .reported
        .iter()
        .map(|(check, t)| format!("{check} {}/{}/{}", t.failed, t.accepted, t.passed))
        .collect();
    let unreported = requirement.check_ids.len() - requirement.reported.len();
    if unreported > 0 {
        parts.push(format!("+{unreported} {not_run}"));
    }
    breakable(&parts.join(", "), 600)
}

/// The heading a requirement sits under: ISMS-P's domain, else CIS's section.
fn group_of(requirement: &AssessedRequirement) -> &str {
    if requirement.domain.is_empty() {
        &requirement.section
    } else {
        &requirement.domain
    }
}
