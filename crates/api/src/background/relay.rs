//! The job relay: publishes the job outbox to RabbitMQ with publisher confirms and
//! deletes each row once the broker confirmed it. It publishes as soon as a row commits
//! (PostgreSQL signals it) and polls for rows due again. A broker outage only delays
//! jobs; the rows wait in PostgreSQL. One step (`publish_batch`) that tests drive; the
//! loop repeats it.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use sage_infra::amqp::{Broker, TRACEPARENT_HEADER};
use sage_infra::telemetry;
use sage_store::Db;
use sage_store::executions::{JobSignals, OutboxJob};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

const BATCH: i64 = 100;
/// How long a claimed row stays hidden from other relays; a crash mid-publish means a
/// retry after this (the worker skips a job it already ran).
const LEASE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);
/// When jobs that could not be published are tried again.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the outbox cannot be read")]
    Store(#[from] sage_store::StoreError),
    #[error("RabbitMQ refused or is down")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not confirm a job")]
    NotConfirmed,
}

pub struct JobRelay {
    db: Db,
    broker: Arc<Broker>,
    channel: Mutex<Option<Channel>>,
    /// How many runs may wait in RabbitMQ for a worker (`QUEUE_AHEAD`).
    ahead: i64,
}

impl JobRelay {
    pub fn new(db: Db, broker: Arc<Broker>, ahead: i64) -> Self {
        Self {
            db,
            broker,
            channel: Mutex::new(None),
            ahead,
        }
    }

    /// Publishes what is due; returns how many jobs the broker confirmed. Jobs it could
    /// not publish are due again after `RETRY`.
    pub async fn publish_batch(&self) -> Result<usize, RelayError> {
        let jobs = self.db.claim_jobs(BATCH, LEASE, self.ahead).await?;
        if jobs.is_empty() {
            return Ok(0);
        }
        let mut published = 0;
        let outcome = self.publish(&jobs, &mut published).await;
        if outcome.is_err() {
            let left: Vec<i64> = jobs[published..].iter().map(|job| job.id).collect();
            self.db.release_jobs(&left, RETRY).await?;
        }
        outcome.map(|()| published)
    }

    async fn publish(&self, jobs: &[OutboxJob], published: &mut usize) -> Result<(), RelayError> {
        let mut guard = self.channel.lock().await;
        let channel = match guard.take().filter(|c| c.status().connected()) {
            Some(channel) => channel,
            None => {
                let channel = self.broker.channel().await?;
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await?;
                channel
            }
        };
        let queue = self.broker.topology().jobs;
        for job in jobs {
            // A step of the trace of the request that queued the job; the message
            // carries this step's context on to the worker.
            let span = tracing::info_span!("publish_job", outbox_id = job.id);
            telemetry::follow(&span, job.traceparent.as_deref());
            let confirm = async {
                let mut properties = BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/json".into());
                if let Some(traceparent) = telemetry::traceparent() {
                    let mut headers = FieldTable::default();
                    headers.insert(
                        TRACEPARENT_HEADER.into(),
                        AMQPValue::LongString(traceparent.into()),
                    );
                    properties = properties.with_headers(headers);
                }
                channel
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        &job.message.to_bytes(),
                        properties,
                    )
                    .await?
                    .await
            }
            .instrument(span)
            .await?;
            if !confirm.is_ack() {
                return Err(RelayError::NotConfirmed);
            }
            self.db.job_published(job.id).await?;
            *published += 1;
        }
        *guard = Some(channel);
        Ok(())
    }

    /// Publishes whenever the outbox signals a new row, and every [`POLL`] for rows due
    /// again after a failure (or signals missed while the listening connection was down).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut signals = None;
        loop {
            let pause = match self.publish_batch().await {
                Ok(n) if n > 0 => Duration::ZERO,
                Ok(_) => POLL,
                Err(error) => {
                    tracing::warn!(error = %sage_infra::error_text(&error), "job relay waits for RabbitMQ");
                    Duration::from_secs(1)
                }
            };
            if signals.is_none() {
                signals = match self.db.job_signals().await {
                    Ok(signals) => Some(signals),
                    Err(error) => {
                        tracing::warn!(?error, "job relay cannot listen for new jobs; it polls");
                        None
                    }
                };
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
                signal = next_signal(&mut signals) => if signal.is_none() {
                    signals = None;
                },
            }
        }
    }
}

/// The next new-job signal; pending forever while not listening.
async fn next_signal(signals: &mut Option<JobSignals>) -> Option<()> {
    match signals {
        Some(signals) => signals.next().await,
        None => std::future::pending().await,
    }
}
