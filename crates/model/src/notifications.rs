//! Notifications: where a message may go (a channel), what to tell it (a rule), both
//! checked once here, and the words of a message, drawn from what the store matched.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::FieldError;
use crate::execution::ExecutionStatus;
use crate::findings::Severity;
use crate::tools::Tool;

const MAX_NAME: usize = 100;
const MAX_RECIPIENTS: usize = 20;
const MAX_CERTIFICATE: usize = 64 * 1024;
/// How many new findings a message lists; the rest are counted.
pub const LISTED_FINDINGS: usize = 50;

/// What a rule tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A run of a module ended (its status among the rule's, if it names any).
    RunFinished,
    /// A scan ended.
    ScanFinished,
    /// A tool run's findings include some first seen (or failing again after a fix) of
    /// at least the rule's severity.
    NewFindings,
    /// An accepted risk's acceptance ends within the rule's days.
    AcceptanceExpiring,
    /// A run waits for an approver.
    ApprovalRequested,
}

impl Event {
    pub const ALL: [Self; 5] = [
        Self::RunFinished,
        Self::ScanFinished,
        Self::NewFindings,
        Self::AcceptanceExpiring,
        Self::ApprovalRequested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunFinished => "run.finished",
            Self::ScanFinished => "scan.finished",
            Self::NewFindings => "findings.new",
            Self::AcceptanceExpiring => "acceptance.expiring",
            Self::ApprovalRequested => "approval.requested",
        }
    }
}

impl FromStr for Event {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|event| event.as_str() == text)
            .ok_or_else(|| format!("must be one of {}", Self::names()))
    }
}

impl Event {
    fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ends a scan can have.
pub const SCAN_ENDS: [&str; 3] = ["succeeded", "failed", "cancelled"];

/// The kinds of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// JSON signed with HMAC-SHA256, as the SIEM's events are.
    Webhook,
    /// A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat).
    Slack,
    /// Mail over SMTP with TLS (STARTTLS or implicit), never in the clear.
    Email,
}

impl ChannelKind {
    pub const ALL: [Self; 3] = [Self::Webhook, Self::Slack, Self::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Email => "email",
        }
    }
}

impl FromStr for ChannelKind {
    type Err = &'static str;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or("must be one of webhook, slack, email")
    }
}

/// How a mail server is spoken to: never without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartTls => "starttls",
            Self::Implicit => "tls",
        }
    }
}

impl FromStr for SmtpTls {
    type Err = &'static str;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Implicit),
            _ => Err("must be starttls or tls: mail is never sent in the clear"),
        }
    }
}

/// A mail server and the message's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// A secret: sealed at rest, never answered.
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// PEM certificates to trust besides the system's (a private mail relay's CA).
    pub ca_certificate: Option<String>,
}

/// Where a channel's messages go, with its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Webhook {
        url: String,
        secret: String,
    },
    /// The URL is itself the secret: whoever holds it may post to the channel.
    Slack {
        url: String,
    },
    Email(Smtp),
}

impl Target {
    pub fn kind(&self) -> ChannelKind {
        match self {
            Self::Webhook { .. } => ChannelKind::Webhook,
            Self::Slack { .. } => ChannelKind::Slack,
            Self::Email(_) => ChannelKind::Email,
        }
    }

    /// What may be shown and stored in the clear.
    pub fn shown(&self) -> Value {
        match self {
            Self::Webhook { url, .. } => json!({"url": url}),
            Self::Slack { url } => json!({"host": host_of(url)}),
            Self::Email(smtp) => json!({
                "host": smtp.host, "port": smtp.port, "tls": smtp.tls.as_str(),
                "username": smtp.username, "from": smtp.from, "to": smtp.to,
                "ca_certificate": smtp.ca_certificate,
            }),
        }
    }

    /// What is sealed: the signing secret, the Slack URL, the SMTP password.
    pub fn secret(&self) -> Option<&str> {
        match self {
            Self::Webhook { secret, .. } => Some(secret),
            Self::Slack { url } => Some(url),
            Self::Email(smtp) => smtp.password.as_deref(),
        }
    }

    /// Puts a stored channel back together from its shown part and its opened secret.
    /// What was stored passed `ChannelRequest::check`; a row that does not read is
    /// named by the error.
    pub fn stored(
        kind: ChannelKind,
        shown: &Value,
        secret: Option<String>,
    ) -> Result<Self, &'static str> {
        let text = |key: &str| shown.get(key).and_then(Value::as_str).map(str::to_owned);
        match kind {
            ChannelKind::Webhook => Ok(Self::Webhook {
                url: text("url").ok_or("a webhook channel without its url")?,
                secret: secret.ok_or("a webhook channel without its secret")?,
            }),
            ChannelKind::Slack => Ok(Self::Slack {
                url: secret.ok_or("a slack channel without its url")?,
            }),
            ChannelKind::Email => Ok(Self::Email(Smtp {
                host: text("host").ok_or("an email channel without its host")?,
                port: shown
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or("an email channel without its port")?,
                tls: text("tls")
                    .as_deref()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| "an email channel without its tls")?,
                username: text("username"),
                password: secret,
                from: text("from").ok_or("an email channel without its sender")?,
                to: shown
                    .get("to")
                    .and_then(Value::as_array)
                    .map(|to| {
                        to.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                ca_certificate: text("ca_certificate"),
            })),
        }
    }
}

/// A channel as an admin writes it: `kind` says which of the other fields it takes.
#[derive(Debug, Clone, Default)]
pub struct ChannelRequest {
    pub name: Option<String>,
    pub kind: Option<String>,
    /// webhook, slack
    pub url: Option<String>,
    /// webhook: the HMAC key, at least 16 characters.
    pub secret: Option<String>,
    /// email
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub ca_certificate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    pub name: String,
    pub target: Target,
}

/// Which hosts a channel may name: plain `http://` only for those listed (a receiver
/// on this host, in tests and demos); https anywhere else but never an address that
/// is not meant to be reached from outside (a cloud's metadata service above all).
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    pub http_hosts: Vec<String>,
}

impl ChannelRequest {
    pub fn check(self, destinations: &Destinations) -> Result<NewChannel, Vec<FieldError>> {
        let mut problems = Vec::new();
        let name = checked_name(self.name.as_deref(), &mut problems);
        let kind = match self.kind.as_deref().map(str::parse::<ChannelKind>) {
            Some(Ok(kind)) => Some(kind),
            Some(Err(why)) => {
                problems.push(FieldError::new("kind", why));
                None
            }
            None => {
                problems.push(FieldError::new(
                    "kind",
                    "is required: webhook, slack or email",
                ));
                None
            }
        };
        let Some(kind) = kind else {
            return Err(problems);
        };
        let refuse_unless = |problems: &mut Vec<FieldError>, field: &str, given: bool, of: &str| {
            if given {
                problems.push(FieldError::new(field, format!("is for {of} channels only")));
            }
        };
        let is_email = kind == ChannelKind::Email;
        let email_fields = [
            ("smtp_host", self.smtp_host.is_some()),
            ("smtp_port", self.smtp_port.is_some()),
            ("smtp_tls", self.smtp_tls.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("from", self.from.is_some()),
            ("to", !self.to.is_empty()),
            ("ca_certificate", self.ca_certificate.is_some()),
        ];
        if !is_email {
            for (field, given) in email_fields {
                refuse_unless(&mut problems, field, given, "email");
            }
        }
        if kind != ChannelKind::Webhook {
            refuse_unless(&mut problems, "secret", self.secret.is_some(), "webhook");
        }
        if is_email {
            refuse_unless(
                &mut problems,
                "url",
                self.url.is_some(),
                "webhook and slack",
            );
        }
        let url = (!is_email).then(|| match self.url.as_deref() {
            Some(url) => destinations
                .check_url(url)
                .map_err(|why| problems.push(FieldError::new("url", why)))
                .ok(),
            None => {
                problems.push(FieldError::new("url", "is required"));
                None
            }
        });
        let target = match kind {
            ChannelKind::Webhook => {
                let secret = match self.secret {
                    Some(secret) if secret.chars().count() >= 16 => Some(secret),
                    _ => {
                        problems.push(FieldError::new(
                            "secret",
                            "is required: at least 16 characters, the HMAC key receivers verify",
                        ));
                        None
                    }
                };
                match (url.flatten(), secret) {
                    (Some(url), Some(secret)) => Some(Target::Webhook { url, secret }),
                    _ => None,
                }
            }
            ChannelKind::Slack => url.flatten().map(|url| Target::Slack { url }),
            ChannelKind::Email => smtp(self, destinations, &mut problems).map(Target::Email),
        };
        match (name, target, problems.is_empty()) {
            (Some(name), Some(target), true) => Ok(NewChannel { name, target }),
            _ => Err(problems),
        }
    }
}

fn smtp(
    request: ChannelRequest,
    destinations: &Destinations,
    problems: &mut Vec<FieldError>,
) -> Option<Smtp> {
    let host = match request.smtp_host.as_deref().map(str::trim) {
        Some(host) if !host.is_empty() => destinations
            .check_host(host)
            .map(|()| host.to_owned())
            .map_err(|why| problems.push(FieldError::new("smtp_host", why)))
            .ok(),
        _ => {
            problems.push(FieldError::new("smtp_host", "is required: the mail server"));
            None
        }
    };
    let tls = match request.smtp_tls.as_deref().unwrap_or("starttls").parse() {
        Ok(tls) => Some(tls),
        Err(why) => {
            problems.push(FieldError::new("smtp_tls", why));
            None
        }
    };
    let port = match request.smtp_port {
        Some(0) => {
            problems.push(FieldError::new("smtp_port", "must be 1 to 65535"));
            None
        }
        Some(port) => Some(port),
        None => tls.map(|tls| if tls == SmtpTls::Implicit { 465 } else { 587 }),
    };
    if request.password.is_some() && request.username.is_none() {
        problems.push(FieldError::new("username", "is required with a password"));
    }
    if let Some(username) = &request.username
        && (username.is_empty() || username.len() > 256 || username.chars().any(char::is_control))
    {
        problems.push(FieldError::new("username", "must be 1 to 256 characters"));
    }
    let from = match request.from.as_deref() {
        Some(from) if is_mail_address(from) => Some(from.to_owned()),
        Some(_) => {
            problems.push(FieldError::new("from", "must be a mail address"));
            None
        }
        None => {
            problems.push(FieldError::new("from", "is required: the sender's address"));
            None
        }
    };
    if request.to.is_empty() || request.to.len() > MAX_RECIPIENTS {
        problems.push(FieldError::new(
            "to",
            format!("must list 1 to {MAX_RECIPIENTS} recipients"),
        ));
    }
    for (i, address) in request.to.iter().enumerate() {
        if !is_mail_address(address) {
            problems.push(FieldError::new(
                format!("to[{i}]"),
                "must be a mail address",
            ));
        }
    }
    if let Some(pem) = &request.ca_certificate {
        let looks_right = pem.len() <= MAX_CERTIFICATE
            && pem.contains("-----BEGIN CERTIFICATE-----")
            && pem.contains("-----END CERTIFICATE-----");
        if !looks_right {
            problems.push(FieldError::new(
                "ca_certificate",
                "must be PEM certificates (-----BEGIN CERTIFICATE-----), at most 64 KiB",
            ));
        }
    }
    Some(Smtp {
        host: host?,
        port: port?,
        tls: tls?,
        username: request.username,
        password: request.password,
        from: from?,
        to: request.to,
        ca_certificate: request.ca_certificate,
    })
}

fn checked_name(name: Option<&str>, problems: &mut Vec<FieldError>) -> Option<String> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        problems.push(FieldError::new(
            "name",
            format!("is required: 1 to {MAX_NAME} characters"),
        ));
        return None;
    }
    Some(name.to_owned())
}

/// `local@domain`, without what would let an address become a header or a list.
fn is_mail_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    address.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && address
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>()[],;:\"\\".contains(c))
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit('@').next().unwrap_or_default().to_owned()
}

impl Destinations {
    /// An `https://` URL (or `http://` to a listed host) without credentials in it.
    pub fn check_url(&self, url: &str) -> Result<String, String> {
        let (scheme, rest) = url.split_once("://").ok_or("must be an https:// URL")?;
        if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be an https:// URL of at most 2048 characters".to_owned());
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(
                "must not hold credentials: a webhook's secret goes in `secret`".to_owned(),
            );
        }
        let host = host_without_port(authority);
        match scheme {
            "https" => {}
            "http" if self.http_hosts.iter().any(|allowed| allowed == host) => {}
            "http" => {
                return Err(format!(
                    "must be https: plain http only to the hosts NOTIFY_HTTP_HOSTS lists ({})",
                    if self.http_hosts.is_empty() {
                        "none".to_owned()
                    } else {
                        self.http_hosts.join(", ")
                    }
                ));
            }
            _ => return Err("must be an https:// URL".to_owned()),
        }
        self.check_host(host)?;
        Ok(url.to_owned())
    }

    /// A host name or address that may be reached (not link-local, not unspecified).
    pub fn check_host(&self, host: &str) -> Result<(), String> {
        let valid_name = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
        if !valid_name {
            return Err("must name a host".to_owned());
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<IpAddr>() {
            Ok(ip) if !reachable(ip) => Err(format!(
                "must not be {ip}: link-local, unspecified and multicast addresses (a \
                 cloud's metadata service among them) are never sent to"
            )),
            _ => Ok(()),
        }
    }
}

fn host_without_port(authority: &str) -> &str {
    if let Some(end) = authority.find(']') {
        return &authority[..=end];
    }
    authority.split(':').next().unwrap_or_default()
}

/// Whether a message may be sent to `ip`: never to a link-local address (where
/// clouds serve instance metadata and credentials), an unspecified or a multicast one.
/// The relay checks each address a name resolves to with it as well.
pub fn reachable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return reachable(IpAddr::V4(v4));
            }
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            !(link_local || v6.is_unspecified() || v6.is_multicast())
        }
    }
}

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

    fn destinations() -> Destinations {
        Destinations {
            http_hosts: vec!["127.0.0.1".to_owned()],
        }
    }

    fn fields(problems: &[FieldError]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn urls_must_be_https_or_a_listed_host_and_never_link_local() {
        let d = destinations();
        assert!(
            d.check_url("https://hooks.slack.com/services/T/B/x")
                .is_ok()
        );
        assert!(d.check_url("http://127.0.0.1:9000/hook").is_ok());
        for refused in [
            "http://example.com/hook",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://0.0.0.0/",
            "example.com",
            "https://exa mple.com/",
        ] {
            assert!(d.check_url(refused).is_err(), "{refused} passed");
        }
    }

    #[test]
    fn a_channel_names_each_field_that_does_not_hold() {
        let refused = ChannelRequest {
            name: Some(String::new()),
            kind: Some("webhook".into()),
            url: Some("http://example.com".into()),
            secret: Some("short".into()),
            to: vec!["a@b.c".into()],
            ..ChannelRequest::default()
        }
        .check(&destinations())
        .unwrap_err();
        assert_eq!(fields(&refused), ["name", "to", "url", "secret"]);
        let refused = ChannelRequest {
            name: Some("mail".into()),
            kind: Some("email".into()),
            smtp_host: Some("169.254.169.254".into()),
            smtp_tls: Some("none".into()),
            password: Some("pw".into()),
            from: Some("not an address".into()),
            to: vec!["ok@example.com".into(), "x@y".into()],
            url: Some("https://example.com".into()),
            ..ChannelRequest::default()
        }
        .check(&destinations())
        .unwrap_err();
        assert_eq!(
            fields(&refused),
            ["url", "smtp_host", "smtp_tls", "username", "from", "to[1]"]
        );
    }

    #[test]
    fn secrets_are_kept_apart_from_what_is_shown() {
        let channel = ChannelRequest {
            name: Some("chat".into()),
            kind: Some("slack".into()),
            url: Some("https://hooks.example.com/services/T0/B0/token".into()),
            ..ChannelRequest::default()
        }
        .check(&destinations())
        .unwrap();
        let shown = channel.target.shown();
        assert_eq!(shown, json!({"host": "hooks.example.com"}));
        let secret = channel.target.secret().map(str::to_owned);
        assert_eq!(
            Target::stored(ChannelKind::Slack, &shown, secret).unwrap(),
            channel.target
        );
        let mail = ChannelRequest {
            name: Some("mail".into()),
            kind: Some("email".into()),
            smtp_host: Some("mail.example.com".into()),
            username: Some("sage".into()),
            password: Some("hunter2".into()),
            from: Some("sage@example.com".into()),
            to: vec!["soc@example.com".into()],
            ..ChannelRequest::default()
        }
        .check(&destinations())
        .unwrap();
        let shown = mail.target.shown();
        assert!(!shown.to_string().contains("hunter2"));
        assert_eq!(shown["port"], 587);
        let back = Target::stored(ChannelKind::Email, &shown, Some("hunter2".into())).unwrap();
        assert_eq!(back, mail.target);
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
