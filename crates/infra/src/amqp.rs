//! RabbitMQ: one connection per process, re-opened on demand after the broker went
//! away, and the queue topology both sides declare identically.

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::config::{Env, url_with_scheme};

#[derive(Debug, Clone)]
pub struct AmqpSettings {
    pub url: SecretString,
    /// Prefix of every queue name, so several stacks (or test runs) share one broker.
    pub queue_prefix: String,
}

impl AmqpSettings {
    pub fn from_env(env: &mut Env) -> Option<Self> {
        let url = env.required_with("AMQP_URL", |v| {
            url_with_scheme(v, &["amqp", "amqps"]).map(SecretString::from)
        });
        let queue_prefix = env.optional_with("QUEUE_PREFIX", "sage".to_owned(), |v| {
            let ok = v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if ok {
                Ok(v.to_owned())
            } else {
                Err("must be at most 64 characters of a-z, 0-9, '-', '_', '.'".to_owned())
            }
        });
        Some(Self {
            url: url?,
            queue_prefix: queue_prefix?,
        })
    }

    pub fn topology(&self) -> Topology {
        Topology::new(&self.queue_prefix)
    }
}

/// Names of the queues: jobs, and the dead-letter queue that receives what cannot be
/// handled (malformed messages, or a message redelivered past the delivery limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub jobs: String,
    pub dead_letters: String,
}

/// Deliveries of one message before the broker dead-letters it instead of requeueing:
/// a message that crashes every worker must not circle forever.
pub const DELIVERY_LIMIT: i64 = 5;

/// The job message header that carries the trace context from the relay to the worker
/// (W3C Trace Context's name for it).
pub const TRACEPARENT_HEADER: &str = "traceparent";

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Self {
            jobs: format!("{prefix}.jobs"),
            dead_letters: format!("{prefix}.jobs.dead"),
        }
    }

    /// Declares both queues as durable quorum queues; idempotent.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let mut quorum = FieldTable::default();
        quorum.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        channel
            .queue_declare(self.dead_letters.as_str().into(), durable, quorum.clone())
            .await?;
        let mut jobs = quorum;
        jobs.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        jobs.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(self.dead_letters.as_str().into()),
        );
        jobs.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        );
        channel
            .queue_declare(self.jobs.as_str().into(), durable, jobs)
            .await?;
        Ok(())
    }
}

/// A RabbitMQ connection that is re-opened on the next use after the broker dropped it,
/// so an outage of the broker never needs a restart of the api or the worker.
pub struct Broker {
    settings: AmqpSettings,
    connection: Mutex<Option<Connection>>,
}

impl Broker {
    /// A broker handle that connects lazily: the api must start (and accept
    /// submissions) while RabbitMQ is down.
    pub fn new(settings: AmqpSettings) -> Self {
        Self {
            settings,
            connection: Mutex::new(None),
        }
    }

    pub fn topology(&self) -> Topology {
        self.settings.topology()
    }

    /// A fresh channel on a live connection, with the topology declared.
    #[tracing::instrument(skip_all)]
    pub async fn channel(&self) -> Result<Channel, lapin::Error> {
        let mut guard = self.connection.lock().await;
        if let Some(connection) = guard.as_ref().filter(|c| c.status().connected()) {
            return connection.create_channel().await;
        }
        let connection = Connection::connect(
            self.settings.url.expose_secret(),
            ConnectionProperties::default().with_connection_name("sage".into()),
        )
        .await?;
        let channel = connection.create_channel().await?;
        self.topology().declare(&channel).await?;
        tracing::info!("connected to RabbitMQ");
        *guard = Some(connection);
        Ok(channel)
    }

    /// Readiness: the broker answers and our queues exist.
    pub async fn check(&self) -> Result<(), String> {
        self.check_within(crate::CHECK_TIMEOUT).await
    }

    /// The same check, waiting up to `limit`.
    pub async fn check_within(&self, limit: std::time::Duration) -> Result<(), String> {
        crate::probe_within(limit, async {
            let channel = self.channel().await?;
            let _closed = channel.close(200, "probe".into()).await;
            Ok::<_, lapin::Error>(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_carry_the_prefix() {
        let topology = Topology::new("t1");
        assert_eq!(topology.jobs, "t1.jobs");
        assert_eq!(topology.dead_letters, "t1.jobs.dead");
    }

    #[test]
    fn prefix_is_validated() {
        let mut env = Env::from_pairs([("AMQP_URL", "amqp://h"), ("QUEUE_PREFIX", "a b")]);
        assert!(AmqpSettings::from_env(&mut env).is_none());
        let error = env.finish().unwrap_err();
        assert_eq!(error.problems[0].variable, "QUEUE_PREFIX");
    }
}
