//! Risk scoring of every payment before it is posted.
//!
//! Owns the [`RiskAssessor`] the payment service calls with a [`PaymentAttempt`] and gets an
//! [`Assessment`] from — a score from 0 to 100, a [`Decision`] (allow, step-up, reject), the
//! reasons for the audit trail and who decided — and the two assessors behind it:
//!
//! - the embedded [`RulesEngine`] (the default): amount anomaly against the customer's own
//!   history, velocity, new payee, unusual hour, device/IP signals and a creditor blocklist,
//!   each adding points; a [`Policy`] turns the score into a decision;
//! - the [`ExternalRiskAssessor`], which asks the bank's fraud system over `wekeza.fraud.v1`
//!   within a deadline and, when it times out or fails, falls back to the rules engine under a
//!   [`FallbackPolicy`] (by default: the rules, but at least a step-up).
//!
//! The customer's history comes through the [`RiskHistory`] seam, which the payment service
//! implements over storage; time comes in as `now`. The reasons never reach the TPP: a rejected
//! payment is answered with `FRAUD_SUSPECTED` alone, by the payment service.
//!
//! In the sandbox, magic amounts and creditor names force outcomes; every magic value of the
//! platform is listed in [`sandbox`]:
//!
//! | Trigger                       | Outcome                                       |
//! |-------------------------------|-----------------------------------------------|
//! | amount `13.13`                | rejected, `FRAUD_SUSPECTED` (fraud)           |
//! | creditor name `Fraudster Ltd` | rejected, `FRAUD_SUSPECTED` (fraud)           |
//! | amount `42.42`                | step-up authentication required (fraud)       |
//! | amount `99.99`                | `INSUFFICIENT_FUNDS` (payment service)        |
//! | amount `66.66`                | settlement fails, payment `REJECTED` (payment service) |
//! | amount `77.77`                | held `PENDING` until the sandbox's `SimulatePaymentStatus` moves it (settlement) |
//!
//! Depends on `domain` and the generated `wekeza.fraud.v1` client only: no storage, no service
//! crate. Services depend on it, not the reverse.
//!
//! # Layout
//! - this file: the [`RiskAssessor`] trait, [`build_assessor`] and the crate's [`Error`].
//! - [`model`] — [`PaymentAttempt`], [`Assessment`], [`Decision`], [`Source`], reason [`codes`].
//! - [`history`] — the [`RiskHistory`] seam.
//! - [`config`] — [`FraudConfig`], serde-deserializable with defaults (`[fraud]` in the server's
//!   configuration).
//! - [`policy`] — score thresholds and the fallback policy.
//! - [`rules`] — the embedded rules engine.
//! - [`external`] — the client of the bank's fraud system.
//! - [`sandbox`] — the magic values table.
//! - `blocklist` — IP/CIDR and creditor matching.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

mod blocklist;
pub mod config;
pub mod external;
pub mod history;
pub mod model;
pub mod policy;
pub mod rules;
pub mod sandbox;

pub use config::{ExternalConfig, FraudConfig, RulesConfig};
pub use external::ExternalRiskAssessor;
pub use history::{PastDebit, RiskHistory};
pub use model::{
    Assessment, Creditor, Decision, MAX_SCORE, PaymentAttempt, RiskReason, Source, codes,
};
pub use policy::{FallbackPolicy, Policy};
pub use rules::RulesEngine;

/// What can go wrong in this crate. Neither reaches a client: a bad configuration stops the
/// server at start-up, and an unreadable history makes the engine ask for a step-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The fraud configuration cannot work; the message names the setting.
    #[error("invalid fraud configuration: {0}")]
    InvalidConfig(String),
    /// A [`RiskHistory`] implementation could not answer.
    #[error("risk history unavailable")]
    HistoryUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Scores a payment. The payment service holds one (`Arc<dyn RiskAssessor>`, from
/// [`build_assessor`]) and calls it before posting every payment.
///
/// Never fails: when a source of information is missing (the history, the bank's fraud
/// system) the assessment says so in its reasons and decides conservatively.
#[async_trait]
pub trait RiskAssessor: Send + Sync + std::fmt::Debug {
    /// Scores `attempt` against the customer's `history`, as of `now`.
    async fn assess(
        &self,
        attempt: &PaymentAttempt,
        history: &dyn RiskHistory,
        now: DateTime<Utc>,
    ) -> Assessment;
}

/// The assessor `config` asks for: the [`ExternalRiskAssessor`] when `external.addr` is set,
/// the [`RulesEngine`] otherwise. Validates the configuration; must be called inside a Tokio
/// runtime (the external client's channel is created here, connected on first use).
pub fn build_assessor(config: &FraudConfig) -> Result<Arc<dyn RiskAssessor>, Error> {
    Ok(match config.external.addr() {
        Some(_) => Arc::new(ExternalRiskAssessor::connect_lazy(config)?),
        None => Arc::new(RulesEngine::new(config)?),
    })
}
