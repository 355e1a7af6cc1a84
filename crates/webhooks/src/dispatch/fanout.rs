//! Fan-out: each event from the bus becomes one queued delivery per subscribed endpoint of the
//! apps it belongs to; the event is acknowledged once they are committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use wekeza_domain::DeliveryId;
use wekeza_events::{Delivery, Envelope};
use wekeza_rpc::worker::{Schedule, run_every};
use wekeza_store::deliveries::{self, DeliveryOrigin, NewDelivery};
use wekeza_store::{outbox, webhooks};

use super::Dispatcher;

/// The durable subscription every dispatcher process shares.
pub const CONSUMER: &str = "webhook-dispatcher";

/// Every event.
const FILTER: &str = "wekeza.events.>";

/// Events handled at once by one process: each waits mostly on database round trips.
const CONCURRENCY: usize = 32;

/// How long a failed event waits before the bus offers it again.
const REDELIVER_AFTER: Duration = Duration::from_secs(1);

/// Outbox events read per page when recovering.
const RECOVER_PAGE: u64 = 500;

/// Why an event could not be fanned out.
#[derive(Debug, thiserror::Error)]
enum FanOutError {
    /// The payload is no event: nothing will ever read it, so it is dropped (and logged).
    #[error("undecodable event payload: {0}")]
    Undecodable(#[from] prost::DecodeError),
    /// The database failed; the event is offered again.
    #[error(transparent)]
    Store(#[from] wekeza_store::Error),
}

/// Why the subscription ended; the loop subscribes again after a backoff.
#[derive(Debug, thiserror::Error)]
enum SubscriptionError {
    #[error(transparent)]
    Bus(#[from] wekeza_events::BusError),
    #[error("the bus closed the subscription")]
    Closed,
    #[error(transparent)]
    Recover(#[from] FanOutError),
}

impl Dispatcher {
    /// Subscribes and fans out until `stop`; a lost subscription is taken up again with
    /// backoff. On a bus that does not keep events, first goes through the recent outbox.
    pub(super) async fn fan_out(self, stop: CancellationToken) {
        let recovered = Arc::new(AtomicBool::new(
            self.inner.settings.recover_window.is_none(),
        ));
        let limit = Arc::new(Semaphore::new(CONCURRENCY));
        run_every(
            "webhook fan-out",
            stop.clone(),
            Schedule::every(Duration::from_secs(1)),
            || {
                let stop = stop.clone();
                let limit = limit.clone();
                let recovered = recovered.clone();
                let this = self.clone();
                // Subscribing first: what is published while recovering is not missed.
                async move {
                    let mut subscription = this.inner.bus.subscribe(CONSUMER, FILTER).await?;
                    if !recovered.load(Ordering::Acquire) {
                        this.recover().await?;
                        recovered.store(true, Ordering::Release);
                    }
                    loop {
                        let delivery = tokio::select! {
                            () = stop.cancelled() => return Ok::<(), SubscriptionError>(()),
                            next = subscription.next() => next.ok_or(SubscriptionError::Closed)?,
                        };
                        // Waits while CONCURRENCY events are being handled.
                        let Ok(permit) = limit.clone().acquire_owned().await else {
                            return Ok(());
                        };
                        let this = this.clone();
                        tokio::spawn(async move {
                            this.handle(delivery).await;
                            drop(permit);
                        });
                    }
                }
            },
        )
        .await;
    }

    /// Fans out one event from the bus and acknowledges it; a database failure leaves it to
    /// be offered again.
    async fn handle(&self, delivery: Delivery) {
        let event_id = delivery.envelope.id.clone();
        let settled = match self.queue_event(&delivery.envelope).await {
            Ok(_) => delivery.ack().await,
            Err(FanOutError::Undecodable(error)) => {
                tracing::error!(%event_id, %error, "dropping an event that does not decode");
                delivery.ack().await
            }
            Err(error) => {
                tracing::warn!(%event_id, %error, "fan-out failed; the event comes again");
                delivery.nak(REDELIVER_AFTER).await
            }
        };
        if let Err(error) = settled {
            // Unacknowledged, the bus offers it again; the deliveries are not queued twice.
            tracing::warn!(%event_id, %error, "could not settle an event with the bus");
        }
    }

    /// Queues `event` for every subscribed, enabled endpoint of the apps it belongs to;
    /// answers how many deliveries are new.
    async fn queue_event(&self, event: &Envelope) -> Result<usize, FanOutError> {
        let decoded = event.event()?;
        let now = self.inner.clock.now();
        let owners = self
            .inner
            .router
            .owners(&self.inner.db, &decoded, now)
            .await?;
        if owners.is_empty() {
            return Ok(0);
        }
        let mut queue = Vec::new();
        for app in owners {
            for endpoint in webhooks::subscribed(&self.inner.db, &app, &event.event_type).await? {
                queue.push(NewDelivery {
                    id: DeliveryId::new_monotonic(now),
                    endpoint_id: endpoint.id,
                    app_id: app.clone(),
                    event_id: event.id.clone(),
                    event_type: event.event_type.clone(),
                    payload: event.payload.clone(),
                    origin: DeliveryOrigin::Event,
                    event_created_at: event.created_at,
                    created_at: now,
                });
            }
        }
        // One statement: all of the event's deliveries, or none and the event comes again.
        let queued = deliveries::queue_from_stream(&self.inner.db, &queue).await?;
        if queued > 0 {
            self.inner.wake.notify_one();
        }
        Ok(usize::try_from(queued).unwrap_or(usize::MAX))
    }

    /// Fans out every outbox event of the recovery window again (deliveries already queued
    /// are not queued twice).
    async fn recover(&self) -> Result<(), FanOutError> {
        let Some(window) = self.inner.settings.recover_window else {
            return Ok(());
        };
        let since = self.inner.clock.now() - window;
        let mut after = None;
        loop {
            let page =
                outbox::between(&self.inner.db, since, None, after.as_ref(), RECOVER_PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.id.clone());
            for event in page {
                let envelope = Envelope::from(event);
                match self.queue_event(&envelope).await {
                    Err(FanOutError::Undecodable(error)) => {
                        tracing::error!(event_id = %envelope.id, %error, "skipping an undecodable event");
                    }
                    other => {
                        other?;
                    }
                }
            }
        }
    }
}
