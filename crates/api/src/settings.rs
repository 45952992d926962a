//! The api's settings, read once from the environment (see `.env.example`).

use std::net::SocketAddr;
use std::time::Duration;

use sage_model::catalog::module::Limits;
use sage_model::names::Email;

use sage_infra::config::{ConfigError, Env};
use sage_infra::settings::CommonSettings;
use sage_store::DatabaseSettings;

use crate::background::webhook::{APPROVAL_VARS, SIEM_VARS, WebhookSettings};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the HTTP server listens; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Where `/metrics` is served, apart from the API so that only the scraper's network
    /// reaches it; `None` (`off`) serves it nowhere.
    pub metrics_bind: Option<SocketAddr>,
    pub common: CommonSettings,
    pub database: DatabaseSettings,
    /// Made admins at start-up, so a fresh installation has someone to administer it.
    pub admin_emails: Vec<Email>,
    /// Provisioned as plain users at start-up (demo data of `just up`).
    pub seed_users: Vec<Email>,
    pub auth: AuthMode,
    /// The most any module may ask for.
    pub limit_ceiling: Limits,
    /// Where audit events are forwarded; `None` keeps them only in the database.
    pub siem: Option<WebhookSettings>,
    /// Where runs waiting for approval are announced (a chat bot, a mail relay).
    pub approval_webhook: Option<WebhookSettings>,
    /// Notification channels' destinations, retries and links.
    pub notify: crate::background::notifications::NotifySettings,
    /// How long runs keep their logs, artifacts and finding history, and how often
    /// the purge looks.
    pub retention: crate::background::retention::RetentionSettings,
    /// How scans run again an account whose run the cloud's API throttled.
    pub scan_retries: sage_store::scans::Retries,
    /// How long a run may wait for its approvals before it ends `rejected`.
    pub approval_ttl: Duration,
    /// How many runs one user, and one module, may have queued or running at once.
    pub in_flight: sage_store::executions::InFlightLimits,
    /// How many runs the relay keeps in RabbitMQ ahead of the workers; the rest wait in
    /// PostgreSQL, released across users in turn.
    pub queue_ahead: i64,
    /// The furthest a risk acceptance may expire, in days from its request.
    pub acceptance_max_days: u32,
    /// The closest two fires of one schedule may be, in seconds.
    pub schedule_min_seconds: u32,
    /// How long an artifact's presigned download URL is valid.
    pub artifact_url_ttl: Duration,
    /// The S3 address clients download from, when it is not the one the api uses (an
    /// in-cluster MinIO behind an ingress); presigned URLs are signed for it.
    pub s3_public_endpoint: Option<String>,
    /// How many log streams one user, and this process, may hold open.
    pub stream_limits: crate::background::live::StreamLimits,
    /// How often an idle log stream sends a keep-alive comment.
    pub stream_keepalive: Duration,
    /// The web console's built bundle.
    pub console_dir: std::path::PathBuf,
}

/// How callers prove who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// `X-Demo-User: <email>`, for local demos only.
    DemoHeader,
    /// `Authorization: Bearer <JWT>` from an OpenID Connect issuer.
    Oidc(Box<crate::identity::oidc::OidcSettings>),
}

impl Settings {
    /// Every variable is read, so each bad one is named, before any is missing.
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let settings = Self::read(&mut env);
        env.finish()?;
        // Every value is present once `finish` passed.
        settings.ok_or_else(ConfigError::unreachable)
    }

    fn read(env: &mut Env) -> Option<Self> {
        let bind = env.optional_with("API_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)), |v| {
            v.parse()
                .map_err(|_| format!("{v:?} is not a socket address such as 127.0.0.1:8080"))
        });
        let metrics_bind = env.optional_with(
            "API_METRICS_BIND",
            Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
            sage_infra::config::address_or_off,
        );
        let common = CommonSettings::from_env(env);
        let database = DatabaseSettings::from_env(env);
        let admin_emails = emails(env, "ADMIN_EMAILS");
        let seed_users = emails(env, "SEED_USERS");
        let auth = match env.required_with("AUTH_MODE", |v| match v {
            "demo_header" | "oidc" => Ok(v.to_owned()),
            _ => Err(format!("{v:?} is not one of oidc, demo_header")),
        }) {
            Some(mode) if mode == "oidc" => crate::identity::oidc::OidcSettings::from_env(env)
                .map(|oidc| AuthMode::Oidc(Box::new(oidc))),
            Some(_) => Some(AuthMode::DemoHeader),
            None => None,
        };
        let limit_ceiling = limit_ceiling(env);
        let siem = WebhookSettings::from_env(env, SIEM_VARS);
        let approval_webhook = WebhookSettings::from_env(env, APPROVAL_VARS);
        let notify = crate::background::notifications::NotifySettings::from_env(env);
        let retention = crate::background::retention::RetentionSettings::from_env(env);
        let retry_attempts = env.number("SCAN_RETRY_ATTEMPTS", 3i32, 1, 10);
        let retry_backoff = env.seconds("SCAN_RETRY_BACKOFF_SEC", 30, 1, 3600);
        let approval_ttl = env.seconds("APPROVAL_TTL_SEC", 24 * 3600, 1, 30 * 24 * 3600);
        let in_flight_per_user = env.number("RUNS_IN_FLIGHT_PER_USER", 100i64, 1, 1_000_000);
        let in_flight_per_module = env.number("RUNS_IN_FLIGHT_PER_MODULE", 500i64, 1, 1_000_000);
        let queue_ahead = env.number("QUEUE_AHEAD", 16i64, 1, 100_000);
        let acceptance_max_days = env.number("ACCEPTANCE_MAX_DAYS", 365u32, 1, 3650);
        let schedule_min_seconds = env.number("SCHEDULE_MIN_SECONDS", 60u32, 1, 86400);
        // SigV4 presigned URLs live at most 7 days.
        let artifact_url_ttl = env.seconds("ARTIFACT_URL_TTL_SEC", 300, 1, 7 * 24 * 3600);
        let s3_public_endpoint = env.optional_with("S3_PUBLIC_ENDPOINT", None, |v| {
            sage_infra::config::url_with_scheme(v, &["http", "https"]).map(Some)
        });
        let streams_per_user = env.number("LOG_STREAMS_PER_USER", 20usize, 1, 10_000);
        let streams_per_process = env.number("LOG_STREAMS_PER_PROCESS", 2000usize, 1, 1_000_000);
        let stream_keepalive = env.seconds("LOG_STREAM_KEEPALIVE_SEC", 15, 1, 300);
        let console_dir = env.optional_with(
            "CONSOLE_DIR",
            std::path::PathBuf::from(sage_console::DEFAULT_DIR),
            |v| Ok(std::path::PathBuf::from(v)),
        );
        Some(Self {
            bind: bind?,
            metrics_bind: metrics_bind?,
            common: common?,
            database: database?,
            admin_emails,
            seed_users,
            auth: auth?,
            limit_ceiling: limit_ceiling?,
            siem: siem?,
            approval_webhook: approval_webhook?,
            notify: notify?,
            retention: retention?,
            scan_retries: sage_store::scans::Retries {
                attempts: retry_attempts?,
                backoff: retry_backoff?,
            },
            approval_ttl: approval_ttl?,
            in_flight: sage_store::executions::InFlightLimits {
                per_user: in_flight_per_user?,
                per_module: in_flight_per_module?,
            },
            queue_ahead: queue_ahead?,
            acceptance_max_days: acceptance_max_days?,
            schedule_min_seconds: schedule_min_seconds?,
            artifact_url_ttl: artifact_url_ttl?,
            s3_public_endpoint: s3_public_endpoint?,
            stream_keepalive: stream_keepalive?,
            console_dir: console_dir?,
            stream_limits: crate::background::live::StreamLimits {
                per_user: streams_per_user?,
                per_process: streams_per_process?,
            },
        })
    }
}

/// Admin-set ceilings of module limits; defaults are `Limits::CEILING`.
fn limit_ceiling(env: &mut Env) -> Option<Limits> {
    let c = Limits::CEILING;
    let timeout_sec = env.number("LIMIT_MAX_TIMEOUT_SEC", c.timeout_sec, 1, 7 * 24 * 3600);
    let memory_mb = env.number("LIMIT_MAX_MEMORY_MB", c.memory_mb, 16, 1 << 20);
    let cpus = env.number("LIMIT_MAX_CPUS", c.cpus, 0.1, 256.0);
    let pids = env.number("LIMIT_MAX_PIDS", c.pids, 8, 1 << 20);
    let open_files = env.number("LIMIT_MAX_OPEN_FILES", c.open_files, 64, 1 << 20);
    let max_output_bytes = env.number("LIMIT_MAX_OUTPUT_BYTES", c.max_output_bytes, 1024, 1 << 40);
    Some(Limits {
        timeout_sec: timeout_sec?,
        memory_mb: memory_mb?,
        cpus: cpus?,
        pids: pids?,
        open_files: open_files?,
        max_output_bytes: max_output_bytes?,
    })
}

fn emails(env: &mut Env, name: &str) -> Vec<Email> {
    let mut emails = Vec::new();
    for raw in env.list(name) {
        match Email::parse(&raw) {
            // The deploy config ships one so that nobody is made admin by default.
            Ok(email) if email.is_placeholder() => env.refuse(
                name,
                format!("{raw:?} is a placeholder (.invalid): name real addresses"),
            ),
            Ok(email) => emails.push(email),
            Err(why) => env.refuse(name, format!("{raw:?} {why}")),
        }
    }
    emails
}

/// An address under `.invalid` (RFC 2606), which no mailbox or person can ever have.
#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DATABASE_URL", "postgres://sage:sage@127.0.0.1:5432/sage"),
            ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("S3_BUCKET", "sage-artifacts"),
            ("AUTH_MODE", "demo_header"),
            ("AUDIT_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
            (
                "SECRETS_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
        ]
    }

    #[test]
    fn defaults() {
        let settings = Settings::from_env(Env::from_pairs(base())).unwrap();
        assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            settings
                .metrics_bind
                .map(|bind| bind.to_string())
                .as_deref(),
            Some("127.0.0.1:9090")
        );
        let off = Settings::from_env(Env::from_pairs(
            base().into_iter().chain([("API_METRICS_BIND", "off")]),
        ))
        .unwrap();
        assert_eq!(off.metrics_bind, None);
        assert_eq!(
            settings.common.shutdown_grace,
            std::time::Duration::from_secs(30)
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let mut pairs = base();
        pairs.extend([
            ("API_BIND", "localhost"),
            ("API_METRICS_BIND", "8080"),
            ("ADMIN_EMAILS", "admin@example.com, nobody"),
            ("SEED_USERS", "REPLACE-WITH-your-admin@your-company.invalid"),
            ("SHUTDOWN_GRACE_SEC", "0"),
            ("SIEM_WEBHOOK_URL", "ftp://siem"),
            ("APPROVAL_WEBHOOK_URL", "https://chat.example.com/hook"),
            ("APPROVAL_WEBHOOK_SECRET", "short"),
        ]);
        let error = Settings::from_env(Env::from_pairs(pairs)).unwrap_err();
        let text = error.to_string();
        for name in [
            "API_BIND",
            "API_METRICS_BIND",
            "ADMIN_EMAILS",
            "SEED_USERS",
            "SHUTDOWN_GRACE_SEC",
            "SIEM_WEBHOOK_URL",
            "SIEM_WEBHOOK_SECRET",
            "APPROVAL_WEBHOOK_SECRET",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        assert!(
            !text.contains("APPROVAL_WEBHOOK_URL:"),
            "a valid URL is not refused: {text}"
        );
    }

    #[test]
    fn oidc_needs_its_issuer_audience_and_keys() {
        let mut pairs = base();
        pairs.retain(|(k, _)| *k != "AUTH_MODE");
        pairs.extend([("AUTH_MODE", "oidc"), ("OIDC_ALGORITHMS", "RS256,HS256")]);
        let text = Settings::from_env(Env::from_pairs(pairs))
            .unwrap_err()
            .to_string();
        // With real users, the roles runs may assume are named, never "any".
        for name in [
            "OIDC_ISSUER",
            "OIDC_AUDIENCE",
            "OIDC_JWKS_URL",
            "OIDC_ALGORITHMS",
            "ASSUME_ROLE_ALLOWED",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        assert!(
            text.contains("\"HS256\" is not an allowed algorithm"),
            "{text}"
        );
    }

    #[test]
    fn oidc_addresses_are_https_unless_plain_http_is_allowed() {
        let oidc = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base();
            pairs.retain(|(k, _)| *k != "AUTH_MODE");
            pairs.extend([
                ("AUTH_MODE", "oidc"),
                ("ASSUME_ROLE_ALLOWED", "arn:aws:iam::123456789012:role/Scan"),
                ("OIDC_ISSUER", "http://issuer.test"),
                ("OIDC_AUDIENCE", "sage"),
                ("OIDC_JWKS_URL", "http://issuer.test/jwks"),
            ]);
            pairs.extend_from_slice(extra);
            Settings::from_env(Env::from_pairs(pairs))
        };
        let text = oidc(&[]).unwrap_err().to_string();
        for name in ["OIDC_ISSUER", "OIDC_JWKS_URL"] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        let allowed = oidc(&[("OIDC_ALLOW_HTTP", "true")]).unwrap();
        assert!(matches!(allowed.auth, AuthMode::Oidc(s) if s.allow_http && !s.emails_verified));
    }

    #[test]
    fn the_consoles_extra_origins_are_bare_origins_of_an_allowed_scheme() {
        let oidc = |origins: &'static str| {
            let mut pairs = base();
            pairs.retain(|(k, _)| *k != "AUTH_MODE");
            pairs.extend([
                ("AUTH_MODE", "oidc"),
                ("ASSUME_ROLE_ALLOWED", "arn:aws:iam::123456789012:role/Scan"),
                (
                    "OIDC_ISSUER",
                    "https://cognito-idp.eu-west-1.amazonaws.com/pool",
                ),
                ("OIDC_AUDIENCE", "sage"),
                (
                    "OIDC_JWKS_URL",
                    "https://cognito-idp.eu-west-1.amazonaws.com/pool/jwks",
                ),
                ("OIDC_CONSOLE_ORIGINS", origins),
            ]);
            Settings::from_env(Env::from_pairs(pairs))
        };
        let settings = oidc("https://sage.auth.eu-west-1.amazoncognito.com/").unwrap();
        assert_eq!(
            crate::routes::sign_in::connect_origins(&settings.auth),
            [
                "https://cognito-idp.eu-west-1.amazonaws.com",
                "https://sage.auth.eu-west-1.amazoncognito.com"
            ]
        );
        for bad in [
            "http://plain.example.com",
            "https://auth.example.com/oauth2/token",
            "auth.example.com",
        ] {
            let text = oidc(bad).unwrap_err().to_string();
            assert!(text.contains("OIDC_CONSOLE_ORIGINS"), "{bad}: {text}");
        }
    }

    #[test]
    fn missing_required_values_are_all_reported() {
        let text = Settings::from_env(Env::default()).unwrap_err().to_string();
        for name in [
            "DATABASE_URL",
            "AMQP_URL",
            "REDIS_URL",
            "S3_BUCKET",
            "AUTH_MODE",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
    }
}
