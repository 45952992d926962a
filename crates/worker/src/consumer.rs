//! The job consumer: prefetch matched to WORKER_CONCURRENCY, a semaphore for the
//! executions running at once, ack only after the terminal status is stored,
//! reconnect after a broker outage, and a graceful stop that finishes what runs.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use sage_infra::amqp::{Broker, TRACEPARENT_HEADER};
use sage_model::JobMessage;
use tracing::Instrument;

use crate::evidence::Built;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::jobs::process;

/// Consumes until `shutdown`, then waits up to the grace period for running jobs.
pub async fn run(ctx: Arc<Context>, broker: &Broker, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(ctx.settings.concurrency));
    let mut running = JoinSet::new();
    while !shutdown.is_cancelled() {
        if let Err(error) = consume(&ctx, broker, &slots, &mut running, &shutdown).await {
            tracing::warn!(error = %sage_infra::error_text(&error), "job queue unavailable; reconnecting");
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
    let grace = ctx.settings.common.shutdown_grace;
    tracing::info!(
        running = running.len(),
        ?grace,
        "stopped taking jobs; finishing running ones"
    );
    if tokio::time::timeout(grace, async {
        while running.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!("grace period over; executions still running are left to the reaper");
    }
}

async fn consume(
    ctx: &Arc<Context>,
    broker: &Broker,
    slots: &Arc<Semaphore>,
    running: &mut JoinSet<()>,
    shutdown: &CancellationToken,
) -> Result<(), lapin::Error> {
    let channel = broker.channel().await?;
    let prefetch = u16::try_from(ctx.settings.concurrency).unwrap_or(u16::MAX);
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let queue = broker.topology().jobs;
    let mut deliveries = channel
        .basic_consume(
            queue.as_str().into(),
            ctx.settings.worker_id.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue, prefetch, "consuming jobs");
    loop {
        // Wait for a free slot before taking the next job, so prefetched jobs are not
        // started beyond the concurrency.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            permit = slots.clone().acquire_owned() => permit,
        };
        let Ok(permit) = permit else { return Ok(()) };
        let delivery = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            next = deliveries.next() => match next {
                None => return Ok(()),
                Some(delivery) => delivery?,
            },
        };
        let ctx = ctx.clone();
        running.spawn(async move {
            let busy = ctx.metrics.busy();
            // The job continues the trace of the request that queued it.
            let span = tracing::info_span!("job", delivery_tag = delivery.delivery_tag);
            sage_infra::telemetry::follow(&span, traceparent(&delivery).as_deref());
            handle(&ctx, delivery).instrument(span).await;
            drop((busy, permit));
        });
        while running.try_join_next().is_some() {}
    }
}

/// Acks after the terminal status is stored; dead-letters what can never be handled;
/// requeues on a transient failure (the database was unreachable).
async fn handle(ctx: &Context, delivery: Delivery) {
    let outcome = match JobMessage::from_bytes(&delivery.data) {
        Err(error) => {
            tracing::warn!(%error, "malformed job message; dead-lettering it");
            delivery
                .nack(BasicNackOptions {
                    requeue: false,
                    ..Default::default()
                })
                .await
        }
        Ok(message) => {
            let done = match message {
                JobMessage::RunV1 { execution_id } => Box::pin(process(ctx, execution_id)).await,
                JobMessage::AccountImportV1 { import_id } => {
                    Box::pin(crate::accounts::import(ctx, import_id)).await
                }
                JobMessage::EvidenceV1 { evidence_id } => {
                    match Box::pin(crate::evidence::build(ctx, evidence_id)).await {
                        Ok(Built::Done) => Ok(()),
                        Ok(Built::Busy) => {
                            // Another worker, or this one in a moment, takes it.
                            tokio::time::sleep(BUSY_RETRY).await;
                            return settle(
                                delivery
                                    .nack(BasicNackOptions {
                                        requeue: true,
                                        ..Default::default()
                                    })
                                    .await,
                            );
                        }
                        Err(error) => Err(error),
                    }
                }
            };
            match done {
                Ok(()) => delivery.ack(BasicAckOptions::default()).await,
                Err(error) => {
                    tracing::warn!(?error, ?message, "job failed transiently; requeueing");
                    delivery
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..Default::default()
                        })
                        .await
                }
            }
        }
    };
    settle(outcome);
}

/// The trace context the relay put on a job message, if spans are exported.
fn traceparent(delivery: &Delivery) -> Option<String> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get(TRACEPARENT_HEADER)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        _ => None,
    }
}

/// How long a report job waits before it goes back to a queue whose worker is busy.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

fn settle<T>(outcome: Result<T, lapin::Error>) {
    if let Err(error) = outcome {
        tracing::warn!(%error, "could not settle a job message; the broker will redeliver it");
    }
}
