//! The connection pool and its settings.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::StoreError;
use crate::audit::AuditKey;

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub pool_size: usize,
    /// Links the audit chain (AUDIT_KEY); kept out of the database on purpose.
    pub audit_key: AuditKey,
}

impl DatabaseSettings {
    /// Connections per process unless `DATABASE_POOL_SIZE` says otherwise: two per
    /// core this process may use. More only queues PostgreSQL backends behind each
    /// other for the same cores: on 2 cores, under 16 clients, a pool of 16 answered
    /// one execution with a p99 of 250 ms, 8 with 7 to 35 ms and a page of 50 with 130
    /// to 320 ms, 4 with 5 to 7 ms and 10 ms, at 90% of 8's rate.
    pub fn default_pool_size() -> usize {
        2 * std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// `DATABASE_URL`, `DATABASE_POOL_SIZE` and `AUDIT_KEY`, as the api and the worker
    /// read them; `None` when one is missing or wrong (`env` names it).
    pub fn from_env(env: &mut sage_infra::config::Env) -> Option<Self> {
        let url = env.required_with("DATABASE_URL", Self::parse_url);
        let pool_size = env.number("DATABASE_POOL_SIZE", Self::default_pool_size(), 1, 512);
        let audit_key = env.required_with("AUDIT_KEY", AuditKey::parse);
        Some(Self {
            url: url?,
            pool_size: pool_size?,
            audit_key: audit_key?,
        })
    }

    /// Checks a connection string without echoing it (it holds a password).
    pub fn parse_url(value: &str) -> Result<SecretString, String> {
        tokio_postgres::Config::from_str(value)
            .map(|_| SecretString::from(value.to_owned()))
            .map_err(|_| {
                "is not a PostgreSQL connection URL (postgres://user:password@host:port/db)"
                    .to_owned()
            })
    }

    /// The same server with another database name: tests create one database each.
    pub fn with_database(&self, name: &str) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(self.url.expose_secret())?;
        config.dbname(name);
        Ok(Self {
            url: SecretString::from(config_to_url(&config)),
            pool_size: self.pool_size,
            audit_key: self.audit_key.clone(),
        })
    }
}

fn config_to_url(config: &tokio_postgres::Config) -> String {
    // Key-value form round-trips every field we set, including passwords with symbols.
    let mut parts = Vec::new();
    if let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first() {
        parts.push(format!("host='{}'", quote(host)));
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user='{}'", quote(user)));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!(
            "password='{}'",
            quote(&String::from_utf8_lossy(password))
        ));
    }
    if let Some(db) = config.get_dbname() {
        parts.push(format!("dbname='{}'", quote(db)));
    }
    parts.join(" ")
}

fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

/// A cheap-to-clone handle on the pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// For the dedicated connections that LISTEN, which a pool cannot lend.
    config: std::sync::Arc<tokio_postgres::Config>,
    pub(crate) audit_key: AuditKey,
}

impl Db {
    pub fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(settings.url.expose_secret())?;
        // Every statement here is short and planned per call: compiling one with JIT
        // costs more than running it (half a second of a findings diff's two).
        let options = match config.get_options() {
            Some(given) => format!("{given} -c jit=off"),
            None => "-c jit=off".to_owned(),
        };
        config.options(&options);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()?;
        Ok(Self {
            pool,
            config: std::sync::Arc::new(config),
            audit_key: settings.audit_key.clone(),
        })
    }

    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Opens a dedicated connection that LISTENs on `channel`; the payloads of its
    /// notifications come in order until the connection is gone.
    pub(crate) async fn listen(&self, channel: &str) -> Result<Listening, StoreError> {
        let (client, mut connection) = self.config().connect(NoTls).await?;
        let (sender, payloads) = mpsc::unbounded_channel();
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        tokio::spawn(async move {
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(note) = message
                    && sender.send(note.payload().to_owned()).is_err()
                {
                    return;
                }
            }
        });
        client.batch_execute(&format!("LISTEN {channel}")).await?;
        Ok(Listening {
            _client: client,
            payloads,
        })
    }

    /// Readiness: the server answers a trivial query.
    #[tracing::instrument(skip_all)]
    pub async fn check(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }
}

/// Notifications on one channel, from a connection of their own.
pub(crate) struct Listening {
    // Held so the connection stays open.
    _client: tokio_postgres::Client,
    pub(crate) payloads: mpsc::UnboundedReceiver<String>,
}
