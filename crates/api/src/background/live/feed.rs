//! One Redis pub/sub connection per api process carries the live lines of every log
//! stream it serves. The first stream of an execution subscribes its channel, the last
//! one to leave unsubscribes; each message (a chunk of lines) is read once and fanned out to the streams
//! through a broadcast channel. A stream that falls behind is told so and replays from
//! the database, as it does when the connection is lost (every channel closes; the next
//! stream to ask reconnects).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use sage_infra::redis::{LiveLog, log_channel};
use sage_model::ExecutionId;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

/// How long connecting or subscribing may take before the stream follows the database.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// After a failed connection, streams follow the database this long before the next try.
const RECONNECT_GAP: Duration = Duration::from_secs(1);
/// Messages a stream may fall behind by before it replays from the database instead.
const BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct LiveFeed {
    commands: mpsc::UnboundedSender<Command>,
}

enum Command {
    Follow {
        channel: String,
        reply: oneshot::Sender<Option<Joined>>,
    },
    Leave {
        channel: String,
        generation: u64,
    },
}

/// A follower's place in a channel. The generation tells a channel from the one of the
/// same name before a lost connection, so leaving an old one cannot touch the new one.
struct Joined {
    receiver: broadcast::Receiver<LiveLog>,
    generation: u64,
}

/// One stream's share of the feed; dropping it leaves the channel.
pub struct Following {
    channel: String,
    generation: u64,
    receiver: broadcast::Receiver<LiveLog>,
    commands: mpsc::UnboundedSender<Command>,
}

/// What a stream hears next.
pub enum Heard {
    Message(LiveLog),
    /// Messages were lost to this stream: the database has their lines.
    Missed,
    /// The feed is gone: follow the database.
    Lost,
}

impl LiveFeed {
    /// Starts the task that owns the connection; it ends when the last handle is dropped.
    pub fn start(redis: redis::Client) -> Self {
        let (commands, received) = mpsc::unbounded_channel();
        let hub = Hub {
            redis,
            link: None,
            channels: HashMap::new(),
            failed_at: None,
            generations: 0,
        };
        tokio::spawn(hub.run(received));
        Self { commands }
    }

    /// Subscribes to an execution's live lines; `None` when Redis cannot be reached now.
    /// Lines published after this returns are heard.
    pub async fn follow(&self, execution_id: ExecutionId) -> Option<Following> {
        let channel = log_channel(execution_id);
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Follow {
                channel: channel.clone(),
                reply,
            })
            .ok()?;
        let joined = answer.await.ok()??;
        Some(Following {
            channel,
            generation: joined.generation,
            receiver: joined.receiver,
            commands: self.commands.clone(),
        })
    }
}

impl Following {
    pub async fn next(&mut self) -> Heard {
        match self.receiver.recv().await {
            Ok(message) => Heard::Message(message),
            Err(RecvError::Lagged(_)) => Heard::Missed,
            Err(RecvError::Closed) => Heard::Lost,
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        // The hub is gone only when the process shuts down.
        let _ = self.commands.send(Command::Leave {
            channel: std::mem::take(&mut self.channel),
            generation: self.generation,
        });
    }
}

/// Owns the connection and the channel table; commands and messages are handled one at a
/// time, so a subscription and its last follower's leaving cannot cross.
struct Hub {
    redis: redis::Client,
    link: Option<Link>,
    channels: HashMap<String, Channel>,
    failed_at: Option<Instant>,
    /// Channels made so far: the next one's generation.
    generations: u64,
}

struct Link {
    sink: PubSubSink,
    messages: PubSubStream,
}

struct Channel {
    sender: broadcast::Sender<LiveLog>,
    followers: usize,
    generation: u64,
}

impl Hub {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Follow { channel, reply }) => {
                        let joined = self.follow(channel.clone()).await;
                        // The stream went away meanwhile: it will never leave, so its
                        // place is given back here.
                        if let Err(Some(unwanted)) = reply.send(joined) {
                            self.leave(channel, unwanted.generation).await;
                        }
                    }
                    Some(Command::Leave { channel, generation }) => {
                        self.leave(channel, generation).await;
                    }
                    None => return,
                },
                message = next_message(&mut self.link) => match message {
                    Some(message) => self.dispatch(&message),
                    None => self.lose("the live log connection closed"),
                },
            }
        }
    }

    async fn follow(&mut self, channel: String) -> Option<Joined> {
        if let Some(known) = self.channels.get_mut(&channel) {
            known.followers += 1;
            return Some(Joined {
                receiver: known.sender.subscribe(),
                generation: known.generation,
            });
        }
        let link = self.link().await?;
        match tokio::time::timeout(REDIS_TIMEOUT, link.sink.subscribe(&channel)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                self.lose(&format!("subscribing failed: {error}"));
                return None;
            }
            Err(_) => {
                self.lose("subscribing took too long");
                return None;
            }
        }
        let (sender, receiver) = broadcast::channel(BACKLOG);
        self.generations += 1;
        let generation = self.generations;
        self.channels.insert(
            channel,
            Channel {
                sender,
                followers: 1,
                generation,
            },
        );
        Some(Joined {
            receiver,
            generation,
        })
    }

    async fn leave(&mut self, channel: String, generation: u64) {
        let Some(known) = self
            .channels
            .get_mut(&channel)
            .filter(|known| known.generation == generation)
        else {
            // Its channel closed with a lost connection (and may have been made anew).
            return;
        };
        known.followers = known.followers.saturating_sub(1);
        if known.followers > 0 {
            return;
        }
        self.channels.remove(&channel);
        if let Some(link) = &mut self.link {
            match tokio::time::timeout(REDIS_TIMEOUT, link.sink.unsubscribe(&channel)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => self.lose(&format!("unsubscribing failed: {error}")),
                Err(_) => self.lose("unsubscribing took too long"),
            }
        }
    }

    /// The connection, made if there is none and the last failure is not too recent.
    async fn link(&mut self) -> Option<&mut Link> {
        if self.link.is_none() {
            if self
                .failed_at
                .is_some_and(|at| at.elapsed() < RECONNECT_GAP)
            {
                return None;
            }
            match tokio::time::timeout(REDIS_TIMEOUT, self.redis.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => {
                    let (sink, messages) = pubsub.split();
                    self.link = Some(Link { sink, messages });
                    self.failed_at = None;
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "no live log feed; streams follow the database");
                    self.failed_at = Some(Instant::now());
                }
                Err(_) => {
                    tracing::warn!("no live log feed in time; streams follow the database");
                    self.failed_at = Some(Instant::now());
                }
            }
        }
        self.link.as_mut()
    }

    fn dispatch(&self, message: &redis::Msg) {
        let Some(known) = self.channels.get(message.get_channel_name()) else {
            return;
        };
        let parsed = message
            .get_payload::<String>()
            .map_err(|e| e.to_string())
            .and_then(|payload| LiveLog::decode(&payload).map_err(|e| e.to_string()));
        match parsed {
            // No receiver left means every follower is leaving; nothing to tell.
            Ok(live) => drop(known.sender.send(live)),
            Err(error) => tracing::warn!(%error, "unreadable live log message"),
        }
    }

    /// Drops the connection and every channel: their streams follow the database.
    fn lose(&mut self, why: &str) {
        tracing::warn!(why, "live log feed lost; streams follow the database");
        self.link = None;
        self.channels.clear();
        self.failed_at = Some(Instant::now());
    }
}

/// The next message; pending forever without a connection.
async fn next_message(link: &mut Option<Link>) -> Option<redis::Msg> {
    match link {
        Some(link) => link.messages.next().await,
        None => std::future::pending().await,
    }
}
