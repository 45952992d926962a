//! Where a message may go: a channel's kind, its target with its secret, what an admin
//! writes, and the destinations a deployment lets channels reach.

use std::str::FromStr;

use serde_json::{Value, json};

use super::checked_name;
use super::destinations::Destinations;
use crate::FieldError;

const MAX_RECIPIENTS: usize = 20;
const MAX_CERTIFICATE: usize = 64 * 1024;

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
}
