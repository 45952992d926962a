//! What to tell a channel: a rule's event and the filters that event takes.

use uuid::Uuid;

use super::{Event, checked_name};
use crate::FieldError;
use crate::execution::ExecutionStatus;
use crate::findings::Severity;
use crate::tools::Tool;

/// The ends a scan can have.
pub const SCAN_ENDS: [&str; 3] = ["succeeded", "failed", "cancelled"];

/// A rule as an admin writes it.
#[derive(Debug, Clone, Default)]
pub struct RuleRequest {
    pub name: Option<String>,
    pub channel_id: Option<Uuid>,
    pub event: Option<String>,
    pub module_id: Option<Uuid>,
    pub tool: Option<String>,
    pub statuses: Vec<String>,
    pub min_severity: Option<String>,
    pub days_before: Option<i32>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub name: String,
    pub channel_id: Uuid,
    pub event: Event,
    pub module_id: Option<Uuid>,
    pub tool: Option<Tool>,
    pub statuses: Vec<String>,
    pub min_severity: Option<Severity>,
    pub days_before: Option<i32>,
    pub enabled: bool,
}

impl NewRule {
    /// findings.new's threshold as finding_states ranks severities (0 is critical).
    pub fn min_severity_rank(&self) -> Option<i16> {
        self.min_severity.map(severity_rank)
    }
}

pub fn severity_rank(severity: Severity) -> i16 {
    Severity::ALL
        .iter()
        .position(|s| *s == severity)
        .and_then(|rank| i16::try_from(rank).ok())
        .unwrap_or(i16::MAX)
}

impl RuleRequest {
    pub fn check(self) -> Result<NewRule, Vec<FieldError>> {
        let mut problems = Vec::new();
        let name = checked_name(self.name.as_deref(), &mut problems);
        if self.channel_id.is_none() {
            problems.push(FieldError::new("channel_id", "is required"));
        }
        let event = match self.event.as_deref().map(str::parse::<Event>) {
            Some(Ok(event)) => Some(event),
            Some(Err(why)) => {
                problems.push(FieldError::new("event", why));
                None
            }
            None => {
                problems.push(FieldError::new(
                    "event",
                    format!("is required: one of {}", Event::names()),
                ));
                None
            }
        };
        let Some(event) = event else {
            return Err(problems);
        };
        let only_for =
            |problems: &mut Vec<FieldError>, field: &str, given: bool, events: &[Event]| {
                if given && !events.contains(&event) {
                    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
                    problems.push(FieldError::new(
                        field,
                        format!("is for rules of {} only", names.join(", ")),
                    ));
                }
            };
        use Event::*;
        only_for(
            &mut problems,
            "module_id",
            self.module_id.is_some(),
            &[RunFinished, ApprovalRequested],
        );
        only_for(
            &mut problems,
            "tool",
            self.tool.is_some(),
            &[ScanFinished, NewFindings],
        );
        only_for(
            &mut problems,
            "statuses",
            !self.statuses.is_empty(),
            &[RunFinished, ScanFinished],
        );
        only_for(
            &mut problems,
            "min_severity",
            self.min_severity.is_some(),
            &[NewFindings],
        );
        only_for(
            &mut problems,
            "days_before",
            self.days_before.is_some(),
            &[AcceptanceExpiring],
        );
        let tool = self.tool.as_deref().and_then(|tool| {
            tool.parse::<Tool>()
                .map_err(|why| problems.push(FieldError::new("tool", why)))
                .ok()
        });
        for (i, status) in self.statuses.iter().enumerate() {
            let known = match event {
                RunFinished => status
                    .parse::<ExecutionStatus>()
                    .is_ok_and(ExecutionStatus::is_terminal),
                _ => SCAN_ENDS.contains(&status.as_str()),
            };
            if !known && event != RunFinished {
                problems.push(FieldError::new(
                    format!("statuses[{i}]"),
                    format!("must be one of {}", SCAN_ENDS.join(", ")),
                ));
            } else if !known {
                let ends: Vec<&str> = ExecutionStatus::ALL
                    .into_iter()
                    .filter(|s| s.is_terminal())
                    .map(ExecutionStatus::as_str)
                    .collect();
                problems.push(FieldError::new(
                    format!("statuses[{i}]"),
                    format!("must be one of {}", ends.join(", ")),
                ));
            }
        }
        let min_severity = match (event, self.min_severity.as_deref()) {
            (NewFindings, None) => Some(Severity::High),
            (_, Some(text)) => text
                .parse::<Severity>()
                .map_err(|why| problems.push(FieldError::new("min_severity", why)))
                .ok(),
            (_, None) => None,
        };
        let days_before = match (event, self.days_before) {
            (AcceptanceExpiring, None) => Some(7),
            (_, Some(days)) if !(1..=90).contains(&days) => {
                problems.push(FieldError::new("days_before", "must be 1 to 90"));
                None
            }
            (_, days) => days,
        };
        let mut statuses = self.statuses;
        statuses.sort();
        statuses.dedup();
        match (name, self.channel_id, problems.is_empty()) {
            (Some(name), Some(channel_id), true) => Ok(NewRule {
                name,
                channel_id,
                event,
                module_id: self.module_id,
                tool,
                statuses,
                min_severity,
                days_before,
                enabled: self.enabled.unwrap_or(true),
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(problems: &[FieldError]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn a_rule_takes_only_the_filters_of_its_event() {
        let refused = RuleRequest {
            name: Some("r".into()),
            channel_id: Some(Uuid::nil()),
            event: Some("scan.finished".into()),
            module_id: Some(Uuid::nil()),
            statuses: vec!["timed_out".into()],
            days_before: Some(3),
            ..RuleRequest::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            fields(&refused),
            ["module_id", "days_before", "statuses[0]"]
        );
        let rule = RuleRequest {
            name: Some("criticals".into()),
            channel_id: Some(Uuid::nil()),
            event: Some("findings.new".into()),
            min_severity: Some("critical".into()),
            ..RuleRequest::default()
        }
        .check()
        .unwrap();
        assert_eq!(rule.min_severity_rank(), Some(0));
        let rule = RuleRequest {
            name: Some("ends".into()),
            channel_id: Some(Uuid::nil()),
            event: Some("run.finished".into()),
            statuses: vec!["failed".into(), "timed_out".into(), "failed".into()],
            ..RuleRequest::default()
        }
        .check()
        .unwrap();
        assert_eq!(rule.statuses, ["failed", "timed_out"]);
        let refused = RuleRequest {
            name: Some("ends".into()),
            channel_id: Some(Uuid::nil()),
            event: Some("run.finished".into()),
            statuses: vec!["running".into()],
            ..RuleRequest::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(fields(&refused), ["statuses[0]"]);
    }
}
