//! The event bus seam and the in-process bus.
//!
//! Subjects follow `wekeza.events.<aggregate>.<event>` (DESIGN.md); payloads are the encoded
//! `wekeza.openbanking.v1.Event` envelope, opaque here.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use wekeza_domain::EventId;

/// How many events an in-process subscriber may fall behind before it misses some.
const IN_PROCESS_CAPACITY: usize = 4096;

/// One event as it travels on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `evt_…`: stable across redeliveries, the deduplication key.
    pub id: EventId,
    /// e.g. `wekeza.events.payment.status_changed`.
    pub subject: String,
    /// e.g. `payment.status_changed`.
    pub event_type: String,
    /// The encoded event.
    pub payload: Vec<u8>,
    /// When the change happened.
    pub created_at: DateTime<Utc>,
}

/// Why the bus refused an event.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus is unreachable or refused the event; the relay retries.
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

/// Where events are published.
#[async_trait]
pub trait EventBus: Send + Sync + std::fmt::Debug {
    /// Publishes `event`; `Ok` means the bus has it (durably, for a durable bus).
    async fn publish(&self, event: &Envelope) -> Result<(), BusError>;
}

/// The embedded bus: subscribers in this process receive every event published after they
/// subscribed. Not durable — it is the single-process default; the relay's outbox is what makes
/// publication crash-safe.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<Envelope>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(IN_PROCESS_CAPACITY);
        Self { sender }
    }
}

impl InProcessBus {
    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.sender.subscribe()
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, event: &Envelope) -> Result<(), BusError> {
        // No subscriber is not an error: in-process events are fire-and-forget.
        let _receivers = self.sender.send(event.clone());
        Ok(())
    }
}
