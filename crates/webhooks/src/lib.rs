//! The Webhooks service: where apps receive events.
//!
//! Owns the tonic implementation of `WebhookService`: registering an app's endpoints
//! (idempotently, per `Idempotency-Key`), reading, listing, changing and deleting them, and
//! issuing and rotating their signing secrets — shown once, sealed at rest under the
//! key-encryption key ([`wekeza_store::sealing`]). Endpoints subscribe to the event types of
//! [`wekeza_events::catalogue`]; storage is `wekeza-store`'s ([`wekeza_store::webhooks`]).
//! Delivering events to the endpoints (deliveries, retries, replays, test events) is the
//! dispatcher's, which is not here yet: those rpcs answer UNIMPLEMENTED.
//!
//! Depends on `domain`, `rpc`, `store` and `events`; never on another service crate nor on
//! identity.
//!
//! # Layout
//! - [`service`] — `WebhookService` ([`Webhooks`]).
//! - [`error`] — the crate's [`Error`], each variant with its stable reason.
//! - `validate` — request fields → endpoint values (URL, event types), with field violations.
//! - [`target`] — the SSRF guard: outside the sandbox, https to public addresses only.

pub mod error;
pub mod service;
pub mod target;
mod validate;

pub use error::Error;
pub use service::{PREVIOUS_SECRET_VALID_FOR, Webhooks};
