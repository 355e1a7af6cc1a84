//! The Sandbox service: shortcuts that stand in for the customer and the bank, so an app can be
//! tested end to end without a browser or a phone. Every rpc exists only while the platform
//! runs as a sandbox (the gateway's access policy refuses them elsewhere, `sandbox_only`) and
//! is called with the app's own client-credentials token.
//!
//! Owns the tonic implementation of `SandboxService`:
//! - `AuthorizeConsent` — decides one of the app's consents as a test user would on the consent
//!   screen (choosing the accounts to bind when the app names none) and answers the
//!   authorization response; the decision and the code are recorded by the authorization
//!   server's own authorisation step, reached through the [`Authority`] port.
//! - `ListTestUsers` — the seeded test users with their credentials and current TOTP code.
//! - `ResetSandbox` — removes the calling app's consents (with their tokens), payments and
//!   idempotency records, and takes back what its payments did to the test users' shared
//!   accounts (`wekeza_sandbox_bank::undo`); other apps' data stays.
//! - `ApproveDecoupledAuthorization` — the test user's simulated phone: approves (binding
//!   accounts as `AuthorizeConsent` does) or denies one of the app's pending CIBA requests,
//!   recorded through the [`Authority`] port as well.
//! - `FireEvent` — an event of any type about one of the app's resources as it is now, or
//!   with sample data, through the real outbox and bus, addressed to the app alone.
//! - `SimulatePaymentStatus` — moves one of the app's payments held for simulation (the magic
//!   amount `77.77`, which settlement leaves alone) along the payment lifecycle, through the
//!   settlement worker's own steps ([`wekeza_events::PaymentSteps`]): the same ledger postings
//!   and events as a real settlement.
//!
//! Depends on `domain`, `rpc`, `store`, `events`, `ledger` (the
//! [`CoreBanking`](wekeza_ledger::CoreBanking) seam), `fraud` (the magic values) and
//! `sandbox-bank` (the seed's test users, and undoing an app's payments on the sandbox's
//! ledger); never on another service crate, nor on identity: the server's wiring implements the
//! [`Authority`] port over it.
//!
//! # Layout
//! - [`service`] — `SandboxService` ([`Sandbox`]).
//! - [`authority`] — the [`Authority`] port to the authorization server.
//! - `accounts` — which accounts a test user binds when the app names none.
//! - `fire` — the events `FireEvent` publishes.
//! - `simulate` — the steps `SimulatePaymentStatus` takes.
//! - `reset` — what `ResetSandbox` removes and takes back.
//! - [`error`] — the crate's [`Error`], each variant with its stable reason.

mod accounts;
pub mod authority;
pub mod error;
mod fire;
mod reset;
pub mod service;
mod simulate;

pub use authority::{Authority, AuthorityError, RequestParams};
pub use error::Error;
pub use service::Sandbox;
