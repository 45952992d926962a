//! Redis, which carries live log lines between the worker and any api replica.

use secrecy::{ExposeSecret, SecretString};

use crate::config::{Env, url_with_scheme};

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: SecretString,
}

impl RedisSettings {
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let url = env.required_with("REDIS_URL", |v| {
            let url = url_with_scheme(v, &["redis", "rediss"])?;
            redis::Client::open(url.as_str()).map_err(|e| format!("is not a Redis URL: {e}"))?;
            Ok(SecretString::from(url))
        });
        Some(Self { url: url? })
    }

    pub fn client(&self) -> Result<redis::Client, redis::RedisError> {
        redis::Client::open(self.url.expose_secret())
    }
}

/// Readiness: a fresh connection answers PING, so a Redis that went away shows at once.
pub async fn check(client: &redis::Client) -> Result<(), String> {
    crate::probe(async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(|_| ())
    })
    .await
}

/// The pub/sub channel of one execution's live log.
pub fn log_channel(execution_id: sage_model::ExecutionId) -> String {
    format!("sage:logs:{execution_id}")
}

/// What travels on a log channel: lines as they are stored, then the end, published
/// once the execution's final status is stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveLog {
    Line(sage_model::logs::LogLine),
    End,
}
