//! The sandbox's core bank: the [`CoreBanking`](wekeza_ledger::CoreBanking) seam answered from
//! the platform's own database, and the deterministic data set it starts with.
//!
//! The seam (`wekeza-ledger`) speaks domain types only; this crate is the one implementation
//! behind it today, a double-entry ledger whose balances are always the sum of its postings, in
//! the store's tables, so it depends on the store and sea-orm; every posting on a customer
//! account commits with its `account.*` events, written by `wekeza-events`' writers.
//! A real core's adapter would sit beside it and replace it in the server's wiring. Must not
//! depend on any service crate.
//!
//! # Layout
//! - [`SandboxLedger`] (`ledger.rs`): the seam answered from the store's double-entry tables,
//!   [`SandboxLedger::post_journal`] (the one way money moves besides settled holds) and
//!   [`SandboxLedger::internal_account`].
//! - [`journal`]: what a journal to post looks like ([`NewJournal`], [`NewPosting`],
//!   [`JournalKind`]), and the checks made before posting.
//! - [`internal`]: the bank's own accounts (clearing, settlement, …), the other leg of every
//!   customer posting.
//! - [`seed`]: the deterministic sandbox data set and its documented [`seed::TEST_USERS`].
//! - [`undo`]: taking back what one app's payments did to the ledger (held funds released,
//!   settlements reversed), for that app's sandbox reset.

pub mod internal;
pub mod journal;
mod ledger;
pub mod seed;
pub mod undo;

pub use internal::InternalAccount;
pub use journal::{JournalKind, NewJournal, NewPosting};
pub use ledger::SandboxLedger;
