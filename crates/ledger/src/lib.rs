//! The seam between the platform and the bank's core banking system.
//!
//! Owns the [`CoreBanking`] trait — everything the API services may ask of the core — and the
//! model it speaks ([`Customer`], [`Account`], [`AccountBalance`], [`Transaction`]). The bank's
//! real core plugs in behind the trait later; today the sandbox ledger answers: a double-entry
//! ledger whose balances are always the sum of its postings.
//!
//! Must not depend on tonic or any service crate: services depend on it, not the reverse.
//!
//! # Layout
//! - this file: the trait and the model.
//! - [`SandboxLedger`] (`sandbox.rs`): the trait answered from the store's double-entry ledger,
//!   and [`SandboxLedger::post_journal`], the one way money moves in it.
//! - [`journal`] — what a journal to post looks like, and the checks made before posting.
//! - [`internal`] — the bank's own accounts (clearing, settlement, …), the other leg of every
//!   customer posting.
//! - [`seed`] — the deterministic sandbox data set and its documented [`seed::TEST_USERS`].

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wekeza_domain::{AccountId, Currency, CustomerId, Money, TransactionId};

pub mod internal;
pub mod journal;
mod sandbox;
pub mod seed;

pub use internal::InternalAccount;
pub use journal::{JournalKind, NewJournal, NewPosting, PostedJournal};
pub use sandbox::SandboxLedger;

/// Page size when a query asks for `limit: 0`.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a query gets, whatever its `limit`.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// What can go wrong asking the core.
#[derive(Debug, thiserror::Error)]
pub enum CoreBankingError {
    /// The core did not answer or failed; the caller should answer UNAVAILABLE/INTERNAL.
    #[error("core banking unavailable: {0}")]
    Unavailable(String),
    /// The account to post to does not exist.
    #[error("no such account")]
    NoSuchAccount,
    /// The debit would take the account below its overdraft limit.
    #[error("insufficient funds")]
    InsufficientFunds,
    /// A posting's currency is not its account's currency.
    #[error("currency mismatch")]
    CurrencyMismatch,
    /// A journal's postings do not sum to zero in this currency.
    #[error("journal does not balance in {0}")]
    UnbalancedJournal(Currency),
    /// A journal without postings, or with a zero-amount posting.
    #[error("journal has no postings or a zero-amount posting")]
    EmptyJournal,
}

/// Shorthand for core-banking results.
pub type Result<T, E = CoreBankingError> = std::result::Result<T, E>;

/// A person or business the bank holds accounts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The customer's id.
    pub id: CustomerId,
    /// The sign-in name of the customer (for sandbox test users, e.g. `user_good`).
    pub username: String,
    /// Full name.
    pub full_name: String,
    /// Email address.
    pub email: String,
    /// Mobile number, E.164.
    pub phone_number: String,
    /// Postal address.
    pub address: PostalAddress,
    /// Person or business.
    pub kind: CustomerKind,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostalAddress {
    /// Street and number.
    pub address_line: String,
    /// Town or city.
    pub town_name: String,
    /// Postal code.
    pub post_code: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
}

/// Whether a customer is a person or a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKind {
    /// A person.
    Personal,
    /// A business.
    Business,
}

/// The product an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSubtype {
    /// Current (checking) account.
    CurrentAccount,
    /// Savings account.
    Savings,
}

/// Whether an account can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Open.
    Enabled,
    /// Blocked.
    Disabled,
}

/// A customer's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's id.
    pub id: AccountId,
    /// Its owner.
    pub customer_id: CustomerId,
    /// Personal or business (the owner's kind).
    pub kind: CustomerKind,
    /// The product.
    pub subtype: AccountSubtype,
    /// The currency it is held in.
    pub currency: Currency,
    /// The customer's name for it.
    pub nickname: String,
    /// Whether it can be used.
    pub status: AccountStatus,
    /// Account number, unique in the bank.
    pub account_number: String,
    /// Holder name as the bank knows it.
    pub holder_name: String,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// The overdraft limit (zero when none), a non-negative amount.
    pub overdraft_limit: Money,
}

/// An account's balances at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalance {
    /// The account.
    pub account_id: AccountId,
    /// Sum of all booked postings (negative when overdrawn).
    pub booked: Money,
    /// Booked, less holds of pending debits, plus the overdraft limit.
    pub available: Money,
    /// The overdraft limit included in `available`.
    pub overdraft_limit: Money,
    /// When it was read.
    pub as_of: DateTime<Utc>,
}

/// Whether a transaction is booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Booked.
    Booked,
    /// Pending.
    Pending,
}

/// One posting on a customer account, as its statement shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The entry's id; ids sort by booking time.
    pub id: TransactionId,
    /// The account.
    pub account_id: AccountId,
    /// Signed amount: positive is a credit, negative a debit.
    pub amount: Money,
    /// Booked or pending.
    pub status: TransactionStatus,
    /// When it was booked.
    pub booking_time: DateTime<Utc>,
    /// When the money took value.
    pub value_time: DateTime<Utc>,
    /// Statement text.
    pub description: String,
    /// Payer's or payee's reference.
    pub reference: String,
    /// Spending category, e.g. `groceries`.
    pub category: String,
    /// Merchant name, for card spending.
    pub merchant_name: Option<String>,
    /// ISO 18245 merchant category code, for card spending.
    pub merchant_category_code: Option<String>,
    /// The other party, for transfers.
    pub counterparty_name: Option<String>,
    /// The booked balance right after this entry.
    pub balance_after: Money,
}

/// Which transactions to list: newest first, keyset-paginated by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionQuery {
    /// Booked at or after.
    pub from_booking_time: Option<DateTime<Utc>>,
    /// Booked strictly before.
    pub to_booking_time: Option<DateTime<Utc>>,
    /// Only entries with ids strictly below this one (the previous page's last id).
    pub before_id: Option<TransactionId>,
    /// At most this many; 0 means [`DEFAULT_PAGE_SIZE`], and more than [`MAX_PAGE_SIZE`] is
    /// capped.
    pub limit: u32,
}

/// Which accounts to list: oldest first, keyset-paginated by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountQuery {
    /// Only these accounts (a consent's); `None` for all of the customer's.
    pub only: Option<BTreeSet<AccountId>>,
    /// Only accounts with ids strictly above this one (the previous page's last id).
    pub after_id: Option<AccountId>,
    /// At most this many; 0 means [`DEFAULT_PAGE_SIZE`], and more than [`MAX_PAGE_SIZE`] is
    /// capped.
    pub limit: u32,
}

/// Everything the platform asks of the bank's core banking system.
#[async_trait]
pub trait CoreBanking: Send + Sync + std::fmt::Debug {
    /// The customer, if it exists.
    async fn customer(&self, id: &CustomerId) -> Result<Option<Customer>>;

    /// The customer with this sign-in name, if any.
    async fn customer_by_username(&self, username: &str) -> Result<Option<Customer>>;

    /// The customer's accounts matching `query`, ordered by id ascending.
    async fn accounts(&self, customer: &CustomerId, query: &AccountQuery) -> Result<Vec<Account>>;

    /// One account, if it exists.
    async fn account(&self, id: &AccountId) -> Result<Option<Account>>;

    /// The customer account with this account number, if any (apps name debtor and creditor
    /// accounts by number).
    async fn account_by_number(&self, account_number: &str) -> Result<Option<Account>>;

    /// The account's balances now, if the account exists.
    async fn balance(&self, id: &AccountId) -> Result<Option<AccountBalance>>;

    /// The account's transactions matching `query`, ordered by id descending (newest first).
    async fn transactions(
        &self,
        account: &AccountId,
        query: &TransactionQuery,
    ) -> Result<Vec<Transaction>>;
}
