//! The NATS JetStream bus: the [`EventBus`] of a platform that runs with `WEKEZA_NATS_URL`, so
//! events survive restarts and several processes share the work.
//!
//! - **Stream:** one stream (default `WEKEZA_EVENTS`) captures `<root>.>`, where the root is
//!   `wekeza.events` in production (a test uses its own root and stream, so tests run side by
//!   side on one server). It is created at start-up if missing, idempotently, with the
//!   configured retention (limits), max age, duplicate window and replicas ([`JetStreamSettings`]).
//! - **Publish:** each event goes to `<root>.<aggregate>.<event>` with `Nats-Msg-Id` = its
//!   `evt_…` id, so the server drops a republished event inside the duplicate window (the
//!   relay republishes what it could not mark after a crash). `publish` returns only after the
//!   server's publish ack: the relay marks the outbox row after that, never before.
//! - **Subscribe:** a named subscription is a durable pull consumer with explicit acks: every
//!   process subscribing under the same name shares its events (work queue), an unacknowledged
//!   event is redelivered after `ack_wait`, a nak'ed one after its delay. A new consumer starts
//!   with the events published from then on (deliver policy `new`), as on the in-process bus.

use std::time::Duration;

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use wekeza_store::outbox::SUBJECT_PREFIX;

use crate::bus::{
    Acknowledge, BusError, Delivery, DeliverySource, Envelope, EventBus, Subscription,
};

/// The header carrying the event's `evt_…` id: JetStream deduplicates on it.
const MSG_ID: &str = "Nats-Msg-Id";
/// The header carrying when the change happened (RFC 3339, UTC).
const CREATED_AT: &str = "Wekeza-Created-At";

/// How the JetStream bus is laid out on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamSettings {
    /// The server, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// The stream's name.
    pub stream: String,
    /// The first tokens of every subject, `wekeza.events` unless a test isolates itself.
    pub subject_root: String,
    /// How long the stream keeps events.
    pub max_age: Duration,
    /// How long the server remembers a `Nats-Msg-Id` to drop its duplicates.
    pub duplicate_window: Duration,
    /// Copies of the stream in a cluster (1 on a single server).
    pub replicas: usize,
    /// How long a delivery may stay unacknowledged before it is delivered again.
    pub ack_wait: Duration,
}

impl JetStreamSettings {
    /// The production layout on the server at `url`: stream `WEKEZA_EVENTS`, root
    /// `wekeza.events`, events kept 7 days, duplicates dropped for 2 minutes, one replica,
    /// redelivery after 30 s.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: "WEKEZA_EVENTS".to_owned(),
            subject_root: SUBJECT_PREFIX.trim_end_matches('.').to_owned(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
            ack_wait: Duration::from_secs(30),
        }
    }

    /// `subject` (`wekeza.events.…`, or a filter of that form) under this bus's root.
    fn local(&self, subject: &str) -> String {
        match subject.strip_prefix(SUBJECT_PREFIX) {
            Some(rest) => format!("{}.{rest}", self.subject_root),
            None => subject.to_owned(),
        }
    }

    /// A subject of this bus's root back in its platform form, `wekeza.events.…`.
    fn platform(&self, subject: &str) -> String {
        match subject
            .strip_prefix(self.subject_root.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
        {
            Some(rest) => format!("{SUBJECT_PREFIX}{rest}"),
            None => subject.to_owned(),
        }
    }
}

/// The JetStream bus.
#[derive(Clone)]
pub struct JetStreamBus {
    settings: JetStreamSettings,
    context: jetstream::Context,
    stream: stream::Stream,
}

impl std::fmt::Debug for JetStreamBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamBus")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn unavailable(error: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(error.to_string())
}

impl JetStreamBus {
    /// Connects to the server and makes sure the stream exists.
    pub async fn connect(settings: JetStreamSettings) -> Result<Self, BusError> {
        let client = async_nats::connect(&settings.url)
            .await
            .map_err(unavailable)?;
        let context = jetstream::new(client);
        let stream = context
            .get_or_create_stream(stream::Config {
                name: settings.stream.clone(),
                subjects: vec![format!("{}.>", settings.subject_root)],
                retention: stream::RetentionPolicy::Limits,
                storage: stream::StorageType::File,
                max_age: settings.max_age,
                duplicate_window: settings.duplicate_window,
                num_replicas: settings.replicas,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        Ok(Self {
            settings,
            context,
            stream,
        })
    }

    /// The layout it was connected with.
    pub fn settings(&self) -> &JetStreamSettings {
        &self.settings
    }
}

impl JetStreamBus {
    /// Sends `event` to the server; the future answers its publish ack.
    async fn send(&self, event: &Envelope) -> Result<PublishAckFuture, BusError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(MSG_ID, event.id.as_str());
        headers.insert(CREATED_AT, event.created_at.to_rfc3339().as_str());
        self.context
            .publish_with_headers(
                self.settings.local(&event.subject),
                headers,
                event.payload.clone().into(),
            )
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl EventBus for JetStreamBus {
    async fn publish(&self, event: &Envelope) -> Result<(), BusError> {
        // The server's ack: the event is stored (or was already, as a duplicate).
        self.send(event).await?.await.map_err(unavailable)?;
        Ok(())
    }

    /// Sends every event, in order on the one connection, before waiting for any ack: one
    /// round trip for the batch instead of one per event. The acks are read in order, so what
    /// is answered is the prefix the server stored.
    async fn publish_all(&self, events: &[Envelope]) -> (usize, Result<(), BusError>) {
        let mut acks = Vec::with_capacity(events.len());
        let mut sent = Ok(());
        for event in events {
            match self.send(event).await {
                Ok(ack) => acks.push(ack),
                Err(error) => {
                    sent = Err(error);
                    break;
                }
            }
        }
        let all_sent = acks.len();
        for (stored, ack) in acks.into_iter().enumerate() {
            if let Err(error) = ack.await {
                return (stored, Err(unavailable(error)));
            }
        }
        (all_sent, sent)
    }

    async fn subscribe(&self, consumer: &str, filter: &str) -> Result<Subscription, BusError> {
        let filter = self.settings.local(filter);
        let pull: consumer::PullConsumer = self
            .stream
            .get_or_create_consumer(
                consumer,
                consumer::pull::Config {
                    durable_name: Some(consumer.to_owned()),
                    filter_subject: filter.clone(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.settings.ack_wait,
                    deliver_policy: consumer::DeliverPolicy::New,
                    ..Default::default()
                },
            )
            .await
            .map_err(unavailable)?;
        let existing = pull.cached_info().config.filter_subject.clone();
        if existing != filter {
            return Err(BusError::InvalidSubscription(format!(
                "consumer {consumer} already filters {existing}, not {filter}"
            )));
        }
        let messages = pull.messages().await.map_err(unavailable)?;
        Ok(Subscription::new(Box::new(JetStreamSource {
            settings: self.settings.clone(),
            messages,
        })))
    }
}

struct JetStreamSource {
    settings: JetStreamSettings,
    messages: consumer::pull::Stream,
}

impl std::fmt::Debug for JetStreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamSource").finish_non_exhaustive()
    }
}

impl JetStreamSource {
    /// The envelope a message carries; `None` for a message no Wekeza publisher sent.
    fn envelope(&self, message: &jetstream::Message) -> Option<Envelope> {
        let headers = message.headers.as_ref()?;
        let id = headers.get(MSG_ID)?.as_str().parse().ok()?;
        let created_at = DateTime::parse_from_rfc3339(headers.get(CREATED_AT)?.as_str())
            .ok()?
            .with_timezone(&Utc);
        let subject = self.settings.platform(message.subject.as_str());
        let event_type = subject.strip_prefix(SUBJECT_PREFIX)?.to_owned();
        Some(Envelope {
            id,
            subject,
            event_type,
            payload: message.payload.to_vec(),
            created_at,
        })
    }
}

#[async_trait]
impl DeliverySource for JetStreamSource {
    async fn next(&mut self) -> Option<Delivery> {
        loop {
            let message = match self.messages.next().await? {
                Ok(message) => message,
                Err(error) => {
                    // Heartbeats missed, the server restarting: the stream reconnects itself.
                    tracing::warn!(%error, "event subscription interrupted; resuming");
                    continue;
                }
            };
            match self.envelope(&message) {
                Some(envelope) => {
                    return Some(Delivery::new(envelope, Box::new(JetStreamAck { message })));
                }
                None => {
                    tracing::warn!(subject = %message.subject, "not a platform event; dropped");
                    if let Err(error) = message.ack_with(jetstream::AckKind::Term).await {
                        tracing::warn!(%error, "could not drop a foreign message");
                    }
                }
            }
        }
    }
}

/// Acknowledges a JetStream message; dropped unanswered, the server redelivers it after
/// `ack_wait`.
struct JetStreamAck {
    message: jetstream::Message,
}

impl std::fmt::Debug for JetStreamAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamAck").finish_non_exhaustive()
    }
}

#[async_trait]
impl Acknowledge for JetStreamAck {
    async fn ack(self: Box<Self>) -> Result<(), BusError> {
        self.message.double_ack().await.map_err(unavailable)
    }

    async fn nak(self: Box<Self>, delay: Duration) -> Result<(), BusError> {
        self.message
            .ack_with(jetstream::AckKind::Nak(Some(delay)))
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_subjects_map_onto_the_buses_root_and_back() {
        let mut settings = JetStreamSettings::new("nats://127.0.0.1:4222");
        assert_eq!(
            settings.local("wekeza.events.payment.status_changed"),
            "wekeza.events.payment.status_changed"
        );
        settings.subject_root = "test_01.events".to_owned();
        assert_eq!(
            settings.local("wekeza.events.payment.status_changed"),
            "test_01.events.payment.status_changed"
        );
        assert_eq!(settings.local("wekeza.events.>"), "test_01.events.>");
        assert_eq!(
            settings.platform("test_01.events.consent.status_changed"),
            "wekeza.events.consent.status_changed"
        );
    }
}
