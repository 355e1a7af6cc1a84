//! Webhooks: where apps receive events, and how events get there.
//!
//! Owns:
//! - the tonic implementation of `WebhookService` ([`Webhooks`]): an app's endpoints
//!   (registered idempotently per `Idempotency-Key`, read, listed, changed, deleted), their
//!   signing secrets — shown once, sealed at rest under the key-encryption key
//!   ([`wekeza_store::sealing`]), rotated with an overlap — and the delivery log with retries,
//!   replays and test events ([`log`]);
//! - the [`Dispatcher`] ([`dispatch`]): a durable bus subscription fanning each event out to
//!   the subscribed endpoints of the apps it belongs to, and a sender POSTing each delivery per
//!   Standard Webhooks ([`signature`], [`body`]) with retries, dead letters and endpoint
//!   health;
//! - the SSRF guard ([`target`]): outside the sandbox, https to public addresses only, checked
//!   at registration and at every delivery.
//!
//! Endpoints subscribe to the event types of [`wekeza_events::catalogue`]; storage is
//! `wekeza-store`'s ([`wekeza_store::webhooks`], [`wekeza_store::deliveries`]).
//!
//! Depends on `domain`, `rpc`, `store` and `events`; never on another service crate nor on
//! identity.
//!
//! # Layout
//! - [`service`] — `WebhookService` ([`Webhooks`]): endpoints and secrets.
//! - [`log`] — its delivery rpcs: the log, retry, replay, test events.
//! - [`dispatch`] — the dispatcher: fan-out, routing, sending, the retry schedule.
//! - [`signature`], [`body`] — what a delivery carries: the signature header and the JSON.
//! - [`error`] — the crate's [`Error`], each variant with its stable reason.
//! - `validate` — request fields → endpoint values (URL, event types), with field violations.
//! - [`target`] — the SSRF guard.

pub mod body;
pub mod dispatch;
pub mod error;
pub mod log;
pub mod service;
pub mod signature;
pub mod target;
mod validate;

pub use dispatch::{DispatchSettings, Dispatcher, RetrySchedule};
pub use error::Error;
pub use service::{PREVIOUS_SECRET_VALID_FOR, Webhooks};
