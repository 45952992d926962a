//! Compliance frameworks as the scanner image holds them: the requirements of CIS and
//! KISA ISMS-P and the Prowler checks that assess each, read from Prowler's package when
//! the image is built (`runner-image/scanner/build.sh`). Nothing of them is kept in this
//! repository: a new Prowler brings its own.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The file the image holds: one tool's frameworks by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    /// The tool whose checks the requirements name, and its version.
    pub tool: String,
    pub version: String,
    pub frameworks: BTreeMap<FrameworkName, Framework>,
}

/// A framework's name as Prowler spells it (`cis_5.0_aws`, `kisa_isms_p_2023_aws`):
/// words of a-z and 0-9 joined by one '_' or '.', ending with the cloud.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FrameworkName(String);

impl FrameworkName {
    pub fn parse(name: &str) -> Result<Self, String> {
        let words_ok = name.split(['_', '.']).all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if name.len() <= 128 && words_ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "{name:?} is not a framework name (words of a-z and 0-9 joined by '_' or '.', as cis_5.0_aws)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The CIS benchmark's version and cloud (`cis_2.0.1_kubernetes`: [2, 0, 1] and
    /// kubernetes), for picking the newest of each cloud.
    fn cis_version(&self) -> Option<(Vec<u32>, &str)> {
        let rest = self.0.strip_prefix("cis_")?;
        let (version, cloud) = rest.split_once('_')?;
        let parts = version
            .split('.')
            .map(str::parse)
            .collect::<Result<Vec<u32>, _>>()
            .ok()?;
        Some((parts, cloud))
    }
}

impl TryFrom<String> for FrameworkName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Self::parse(&name)
    }
}

impl From<FrameworkName> for String {
    fn from(name: FrameworkName) -> Self {
        name.0
    }
}

impl fmt::Display for FrameworkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One framework: its requirements in the order the framework lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Framework {
    /// The framework's own name (`CIS`, `KISA-ISMS-P`).
    pub framework: String,
    pub title: String,
    pub version: String,
    /// The cloud its checks scan (`aws`, `azure`, `gcp`, `kubernetes`).
    pub provider: String,
    /// Where it was read: the tool's version and the file in its package.
    pub source: String,
    pub requirements: Vec<Requirement>,
}

/// A requirement and the checks that assess it; none for a manual one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// ISMS-P's domain (`1. Establishment and Operation of the Management System`).
    #[serde(default)]
    pub domain: String,
    /// CIS's section, ISMS-P's subdomain.
    #[serde(default)]
    pub section: String,
    /// Whether the framework says a tool can assess it.
    #[serde(default)]
    pub automated: bool,
    #[serde(default)]
    pub checks: Vec<String>,
}

impl Framework {
    /// Each requirement naming one of `checks`, with the indices of those that it names,
    /// in the framework's order.
    pub fn group<'a>(&'a self, checks: &[&str]) -> Vec<(&'a Requirement, Vec<usize>)> {
        self.requirements
            .iter()
            .filter_map(|requirement| {
                let members: Vec<usize> = checks
                    .iter()
                    .enumerate()
                    .filter(|(_, check)| requirement.checks.iter().any(|c| c == *check))
                    .map(|(index, _)| index)
                    .collect();
                (!members.is_empty()).then_some((requirement, members))
            })
            .collect()
    }
}

/// How one check fared over a report's runs: its findings that passed, those failing
/// whose risk is accepted, and those failing otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckTally {
    pub passed: u64,
    pub accepted: u64,
    pub failed: u64,
}

impl CheckTally {
    pub fn add(&mut self, other: Self) {
        self.passed += other.passed;
        self.accepted += other.accepted;
        self.failed += other.failed;
    }

    fn total(self) -> u64 {
        self.passed + self.accepted + self.failed
    }
}

/// Where a requirement stands over a report's runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementStatus {
    /// A finding of its checks fails, its risk not accepted.
    Fail,
    /// Every failing finding of its checks is accepted.
    Accepted,
    /// Its checks ran and every finding passed.
    Pass,
    /// No check assesses it: documents do.
    Manual,
    /// Checks assess it, but no run reported any of them.
    NotAssessed,
    /// An admin marked it not applicable, with a reason.
    NotApplicable,
}

impl RequirementStatus {
    pub const ALL: [Self; 6] = [
        Self::Fail,
        Self::Accepted,
        Self::Pass,
        Self::Manual,
        Self::NotAssessed,
        Self::NotApplicable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Accepted => "accepted",
            Self::Pass => "pass",
            Self::Manual => "manual",
            Self::NotAssessed => "not_assessed",
            Self::NotApplicable => "not_applicable",
        }
    }
}

/// One requirement as a report assessed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessedRequirement {
    pub id: String,
    pub title: String,
    pub domain: String,
    pub section: String,
    pub checks: usize,
    /// The checks that assess it, as the framework names them.
    pub check_ids: Vec<String>,
    /// Those of its checks the report's runs reported, each with how it fared.
    pub reported: Vec<(String, CheckTally)>,
    pub status: RequirementStatus,
    pub findings: CheckTally,
    /// The documents that evidence it (the latest version of each file).
    pub documents: Vec<EvidenceDocument>,
    /// Why an admin marked it not applicable.
    pub not_applicable: Option<String>,
}

/// An uploaded document that evidences a requirement, as a report cites it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceDocument {
    pub name: String,
    pub version: i32,
    pub description: String,
    pub sha256: String,
    pub size: i64,
    pub uploaded_by: String,
    pub uploaded_at: chrono::DateTime<chrono::Utc>,
}

/// What people added to a requirement: documents, or an exclusion's reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequirementEvidence {
    pub documents: Vec<EvidenceDocument>,
    pub not_applicable: Option<String>,
}

/// A framework's every requirement as a report assessed it, in the framework's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub name: FrameworkName,
    pub framework: String,
    pub title: String,
    pub version: String,
    pub source: String,
    pub requirements: Vec<AssessedRequirement>,
}

impl Assessment {
    /// Assesses each requirement of `framework` by the tallies of its checks: not
    /// applicable if an admin said so; fail if any failing finding is not accepted,
    /// accepted if all failing ones are, pass if its checks ran and passed, not assessed
    /// if none of them ran, manual without checks (its documents, from `evidence`, say
    /// the rest).
    pub fn of(
        name: &FrameworkName,
        framework: &Framework,
        tallies: &BTreeMap<String, CheckTally>,
        evidence: &BTreeMap<String, RequirementEvidence>,
    ) -> Self {
        let requirements = framework
            .requirements
            .iter()
            .map(|requirement| {
                let mut findings = CheckTally::default();
                let mut reported = Vec::new();
                for check in &requirement.checks {
                    if let Some(tally) = tallies.get(check) {
                        findings.add(*tally);
                        reported.push((check.clone(), *tally));
                    }
                }
                let added = evidence.get(&requirement.id).cloned().unwrap_or_default();
                let status = if added.not_applicable.is_some() {
                    RequirementStatus::NotApplicable
                } else if requirement.checks.is_empty() {
                    RequirementStatus::Manual
                } else if findings.total() == 0 {
                    RequirementStatus::NotAssessed
                } else if findings.failed > 0 {
                    RequirementStatus::Fail
                } else if findings.accepted > 0 {
                    RequirementStatus::Accepted
                } else {
                    RequirementStatus::Pass
                };
                AssessedRequirement {
                    id: requirement.id.clone(),
                    title: requirement.title.clone(),
                    domain: requirement.domain.clone(),
                    section: requirement.section.clone(),
                    checks: requirement.checks.len(),
                    check_ids: requirement.checks.clone(),
                    reported,
                    status,
                    findings,
                    documents: added.documents,
                    not_applicable: added.not_applicable,
                }
            })
            .collect();
        Self {
            name: name.clone(),
            framework: framework.framework.clone(),
            title: framework.title.clone(),
            version: framework.version.clone(),
            source: framework.source.clone(),
            requirements,
        }
    }

    /// How many requirements stand in each status.
    pub fn counts(&self) -> BTreeMap<RequirementStatus, usize> {
        let mut counts = BTreeMap::new();
        for requirement in &self.requirements {
            *counts.entry(requirement.status).or_insert(0) += 1;
        }
        counts
    }
}

/// The frameworks findings are grouped under when the caller names none: the newest CIS
/// benchmark of each cloud, and KISA ISMS-P 2023 in English.
pub fn default_frameworks<'a>(
    held: impl IntoIterator<Item = &'a FrameworkName>,
) -> Vec<FrameworkName> {
    let mut newest: BTreeMap<&str, (Vec<u32>, &FrameworkName)> = BTreeMap::new();
    let mut chosen = Vec::new();
    for name in held {
        if name.as_str() == ISMS_P {
            chosen.push(name.clone());
        } else if let Some((version, cloud)) = name.cis_version() {
            let entry = newest.entry(cloud).or_insert((version.clone(), name));
            if version > entry.0 {
                *entry = (version, name);
            }
        }
    }
    chosen.extend(newest.into_values().map(|(_, name)| name.clone()));
    chosen.sort();
    chosen
}

/// KISA ISMS-P 2023 for AWS, in English (Prowler also holds it in Korean).
pub const ISMS_P: &str = "kisa_isms_p_2023_aws";

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<FrameworkName> {
        list.iter()
            .map(|name| FrameworkName::parse(name).unwrap())
            .collect()
    }

    #[test]
    fn the_newest_cis_of_each_cloud_and_isms_p_are_the_default() {
        let held = names(&[
            "cis_1.8_kubernetes",
            "cis_1.10_kubernetes",
            "cis_2.0.1_kubernetes",
            "cis_5.0_aws",
            "cis_7.0_aws",
            "cisa_aws",
            "kisa_isms_p_2023_aws",
            "kisa_isms_p_2023_korean_aws",
        ]);
        assert_eq!(
            default_frameworks(&held),
            names(&[
                "cis_2.0.1_kubernetes",
                "cis_7.0_aws",
                "kisa_isms_p_2023_aws"
            ])
        );
    }

    #[test]
    fn framework_names_are_words_joined_by_one_separator() {
        for bad in [
            "",
            "CIS_5.0_aws",
            "cis..5",
            "_cis",
            "cis_5.0_aws/..",
            "cis 5",
        ] {
            assert!(FrameworkName::parse(bad).is_err(), "{bad}");
        }
        assert!(FrameworkName::parse("cis_2.0.1_kubernetes").is_ok());
    }

    fn requirement(id: &str, checks: &[&str]) -> Requirement {
        Requirement {
            id: id.to_owned(),
            checks: checks.iter().map(|c| (*c).to_owned()).collect(),
            ..Requirement::default()
        }
    }

    #[test]
    fn requirements_are_assessed_by_their_checks_findings() {
        let framework = Framework {
            requirements: vec![
                requirement("manual", &[]),
                requirement("unrun", &["never_ran"]),
                requirement("passes", &["ok"]),
                requirement("accepted", &["ok", "known"]),
                requirement("fails", &["known", "bad"]),
            ],
            ..Framework::default()
        };
        let tally = |passed, accepted, failed| CheckTally {
            passed,
            accepted,
            failed,
        };
        let tallies = BTreeMap::from([
            ("ok".to_owned(), tally(3, 0, 0)),
            ("known".to_owned(), tally(1, 2, 0)),
            ("bad".to_owned(), tally(0, 0, 1)),
        ]);
        let name = FrameworkName::parse("kisa_isms_p_2023_aws").unwrap();
        let excluded = BTreeMap::from([(
            "unrun".to_owned(),
            RequirementEvidence {
                not_applicable: Some("no such service here".to_owned()),
                ..RequirementEvidence::default()
            },
        )]);
        let assessed = Assessment::of(&name, &framework, &tallies, &excluded);
        let statuses: Vec<(&str, RequirementStatus)> = assessed
            .requirements
            .iter()
            .map(|r| (r.id.as_str(), r.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("manual", RequirementStatus::Manual),
                ("unrun", RequirementStatus::NotApplicable),
                ("passes", RequirementStatus::Pass),
                ("accepted", RequirementStatus::Accepted),
                ("fails", RequirementStatus::Fail),
            ]
        );
        assert_eq!(assessed.requirements[4].findings, tally(1, 2, 1));
        assert_eq!(assessed.counts().len(), 5);
    }

    #[test]
    fn a_requirement_gathers_the_findings_of_its_checks() {
        let framework = Framework {
            requirements: vec![
                requirement("1.1", &[]),
                requirement("2.1", &["s3_a", "s3_b"]),
                requirement("2.2", &["iam_c"]),
                requirement("2.3", &["s3_b"]),
            ],
            ..Framework::default()
        };
        let grouped: Vec<(&str, Vec<usize>)> = framework
            .group(&["s3_b", "ec2_x", "s3_a"])
            .into_iter()
            .map(|(requirement, members)| (requirement.id.as_str(), members))
            .collect();
        assert_eq!(grouped, [("2.1", vec![0, 2]), ("2.3", vec![0])]);
    }
}
