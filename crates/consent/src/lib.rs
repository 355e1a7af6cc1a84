//! The Consent service: what customers allow apps to do.
//!
//! Owns the tonic implementation of `ConsentService` — creating consents (idempotently, per
//! `Idempotency-Key`), reading and revoking an app's own consents, the consents a customer
//! gave the calling app, and funds confirmation —, the [`ExpirySweeper`] that writes down consents
//! whose expiration time passed. Whether a transition is allowed is decided by
//! [`wekeza_domain::Consent`]; every change is written with its `consent.status_changed` event
//! through [`wekeza_events::record`], the writer identity and the payment service use too;
//! storage is `wekeza-store`'s; balances come from the
//! [`CoreBanking`](wekeza_ledger::CoreBanking) seam.
//!
//! Depends on `domain`, `rpc`, `store`, `events` and `ledger`; never on another service crate.
//!
//! # Layout
//! - [`service`] — `ConsentService` ([`Consents`]).
//! - [`expiry`] — the [`ExpirySweeper`], writing down consents whose expiration time passed.
//! - [`error`] — the crate's [`Error`], each variant with its stable reason.
//! - `validate` — `CreateConsentRequest` → consent terms, with field violations.
//! - `convert` — domain consents → wire messages.

mod convert;
pub mod error;
pub mod expiry;
pub mod service;
mod validate;

pub use error::Error;
pub use expiry::ExpirySweeper;
pub use service::Consents;
