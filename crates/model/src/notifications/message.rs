//! The words of a message, for people (Slack, mail), drawn from what the store matched.

use serde_json::{Value, json};

use super::Event;

/// The words of a message, for people (Slack, mail); webhooks get the payload itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub lines: Vec<String>,
    /// The console's path of what it is about (`/executions/…`), joined to PUBLIC_URL.
    pub path: Option<String>,
}

impl Message {
    /// A message in Slack's incoming-webhook form: `text` in its mrkdwn.
    pub fn slack(&self, base_url: &str) -> Value {
        let mut text = format!("*{}*", slack_escape(&self.subject));
        for line in &self.lines {
            text.push('\n');
            text.push_str(&slack_escape(line));
        }
        if let Some(path) = &self.path {
            text.push_str(&format!("\n<{base_url}{path}|Open in Sage Runner>"));
        }
        json!({"text": text})
    }

    /// A plain-text mail body.
    pub fn text(&self, base_url: &str) -> String {
        let mut body = self.lines.join("\n");
        if let Some(path) = &self.path {
            body.push_str(&format!("\n\n{base_url}{path}\n"));
        }
        body
    }
}

/// Slack reads `&`, `<` and `>` as markup: a tool's title must not become a link.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message a payload matched for `event` says (the store builds payloads; an
/// unknown event, a test message among them, says what its payload's `text` says).
pub fn message(event: &str, payload: &Value) -> Message {
    let text = |value: &Value| value.as_str().unwrap_or("?").to_owned();
    let count = |value: &Value| value.as_i64().unwrap_or_default();
    match event.parse::<Event>() {
        Ok(Event::RunFinished) => {
            let run = &payload["execution"];
            let mut lines = vec![
                format!(
                    "Module: {} v{}",
                    text(&run["module"]),
                    count(&run["module_version"])
                ),
                format!(
                    "Status: {} ({})",
                    text(&run["status"]),
                    text(&run["reason"])
                ),
                format!("Requested by: {}", text(&run["requested_by"])),
            ];
            if let Some(code) = run["exit_code"].as_i64() {
                lines.push(format!("Exit code: {code}"));
            }
            Message {
                subject: format!("Run of {} {}", text(&run["module"]), text(&run["status"])),
                lines,
                path: Some(format!("/executions/{}", text(&run["id"]))),
            }
        }
        Ok(Event::ApprovalRequested) => {
            let run = &payload["execution"];
            Message {
                subject: format!("Run of {} awaits approval", text(&run["module"])),
                lines: vec![
                    format!(
                        "Module: {} v{}",
                        text(&run["module"]),
                        count(&run["module_version"])
                    ),
                    format!("Requested by: {}", text(&run["requested_by"])),
                    format!("Approvals required: {}", count(&run["approvals_required"])),
                ],
                path: Some(format!("/executions/{}", text(&run["id"]))),
            }
        }
        Ok(Event::ScanFinished) => {
            let scan = &payload["scan"];
            let mut lines = vec![
                format!("Tool: {}", text(&scan["tool"])),
                format!(
                    "Accounts: {} of {} succeeded, {} failed",
                    count(&scan["succeeded"]),
                    count(&scan["total"]),
                    count(&scan["failed"])
                ),
            ];
            if let Some(failed) = scan["failed_accounts"].as_array() {
                lines.extend(failed.iter().map(|a| format!("Failed: {}", text(a))));
            }
            Message {
                subject: format!(
                    "Scan with {} {}",
                    text(&scan["tool"]),
                    text(&scan["status"])
                ),
                lines,
                path: Some(format!("/scans/{}", text(&scan["id"]))),
            }
        }
        Ok(Event::NewFindings) => {
            let total = count(&payload["total"]);
            let mut lines: Vec<String> = payload["findings"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    format!(
                        "[{}] {} {} — {} ({} {})",
                        text(&f["severity"]).to_uppercase(),
                        text(&f["check_id"]),
                        text(&f["title"]),
                        text(&f["resource_id"]),
                        text(&f["account"]),
                        text(&f["region"])
                    )
                })
                .collect();
            let listed = i64::try_from(lines.len()).unwrap_or(i64::MAX);
            if total > listed {
                lines.push(format!("… and {} more", total - listed));
            }
            Message {
                subject: format!(
                    "{total} new finding{} from {}",
                    if total == 1 { "" } else { "s" },
                    text(&payload["tool"])
                ),
                lines,
                path: Some(format!("/executions/{}", text(&payload["execution_id"]))),
            }
        }
        Ok(Event::AcceptanceExpiring) => {
            let acceptance = &payload["acceptance"];
            Message {
                subject: format!(
                    "A risk acceptance for {} ends {}",
                    text(&acceptance["tool"]),
                    text(&acceptance["expires_at"])
                ),
                lines: vec![
                    format!(
                        "What: {}",
                        acceptance["check_id"]
                            .as_str()
                            .or(acceptance["fingerprint"].as_str())
                            .unwrap_or("?")
                    ),
                    format!("Reason: {}", text(&acceptance["reason"])),
                    format!("Requested by: {}", text(&acceptance["requested_by"])),
                ],
                path: Some("/findings/acceptances".to_owned()),
            }
        }
        Err(_) => Message {
            subject: text(&payload["subject"]),
            lines: vec![text(&payload["text"])],
            path: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_findings_message_lists_them_and_counts_the_rest() {
        let payload = json!({
            "tool": "prowler", "execution_id": "r1", "total": 3,
            "findings": [
                {"severity": "critical", "check_id": "s3_public", "title": "<b>Public</b>",
                 "resource_id": "arn:aws:s3:::b", "account": "123456789012", "region": "us-east-1"},
                {"severity": "high", "check_id": "iam_root", "title": "Root keys",
                 "resource_id": "root", "account": "123456789012", "region": "global"}
            ]
        });
        let message = message("findings.new", &payload);
        assert_eq!(message.subject, "3 new findings from prowler");
        assert_eq!(message.lines.len(), 3);
        assert!(message.lines[0].starts_with("[CRITICAL] s3_public"));
        assert_eq!(message.lines[2], "… and 1 more");
        let slack = message.slack("https://sage.example.com");
        let text = slack["text"].as_str().unwrap();
        assert!(text.contains("&lt;b&gt;Public&lt;/b&gt;"));
        assert!(text.ends_with("<https://sage.example.com/executions/r1|Open in Sage Runner>"));
    }
}
