//! Events: how state changes leave the database.
//!
//! Owns the [`EventBus`] seam, its in-process implementation ([`InProcessBus`], the embedded
//! default; NATS JetStream plugs in behind the same trait) and the [`OutboxRelay`], which moves
//! events from the transactional outbox (written by the services in the same transaction as the
//! change they describe) onto the bus. Nothing acknowledged to a client is lost: an event is
//! marked published only after the bus accepted it, and the relay drains whatever is left at
//! start-up, so a crash between commit and publish only delays the event. Delivery is therefore
//! at-least-once; consumers deduplicate by the stable `evt_…` id.
//!
//! Depends on `domain` and `store`; never on a service crate.
//!
//! # Layout
//! - [`bus`] — the [`EventBus`] trait, [`Envelope`] and the in-process bus.
//! - [`relay`] — the outbox relay.

pub mod bus;
pub mod relay;

pub use bus::{BusError, Envelope, EventBus, InProcessBus};
pub use relay::OutboxRelay;
