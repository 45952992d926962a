//! Redis, which carries live log lines between the worker and any api replica.

use sage_model::logs::LogChunk;
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
    check_within(client, crate::CHECK_TIMEOUT).await
}

/// The same check, waiting up to `limit`.
pub async fn check_within(
    client: &redis::Client,
    limit: std::time::Duration,
) -> Result<(), String> {
    crate::probe_within(limit, async {
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

/// What travels on a log channel: chunks of lines as they are stored, then the end,
/// published once the execution's final status is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveLog {
    Chunk(LogChunk),
    End,
}

/// A message on a log channel that is none of [`LiveLog`].
#[derive(Debug, thiserror::Error)]
#[error("not a live log message: {0}")]
pub struct NotLiveLog(String);

impl LiveLog {
    /// `end`, or `chunk <first seq>` and the chunk's text from the next line on: the
    /// text travels as it is stored, so nothing is escaped twice.
    pub fn encode(&self) -> String {
        match self {
            Self::Chunk(chunk) => format!("chunk {}\n{}", chunk.first_seq(), chunk.text()),
            Self::End => "end".to_owned(),
        }
    }

    pub fn decode(message: &str) -> Result<Self, NotLiveLog> {
        if message == "end" {
            return Ok(Self::End);
        }
        let (head, text) = message
            .split_once('\n')
            .ok_or_else(|| NotLiveLog("no header line".to_owned()))?;
        let first_seq = head
            .strip_prefix("chunk ")
            .and_then(|seq| seq.parse().ok())
            .ok_or_else(|| NotLiveLog(format!("header {head:?}")))?;
        LogChunk::from_parts(first_seq, text)
            .map(Self::Chunk)
            .map_err(|error| NotLiveLog(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sage_model::logs::{ChunkBuilder, LogLine, Stream};

    #[test]
    fn live_messages_travel_whole_and_strangers_are_named() {
        let mut builder = ChunkBuilder::default();
        for seq in 7..=9 {
            builder.push(&LogLine {
                seq,
                stream: Stream::Stderr,
                ts: chrono::Utc::now(),
                line: format!("line {seq}\nchunk 1"),
            });
        }
        let chunk = LiveLog::Chunk(builder.take().unwrap());
        assert_eq!(LiveLog::decode(&chunk.encode()).unwrap(), chunk);
        assert_eq!(
            LiveLog::decode(&LiveLog::End.encode()).unwrap(),
            LiveLog::End
        );
        for stranger in ["", "chunk x\n{}\n", "line 1\n{}\n", "chunk 3\n{}"] {
            assert!(LiveLog::decode(stranger).is_err(), "{stranger:?}");
        }
    }
}
