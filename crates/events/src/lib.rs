//! Events: every state change with its event, recorded in one place, and how those events
//! leave the database.
//!
//! Owns:
//! - the event **catalogue** ([`catalogue`]): every event type, its subject, its payload
//!   message and the builders of payloads and envelopes;
//! - the transactional **writers** ([`record`]): a consent or payment transition, or a ledger
//!   posting, together with its outbox row, in the caller's transaction. Every service that
//!   changes consents or payments (consent, pis, identity, the sandbox) and the sandbox bank's
//!   ledger write through them, so no service needs another service's crate to change
//!   something that service also changes;
//! - the **payment steps** ([`payment_steps`]): accept, complete (settle the hold on the
//!   ledger) and reject (release it), each with its status change and event — shared by the
//!   settlement worker and the sandbox's `SimulatePaymentStatus`;
//! - the [`EventBus`] seam with its publish and subscribe sides, and its two implementations:
//!   [`InProcessBus`], the embedded default, and [`JetStreamBus`] on NATS JetStream;
//! - the [`OutboxRelay`], which moves committed outbox events onto the bus. Nothing
//!   acknowledged to a client is lost: an event is marked published only after the bus
//!   accepted it, and the relay drains whatever is left at start-up, so a crash between commit
//!   and publish only delays the event. Delivery is therefore at-least-once; consumers
//!   deduplicate by the stable `evt_…` id;
//! - the [`OutboxPruner`], which deletes published events past their retention.
//!
//! This crate sits below the services: it depends on `domain`, `rpc` (wire forms, the worker
//! loop), `store`, `ledger` (the model of postings, the seam the payment steps call) and the
//! contracts — never on a service crate.
//!
//! # Layout
//! - [`catalogue`] — event types, subjects, payloads, envelopes.
//! - [`record`] — the writers of "state change + its event".
//! - [`payment_steps`] — [`PaymentSteps`], a payment's settlement steps over the ledger seam.
//! - [`bus`] — the [`EventBus`] trait, [`Envelope`], subscriptions and the in-process bus.
//! - [`nats`] — the JetStream bus.
//! - [`relay`] — the outbox relay.
//! - [`retention`] — the outbox's retention.
//! - `testing` (feature `testing`) — a NATS server of a test's own, for outage tests.

pub mod bus;
pub mod catalogue;
pub mod nats;
pub mod payment_steps;
pub mod record;
pub mod relay;
pub mod retention;
#[cfg(feature = "testing")]
pub mod testing;

pub use bus::{BusError, Delivery, Envelope, EventBus, InProcessBus, Subscription};
pub use catalogue::EventType;
pub use nats::{JetStreamBus, JetStreamSettings};
pub use payment_steps::{PaymentSteps, Step, StepError};
pub use relay::OutboxRelay;
pub use retention::{OUTBOX_RETENTION, OutboxPruner};
