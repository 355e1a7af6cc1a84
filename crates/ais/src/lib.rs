//! Account Information (AIS) and the customer profile: the read side of open banking.
//!
//! Owns the tonic implementations of `AccountInformationService` and `CustomerService`. Every
//! handler starts from the caller's consent (`RequestExt::customer`) and answers only what that
//! consent covers: accounts outside it — or of another customer — answer NOT_FOUND, never
//! "forbidden", so ids cannot be probed. Data comes from the
//! [`CoreBanking`](wekeza_ledger::CoreBanking) seam.
//!
//! Depends on `domain`, `ledger` and `rpc`; never on another service crate.
//!
//! # Layout
//! - [`accounts`] — `AccountInformationService`.
//! - [`customers`] — `CustomerService`.
//! - [`convert`] — core-banking model → wire messages.

pub mod accounts;
mod convert;
pub mod customers;

pub use accounts::AccountInformation;
pub use customers::Customers;
