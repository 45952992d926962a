//! Delivery of the webhook outboxes: audit events to SIEM_WEBHOOK_URL and approval
//! notices to APPROVAL_WEBHOOK_URL. Each row is sent in order, signed with an HMAC
//! header, and retried with backoff while the receiver is down. The relay is a single
//! step (`deliver_batch`) that tests drive; the loop only repeats it.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sage_infra::config::{Env, url_with_scheme};
use sage_store::Db;
use sage_store::outbox::{Delivery, Webhook};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::http::metrics::ApiMetrics;

pub const SIGNATURE_HEADER: &str = "X-Sage-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Sage-Timestamp";
pub const EVENT_ID_HEADER: &str = "X-Sage-Event-Id";
/// The audit action or the approval notice's kind, so receivers can route without
/// parsing the body.
pub const EVENT_HEADER: &str = "X-Sage-Event";

const BATCH: i64 = 50;
const POLL: Duration = Duration::from_secs(1);

/// The environment variables of one receiver.
#[derive(Debug, Clone, Copy)]
pub struct WebhookVars {
    pub url: &'static str,
    pub secret: &'static str,
    pub retry_max: &'static str,
}

pub const SIEM_VARS: WebhookVars = WebhookVars {
    url: "SIEM_WEBHOOK_URL",
    secret: "SIEM_WEBHOOK_SECRET",
    retry_max: "SIEM_RETRY_MAX_SEC",
};

pub const APPROVAL_VARS: WebhookVars = WebhookVars {
    url: "APPROVAL_WEBHOOK_URL",
    secret: "APPROVAL_WEBHOOK_SECRET",
    retry_max: "APPROVAL_RETRY_MAX_SEC",
};

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    pub secret: SecretString,
    pub retry_max: Duration,
}

impl WebhookSettings {
    /// The outer `None` means a refused value (recorded in `env`); the inner one that
    /// the URL is unset: nothing is then forwarded.
    pub fn from_env(env: &mut Env, vars: WebhookVars) -> Option<Option<Self>> {
        let url = env.raw(vars.url).map(str::to_owned);
        let retry_max = env.seconds(vars.retry_max, 300, 1, 86_400);
        let Some(url) = url else {
            return Some(None);
        };
        let url = match url_with_scheme(&url, &["http", "https"]) {
            Ok(url) => Some(url),
            Err(message) => {
                env.refuse(vars.url, message);
                None
            }
        };
        let secret = env.required_with(vars.secret, |v| {
            if v.len() >= 16 {
                Ok(SecretString::from(v.to_owned()))
            } else {
                Err(format!(
                    "must be at least 16 characters when {} is set",
                    vars.url
                ))
            }
        });
        Some(Some(Self {
            url: url?,
            secret: secret?,
            retry_max: retry_max?,
        }))
    }
}

/// `sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`: the timestamp is signed
/// too, so a receiver can refuse replays of old events.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("sha256={}", sage_model::hex(&digest))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was due.
    Idle,
    Delivered(usize),
    /// The receiver refused a row; it and those after it wait for the backoff.
    Deferred {
        delivered: usize,
    },
}

pub struct WebhookRelay {
    db: Db,
    http: reqwest::Client,
    webhook: Webhook,
    settings: Option<WebhookSettings>,
    metrics: Option<Arc<ApiMetrics>>,
}

impl WebhookRelay {
    pub fn new(db: Db, webhook: Webhook, settings: Option<WebhookSettings>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            db,
            http,
            webhook,
            settings,
            metrics: None,
        }
    }

    /// Counts each failed delivery in `metrics`.
    pub fn counting_failures(self, metrics: Arc<ApiMetrics>) -> Self {
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    /// Sends what is due, oldest first, stopping at the first refusal.
    pub async fn deliver_batch(&self) -> Result<Outcome, sage_store::StoreError> {
        let Some(settings) = &self.settings else {
            let discarded = self.db.discard_outbox(self.webhook).await?;
            return Ok(if discarded == 0 {
                Outcome::Idle
            } else {
                Outcome::Delivered(0)
            });
        };
        let claimed = self.db.claim_deliveries(self.webhook, BATCH).await?;
        if claimed.is_empty() {
            return Ok(Outcome::Idle);
        }
        for (i, delivery) in claimed.iter().enumerate() {
            match self.send(settings, delivery).await {
                Ok(()) => self.db.delivered(self.webhook, delivery.id).await?,
                Err(error) => {
                    if let Some(metrics) = &self.metrics {
                        metrics.webhook_failed(self.webhook);
                    }
                    let retry_in = backoff(delivery.attempts, settings.retry_max);
                    tracing::warn!(webhook = ?self.webhook, id = delivery.id,
                                   attempts = delivery.attempts, %error, ?retry_in,
                                   "webhook delivery failed");
                    let rest: Vec<i64> = claimed[i + 1..].iter().map(|d| d.id).collect();
                    self.db
                        .defer_deliveries(self.webhook, delivery.id, &error, &rest, retry_in)
                        .await?;
                    return Ok(Outcome::Deferred { delivered: i });
                }
            }
        }
        Ok(Outcome::Delivered(claimed.len()))
    }

    async fn send(&self, settings: &WebhookSettings, delivery: &Delivery) -> Result<(), String> {
        let body = serde_json::to_vec(&delivery.body).map_err(|e| e.to_string())?;
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .http
            .post(&settings.url)
            .header("Content-Type", "application/json")
            .header(EVENT_ID_HEADER, delivery.id.to_string())
            .header(EVENT_HEADER, &delivery.event)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(settings.secret.expose_secret(), timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| sage_infra::error_text(&e))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("receiver answered {}", response.status()))
        }
    }

    /// Repeats `deliver_batch` until shutdown; waits only when nothing was sent.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let pause = match self.deliver_batch().await {
                Ok(Outcome::Delivered(n)) if n > 0 => Duration::ZERO,
                Ok(_) => POLL,
                Err(error) => {
                    tracing::warn!(webhook = ?self.webhook, error = ?error,
                                   "webhook relay cannot read its outbox");
                    POLL
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// 1 s, 2 s, 4 s … up to `max`.
pub(crate) fn backoff(attempts: i32, max: Duration) -> Duration {
    let exponent = attempts.clamp(0, 20) as u32;
    Duration::from_secs(1u64 << exponent).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let max = Duration::from_secs(10);
        let waits: Vec<u64> = (0..6).map(|a| backoff(a, max).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let a = sign("0123456789abcdef", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, sign("0123456789abcdef", 2, b"{}"));
        assert_ne!(a, sign("0123456789abcdef", 1, b"{ }"));
        assert_ne!(a, sign("fedcba9876543210", 1, b"{}"));
    }
}
