//! The Payment Initiation service: payments made under authorised payment consents.
//!
//! Owns the tonic implementation of `PaymentService` ([`Payments`]) — creating a payment
//! idempotently (per `Idempotency-Key`), fraud-scored, with its consent consumed and its funds
//! held in one transaction, and reading it back — and the [`Settlement`] worker that moves
//! payments through `PENDING → ACCEPTED_SETTLEMENT_IN_PROCESS → ACCEPTED_SETTLEMENT_COMPLETED`
//! (or `REJECTED`) in the background, posting them to the ledger. Every status change — and
//! the consumption of the payment's consent — is written with its event in one transaction
//! through [`wekeza_events::record`], the writer the consent service uses too. Whether
//! a transition is allowed is decided by [`wekeza_domain::Payment`]; risk by `wekeza-fraud`;
//! money moves through the [`CoreBanking`](wekeza_ledger::CoreBanking) seam (see its crate doc
//! for why the hold itself is placed in this service's transaction).
//!
//! Depends on `domain`, `rpc`, `store`, `events`, `ledger` and `fraud`; never on another
//! service crate.
//!
//! # Layout
//! - [`service`] — `PaymentService` ([`Payments`]); its doc walks through `CreatePayment`.
//! - [`settlement`] — the background [`Settlement`] worker.
//! - [`history`] — the fraud checks' view of a customer's history, over storage.
//! - [`error`] — the crate's [`Error`], each variant with its stable reason.
//! - `validate` — the request against its consent, with field violations.

pub mod error;
pub mod history;
pub mod service;
pub mod settlement;
mod validate;

pub use error::Error;
pub use service::Payments;
pub use settlement::Settlement;
