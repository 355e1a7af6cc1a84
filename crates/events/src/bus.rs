//! The event bus seam — publish, and subscribe with acknowledgements — and the in-process bus.
//!
//! Subjects follow `wekeza.events.<aggregate>.<event>` (see [`crate::catalogue`]); payloads are
//! the encoded `wekeza.openbanking.v1.Event` envelope.
//!
//! Subscriptions have the semantics of a durable JetStream consumer, so consumers written
//! against the in-process bus behave the same on NATS:
//! - A subscription is named. Subscribers under the same name share its events — each event goes
//!   to one of them (work-queue) — and subscribers under different names each get every event.
//! - It receives the events published, from the moment the name was first subscribed, on
//!   subjects matching its filter (NATS wildcards: `*` one token, `>` the rest).
//! - Delivery is at-least-once: a [`Delivery`] must be [`ack`](Delivery::ack)ed. One
//!   [`nak`](Delivery::nak)ed — or dropped unacknowledged, e.g. by a consumer that failed — is
//!   delivered again. Consumers deduplicate by the event's stable `evt_…` id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prost::Message;
use tokio::sync::mpsc;
use wekeza_domain::EventId;
use wekeza_proto::v1 as pb;
use wekeza_store::outbox::OutboxEvent;

use crate::catalogue::EventType;

/// One event as it travels on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `evt_…`: stable across redeliveries, the deduplication key.
    pub id: EventId,
    /// e.g. `wekeza.events.payment.status_changed`.
    pub subject: String,
    /// e.g. `payment.status_changed`.
    pub event_type: String,
    /// The encoded `wekeza.openbanking.v1.Event`.
    pub payload: Vec<u8>,
    /// When the change happened.
    pub created_at: DateTime<Utc>,
}

impl Envelope {
    /// The event's type, if the catalogue knows it.
    pub fn kind(&self) -> Option<EventType> {
        EventType::parse(&self.event_type)
    }

    /// The decoded event.
    pub fn event(&self) -> Result<pb::Event, prost::DecodeError> {
        pb::Event::decode(self.payload.as_slice())
    }
}

impl From<OutboxEvent> for Envelope {
    fn from(event: OutboxEvent) -> Self {
        Self {
            id: event.id,
            subject: event.subject,
            event_type: event.event_type,
            payload: event.payload,
            created_at: event.created_at,
        }
    }
}

/// Why the bus refused.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus is unreachable or refused the event; the relay retries.
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
    /// A subscription asked for something the bus cannot give (e.g. one name, two filters).
    #[error("invalid subscription: {0}")]
    InvalidSubscription(String),
}

/// Where events are published, and where consumers subscribe.
#[async_trait]
pub trait EventBus: Send + Sync + std::fmt::Debug {
    /// Publishes `event`; `Ok` means the bus has it (durably, for a durable bus).
    async fn publish(&self, event: &Envelope) -> Result<(), BusError>;

    /// Publishes `events` in order; answers how many of them, from the first, the bus has
    /// (all of them, or those before the first that failed, with that failure). A bus that
    /// confirms each event with a round trip overrides this to keep several in flight.
    async fn publish_all(&self, events: &[Envelope]) -> (usize, Result<(), BusError>) {
        for (published, event) in events.iter().enumerate() {
            if let Err(error) = self.publish(event).await {
                return (published, Err(error));
            }
        }
        (events.len(), Ok(()))
    }

    /// The named subscription `consumer` to the subjects matching `filter` (see the module doc
    /// for its semantics). Subscribing again under the same name and filter shares the work.
    async fn subscribe(&self, consumer: &str, filter: &str) -> Result<Subscription, BusError>;
}

/// Acknowledges one delivery to the bus it came from.
#[async_trait]
pub trait Acknowledge: Send + std::fmt::Debug {
    /// Done: never deliver it again.
    async fn ack(self: Box<Self>) -> Result<(), BusError>;
    /// Not done: deliver it again after `delay`.
    async fn nak(self: Box<Self>, delay: Duration) -> Result<(), BusError>;
}

/// The next deliveries of a subscription, from whichever bus.
#[async_trait]
pub trait DeliverySource: Send + std::fmt::Debug {
    /// The next delivery; `None` when the bus closed the subscription.
    async fn next(&mut self) -> Option<Delivery>;
}

/// A subscription's stream of deliveries.
#[derive(Debug)]
pub struct Subscription {
    source: Box<dyn DeliverySource>,
}

impl Subscription {
    /// A subscription reading from `source` (for bus implementations).
    pub fn new(source: Box<dyn DeliverySource>) -> Self {
        Self { source }
    }

    /// The next delivery; `None` when the bus closed the subscription.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.source.next().await
    }
}

/// One event delivered to a subscriber, to be acknowledged.
#[derive(Debug)]
pub struct Delivery {
    /// The event.
    pub envelope: Envelope,
    acknowledge: Box<dyn Acknowledge>,
}

impl Delivery {
    /// `envelope`, acknowledged through `acknowledge` (for bus implementations).
    pub fn new(envelope: Envelope, acknowledge: Box<dyn Acknowledge>) -> Self {
        Self {
            envelope,
            acknowledge,
        }
    }

    /// Handled: the bus will not deliver it again.
    pub async fn ack(self) -> Result<(), BusError> {
        self.acknowledge.ack().await
    }

    /// Not handled: the bus delivers it again after `delay`.
    pub async fn nak(self, delay: Duration) -> Result<(), BusError> {
        self.acknowledge.nak(delay).await
    }
}

/// Whether `subject` matches the NATS-style `filter`: tokens separated by `.`, `*` matches one
/// token, a final `>` one or more.
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for token in filter.split('.') {
        match (token, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (literal, Some(actual)) if literal == actual => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// The embedded bus: consumers in this process, with the subscription semantics of the module
/// doc. Not durable across restarts — it is the single-process default; the outbox is what
/// makes publication crash-safe, and unacknowledged deliveries are redelivered while the
/// process lives. Queues are unbounded: a consumer that falls behind costs memory, never a
/// lost event.
#[derive(Debug, Clone, Default)]
pub struct InProcessBus {
    /// Named subscriptions: their filter and the queue their subscribers share.
    consumers: Arc<Mutex<HashMap<String, Consumer>>>,
}

#[derive(Debug, Clone)]
struct Consumer {
    filter: String,
    queue: mpsc::UnboundedSender<Envelope>,
    shared: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Envelope>>>,
}

impl InProcessBus {
    fn consumers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Consumer>> {
        // A poisoned lock only means another thread panicked while holding it; the map itself
        // is always consistent (single inserts).
        self.consumers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, event: &Envelope) -> Result<(), BusError> {
        for consumer in self.consumers().values() {
            if subject_matches(&consumer.filter, &event.subject) {
                // The receiver lives as long as the consumer entry: sending cannot fail.
                let _sent = consumer.queue.send(event.clone());
            }
        }
        Ok(())
    }

    async fn subscribe(&self, consumer: &str, filter: &str) -> Result<Subscription, BusError> {
        let mut consumers = self.consumers();
        let entry = match consumers.get(consumer) {
            Some(existing) if existing.filter != filter => {
                return Err(BusError::InvalidSubscription(format!(
                    "consumer {consumer} already filters {}, not {filter}",
                    existing.filter
                )));
            }
            Some(existing) => existing.clone(),
            None => {
                let (queue, receiver) = mpsc::unbounded_channel();
                let created = Consumer {
                    filter: filter.to_owned(),
                    queue,
                    shared: Arc::new(tokio::sync::Mutex::new(receiver)),
                };
                consumers.insert(consumer.to_owned(), created.clone());
                created
            }
        };
        Ok(Subscription::new(Box::new(InProcessSource {
            requeue: entry.queue,
            shared: entry.shared,
        })))
    }
}

#[derive(Debug)]
struct InProcessSource {
    requeue: mpsc::UnboundedSender<Envelope>,
    shared: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Envelope>>>,
}

#[async_trait]
impl DeliverySource for InProcessSource {
    async fn next(&mut self) -> Option<Delivery> {
        let envelope = self.shared.lock().await.recv().await?;
        let acknowledge = InProcessAck {
            envelope: Some(envelope.clone()),
            requeue: self.requeue.clone(),
        };
        Some(Delivery::new(envelope, Box::new(acknowledge)))
    }
}

/// Requeues its event unless acknowledged — also when dropped unanswered.
#[derive(Debug)]
struct InProcessAck {
    /// The event until it is acknowledged.
    envelope: Option<Envelope>,
    requeue: mpsc::UnboundedSender<Envelope>,
}

impl Drop for InProcessAck {
    fn drop(&mut self) {
        if let Some(envelope) = self.envelope.take() {
            let _requeued = self.requeue.send(envelope);
        }
    }
}

#[async_trait]
impl Acknowledge for InProcessAck {
    async fn ack(mut self: Box<Self>) -> Result<(), BusError> {
        self.envelope = None;
        Ok(())
    }

    async fn nak(mut self: Box<Self>, delay: Duration) -> Result<(), BusError> {
        if let Some(envelope) = self.envelope.take() {
            let requeue = self.requeue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _requeued = requeue.send(envelope);
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_like_nats_subjects() {
        let subject = "wekeza.events.payment.status_changed";
        assert!(subject_matches(subject, subject));
        assert!(subject_matches("wekeza.events.>", subject));
        assert!(subject_matches("wekeza.events.*.status_changed", subject));
        assert!(subject_matches("wekeza.events.payment.*", subject));
        assert!(!subject_matches("wekeza.events.consent.*", subject));
        assert!(!subject_matches("wekeza.events.payment", subject));
        assert!(!subject_matches(
            "wekeza.events.payment.status_changed.x",
            subject
        ));
        assert!(!subject_matches("wekeza.>", "wekeza"));
    }
}
