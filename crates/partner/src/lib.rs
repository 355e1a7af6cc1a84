//! The partner service: what an app's owner sees of its commercial side.
//!
//! Owns the tonic implementation of `PartnerService` ([`Partner`]) — today its billing part:
//! the usage plans on offer, moving an app to another plan (with its history, which invoices
//! prorate by), the app's metered usage per day and per operation, and its monthly invoices
//! ([`invoice`]: plan fees prorated per day and overage per started 1,000 requests, in integer
//! minor units, with stable `inv_` ids). The developer, app management and review rpcs arrive
//! with issue 14 and answer UNIMPLEMENTED until then.
//!
//! The usage it reads is written by the gateway's metering and quotas; plans, plan history and
//! usage are `wekeza-store`'s ([`wekeza_store::plans`], [`wekeza_store::plan_changes`],
//! [`wekeza_store::usage`]).
//!
//! Depends on `domain`, `rpc` and `store`; never on another service crate nor on identity.
//!
//! # Layout
//! - [`service`] — `PartnerService` ([`Partner`]).
//! - [`invoice`] — an invoice as a pure function of plan history, terms and overage.
//! - [`billing`] — invoices from storage (used by the service and `wekeza billing export`).
//! - [`convert`] — wire forms of plans, apps, usage and invoices.
//! - [`error`] — the crate's [`Error`], each variant with its stable reason.

pub mod billing;
pub mod convert;
pub mod error;
pub mod invoice;
pub mod service;

pub use error::Error;
pub use service::Partner;

/// The rpcs the daily quota neither counts nor refuses (they are metered all the same): an app
/// whose quota is used up can still read its plans, usage and invoices, and upgrade.
pub const QUOTA_EXEMPT: [&str; 5] = [
    "/wekeza.openbanking.v1.PartnerService/ListPlans",
    "/wekeza.openbanking.v1.PartnerService/ChangePlan",
    "/wekeza.openbanking.v1.PartnerService/GetUsage",
    "/wekeza.openbanking.v1.PartnerService/ListInvoices",
    "/wekeza.openbanking.v1.PartnerService/GetInvoice",
];
