//! Notifications: every replica matches the audit trail against the rules (the store
//! lets one at a time move the cursor), queues acceptances nearing their expiry, and
//! sends what is due to its channel: a signed webhook, a Slack-compatible webhook or
//! mail. A failed message is tried again with backoff, then given up and kept `failed`
//! with its error on the channel's record. Each name is resolved before a message is
//! sent and every address it gives is checked (`notifications::reachable`), and the
//! connection is made to those addresses only: a name that changes its answer cannot
//! send a message, or its secret, somewhere else.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sage_infra::config::{Env, url_with_scheme};
use sage_infra::secrets::SecretBox;
use sage_model::notifications::{Destinations, Message, SmtpTls, Target, message, reachable};
use sage_store::Db;
use sage_store::notifications::Outgoing;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::background::webhook::{
    EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, backoff, sign,
};

/// Audit events matched in one transaction.
const MATCH_BATCH: i64 = 500;
const SEND_BATCH: i64 = 20;
const POLL: Duration = Duration::from_secs(1);
/// Acceptances are measured in days: once a minute is often enough.
const EXPIRY_EVERY: Duration = Duration::from_secs(60);
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Hosts a channel may reach over plain http (a receiver on this machine).
    pub http_hosts: Vec<String>,
    /// Longest wait between two attempts of one message.
    pub retry_max: Duration,
    /// Attempts before a message is given up.
    pub max_attempts: i32,
    /// The console's address, for the links in messages.
    pub public_url: String,
}

impl NotifySettings {
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let http_hosts = env.list("NOTIFY_HTTP_HOSTS");
        let retry_max = env.seconds("NOTIFY_RETRY_MAX_SEC", 300, 1, 86_400);
        let max_attempts = env.number("NOTIFY_MAX_ATTEMPTS", 10i32, 1, 100);
        let public_url = env.optional_with("PUBLIC_URL", "http://127.0.0.1:8080".to_owned(), |v| {
            url_with_scheme(v, &["http", "https"]).map(|u| u.trim_end_matches('/').to_owned())
        });
        Some(Self {
            http_hosts,
            retry_max: retry_max?,
            max_attempts: max_attempts?,
            public_url: public_url?,
        })
    }

    pub fn destinations(&self) -> Destinations {
        Destinations {
            http_hosts: self.http_hosts.clone(),
        }
    }
}

/// The context a channel's secret is sealed with: moved to another channel, it does
/// not open.
pub fn seal_context(channel: Uuid) -> Vec<u8> {
    format!("notification-channel:{channel}").into_bytes()
}

pub struct Notifier {
    db: Db,
    secrets: SecretBox,
    settings: NotifySettings,
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    pub matched_events: u64,
    pub delivered: usize,
    pub failed: usize,
}

impl Notifier {
    pub fn new(db: Db, secrets: SecretBox, settings: NotifySettings) -> Self {
        Self {
            db,
            secrets,
            settings,
        }
    }

    /// Matches the trail to its end, then sends one batch of what is due.
    pub async fn step(&self) -> Result<Step, sage_store::StoreError> {
        let mut step = Step::default();
        loop {
            let read = self.db.match_notifications(MATCH_BATCH).await?;
            step.matched_events += read;
            if read < MATCH_BATCH as u64 {
                break;
            }
        }
        for outgoing in self.db.claim_notifications(SEND_BATCH).await? {
            match self.send(&outgoing).await {
                Ok(()) => {
                    self.db.notification_delivered(outgoing.id).await?;
                    step.delivered += 1;
                }
                Err(error) => {
                    let tried = outgoing.attempts + 1;
                    let retry_in = (tried < self.settings.max_attempts)
                        .then(|| backoff(outgoing.attempts, self.settings.retry_max));
                    tracing::warn!(id = outgoing.id, channel = %outgoing.channel_id,
                                   attempts = tried, %error, ?retry_in,
                                   "notification not delivered");
                    self.db
                        .notification_failed(outgoing.id, &error, retry_in)
                        .await?;
                    step.failed += 1;
                }
            }
        }
        Ok(step)
    }

    async fn send(&self, outgoing: &Outgoing) -> Result<(), String> {
        let secret = match &outgoing.sealed {
            Some(sealed) => Some(
                self.secrets
                    .open(sealed, &seal_context(outgoing.channel_id))
                    .ok()
                    .and_then(|plain| String::from_utf8(plain).ok())
                    .ok_or("the channel's secret does not open with this SECRETS_KEY")?,
            ),
            None => None,
        };
        let target = Target::stored(outgoing.kind, &outgoing.config, secret)?;
        let words = message(&outgoing.event, &outgoing.payload);
        match &target {
            Target::Webhook { url, secret } => {
                let body = serde_json::to_vec(&outgoing.payload).map_err(|e| e.to_string())?;
                let timestamp = chrono::Utc::now().timestamp();
                let request = pinned_client(url)
                    .await?
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header(EVENT_ID_HEADER, outgoing.id.to_string())
                    .header(EVENT_HEADER, &outgoing.event)
                    .header(TIMESTAMP_HEADER, timestamp.to_string())
                    .header(SIGNATURE_HEADER, sign(secret, timestamp, &body))
                    .body(body);
                answered(request.send().await)
            }
            Target::Slack { url } => {
                let request = pinned_client(url)
                    .await?
                    .post(url)
                    .json(&words.slack(&self.settings.public_url));
                answered(request.send().await)
            }
            Target::Email(smtp) => self.mail(smtp, &words).await,
        }
    }

    async fn mail(
        &self,
        smtp: &sage_model::notifications::Smtp,
        words: &Message,
    ) -> Result<(), String> {
        let mut builder = lettre::Message::builder()
            .from(smtp.from.parse().map_err(|e| format!("from: {e}"))?)
            .subject(format!("[Sage Runner] {}", words.subject))
            .header(ContentType::TEXT_PLAIN);
        for to in &smtp.to {
            builder = builder.to(to.parse().map_err(|e| format!("to: {e}"))?);
        }
        let mail = builder
            .body(words.text(&self.settings.public_url))
            .map_err(|e| e.to_string())?;
        let address = checked_addresses(&smtp.host, smtp.port)
            .await?
            .into_iter()
            .next()
            .ok_or("the mail server's name resolves to no address")?;
        let mut tls = TlsParameters::builder(smtp.host.clone());
        if let Some(pem) = &smtp.ca_certificate {
            let certificate = Certificate::from_pem(pem.as_bytes())
                .map_err(|e| format!("ca_certificate: {e}"))?;
            tls = tls.add_root_certificate(certificate);
        }
        let tls = tls.build_rustls().map_err(|e| e.to_string())?;
        // The connection goes to the address checked; the certificate is verified for
        // the name the admin gave.
        let mut transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
                .port(smtp.port)
                .timeout(Some(SEND_TIMEOUT))
                .tls(match smtp.tls {
                    SmtpTls::StartTls => Tls::Required(tls),
                    SmtpTls::Implicit => Tls::Wrapper(tls),
                });
        if let Some(username) = &smtp.username {
            transport = transport.credentials(Credentials::new(
                username.clone(),
                smtp.password.clone().unwrap_or_default(),
            ));
        }
        transport
            .build()
            .send(mail)
            .await
            .map(drop)
            .map_err(|e| format!("the mail server refused: {}", sage_infra::error_text(&e)))
    }

    /// Repeats `step` until shutdown, queuing expiring acceptances once a minute.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut expiries_due = Instant::now();
        loop {
            if Instant::now() >= expiries_due {
                if let Err(error) = self.db.queue_expiring_acceptances().await {
                    tracing::warn!(error = %sage_infra::error_text(&error),
                                   "expiring acceptances not looked at");
                }
                expiries_due = Instant::now() + EXPIRY_EVERY;
            }
            let pause = match self.step().await {
                Ok(step) if step.delivered + step.failed > 0 => Duration::ZERO,
                Ok(_) => POLL,
                Err(error) => {
                    tracing::warn!(error = %sage_infra::error_text(&error),
                                   "notifications cannot read their outbox");
                    POLL
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

fn answered(sent: Result<reqwest::Response, reqwest::Error>) -> Result<(), String> {
    let response = sent.map_err(|e| sage_infra::error_text(&e))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {}", response.status()))
    }
}

/// The addresses `host` resolves to, each one allowed.
async fn checked_addresses(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((literal, port))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    if let Some(refused) = addresses.iter().find(|a| !reachable(a.ip())) {
        return Err(format!(
            "{host} resolves to {}, an address messages are never sent to",
            refused.ip()
        ));
    }
    Ok(addresses)
}

/// A client that reaches `url`'s host only at the addresses checked now, and follows
/// no redirect (which could lead anywhere).
async fn pinned_client(url: &str) -> Result<reqwest::Client, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host_str().ok_or("the URL names no host")?.to_owned();
    let port = parsed
        .port_or_known_default()
        .ok_or("the URL names no port")?;
    let addresses = checked_addresses(&host, port).await?;
    reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addresses)
        .build()
        .map_err(|e| e.to_string())
}
