//! The outbox relay: publishes committed outbox events in id order and marks them published.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wekeza_domain::Clock;
use wekeza_rpc::worker::{Schedule, run_every};
use wekeza_store::DatabaseConnection;
use wekeza_store::outbox;

use crate::bus::{Envelope, EventBus};

/// Events read per round trip.
const BATCH: u64 = 256;

/// Why a relay round failed; the loop logs it and tries again.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or marking the outbox failed.
    #[error(transparent)]
    Store(#[from] wekeza_store::Error),
    /// The bus refused an event.
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
}

/// Moves outbox events onto the bus.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    /// How long to wait between polls when the outbox is empty.
    idle: Duration,
}

impl OutboxRelay {
    /// A relay from `db`'s outbox to `bus`, polling every `idle` when there is nothing to do.
    pub fn new(
        db: DatabaseConnection,
        bus: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
        idle: Duration,
    ) -> Self {
        Self {
            db,
            bus,
            clock,
            idle,
        }
    }

    /// Publishes everything unpublished, oldest first, a batch at a time; returns how many
    /// events it published. An event is marked published only after the bus accepted it, so a
    /// failure part-way leaves the rest for the next call.
    pub async fn drain(&self) -> Result<usize, RelayError> {
        let mut published = 0;
        loop {
            let batch = outbox::unpublished(&self.db, BATCH).await?;
            if batch.is_empty() {
                return Ok(published);
            }
            let events: Vec<Envelope> = batch.into_iter().map(Envelope::from).collect();
            let (stored, outcome) = self.bus.publish_all(&events).await;
            let ids: Vec<_> = events[..stored]
                .iter()
                .map(|event| event.id.clone())
                .collect();
            outbox::mark_published(&self.db, &ids, self.clock.now()).await?;
            published += stored;
            outcome?;
        }
    }

    /// Drains at start (recovering events committed before a crash), then keeps draining
    /// until `stop` is cancelled; a failed drain (the bus or the database down) is retried
    /// with backoff.
    pub async fn run(self, stop: CancellationToken) {
        let schedule = Schedule::every(self.idle);
        run_every("outbox relay", stop, schedule, || async {
            let count = self.drain().await?;
            if count > 0 {
                tracing::debug!(count, "relayed outbox events");
            }
            Ok::<(), RelayError>(())
        })
        .await;
    }
}
